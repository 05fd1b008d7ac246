"""Each loss against values computed by hand on tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.losses import (
    change_weighted_loss,
    classification_loss,
    discriminator_loss,
    generator_gan_loss,
    identity_loss,
    landmark_loss,
    reconstruction_loss,
)


def test_landmark_loss_is_mean_euclidean_distance() -> None:
    target = torch.zeros(1, 4, 2)
    predicted = torch.tensor([[[3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [0.0, -2.0]]])  # distances 5, 0, 1, 2
    assert landmark_loss(predicted, target).item() == pytest.approx(2.0)
    # batch mean too: a second item with every point 10 away
    predicted2 = torch.cat([predicted, torch.full((1, 4, 2), 0.0) + torch.tensor([6.0, 8.0])])
    assert landmark_loss(predicted2, torch.zeros(2, 4, 2)).item() == pytest.approx((2.0 + 10.0) / 2)
    with pytest.raises(LandmarkGANError, match=r"\(B, N, 2\)"):
        landmark_loss(torch.zeros(1, 68, 2), torch.zeros(1, 67, 2))


def test_reconstruction_losses_by_hand() -> None:
    target = torch.zeros(1, 1, 1, 4)
    generated = torch.tensor([[[[0.5, -2.0, 3.0, 0.0]]]])
    assert reconstruction_loss(generated, target, "l1").item() == pytest.approx((0.5 + 2 + 3 + 0) / 4)
    assert reconstruction_loss(generated, target, "l2").item() == pytest.approx((0.25 + 4 + 9 + 0) / 4)
    # L1,2: 0.5 d^2 below 1, |d| - 0.5 above
    assert reconstruction_loss(generated, target, "l12").item() == pytest.approx((0.125 + 1.5 + 2.5 + 0) / 4)


@pytest.mark.parametrize("d", [0.2, 0.9, 0.999, 1.001, 1.1, 4.0, -0.9, -1.1, -4.0])
def test_l12_both_sides_of_one(d: float) -> None:
    expected = 0.5 * d * d if abs(d) < 1 else abs(d) - 0.5
    got = reconstruction_loss(torch.tensor([d]), torch.tensor([0.0]), "l12").item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_reconstruction_loss_rejects_bad_inputs() -> None:
    with pytest.raises(LandmarkGANError, match="unknown reconstruction loss"):
        reconstruction_loss(torch.zeros(1), torch.zeros(1), "l3")
    with pytest.raises(LandmarkGANError, match="one shape"):
        reconstruction_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 8, 8))


class ChannelMeans(nn.Module):
    """A stand-in face-recognition net: the mean of each colour channel, a (B, 3) feature."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


def test_change_weighted_loss_by_hand() -> None:
    """Weights = |warped - y| averaged over channels; the loss is the weighted mean of the per-pixel error."""
    y = torch.zeros(1, 2, 1, 2)
    warped = torch.tensor([[[[0.0, 1.0]], [[0.0, 1.0]]]])  # the warp is right at pixel 0, off by 1 at pixel 1
    generated = torch.tensor([[[[0.5, 0.25]], [[0.5, -0.75]]]])  # per-pixel L1 (channel mean): 0.5 and 0.5
    assert change_weighted_loss(generated, y, warped, "l1").item() == pytest.approx(0.5)  # only pixel 1 counts
    generated = torch.tensor([[[[0.9, 0.0]], [[0.9, 0.0]]]])  # wrong where the warp was right: costs nothing
    assert change_weighted_loss(generated, y, warped, "l1").item() == pytest.approx(0.0)
    warped = torch.tensor([[[[1.0, 3.0]], [[1.0, 3.0]]]])  # weights 1 and 3
    generated = torch.tensor([[[[2.0, 1.0]], [[2.0, 1.0]]]])  # L2 errors 4 and 1
    assert change_weighted_loss(generated, y, warped, "l2").item() == pytest.approx((1 * 4 + 3 * 1) / 4)
    assert change_weighted_loss(y, y, y, "l1").item() == 0.0  # an exact warp: no weight anywhere, no NaN
    with pytest.raises(LandmarkGANError, match="one shape"):
        change_weighted_loss(y, y, torch.zeros(1, 2, 2, 2))
    with pytest.raises(LandmarkGANError, match="unknown reconstruction loss"):
        change_weighted_loss(y, y, y, "l3")


def test_identity_loss_is_l1_between_features() -> None:
    y = torch.zeros(1, 3, 2, 2)
    y[:, 0] = 1.0  # features (1, 0, 0)
    y_hat = torch.zeros(1, 3, 2, 2, requires_grad=True)
    with torch.no_grad():
        y_hat[:, 1] = 0.5  # features (0, 0.5, 0)
    loss = identity_loss(ChannelMeans(), y, y_hat)
    assert loss.item() == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    loss.backward()
    assert y_hat.grad is not None and y_hat.grad.abs().sum() > 0


def test_identity_loss_rejects_non_feature_networks() -> None:
    with pytest.raises(LandmarkGANError, match=r"\(B, D\) features"):
        identity_loss(nn.Identity(), torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))


def test_discriminator_loss_by_hand() -> None:
    real, fake = torch.tensor([0.9, 0.6]), torch.tensor([0.2, 0.5])
    bce_real = -(math.log(0.9) + math.log(0.6)) / 2
    bce_fake = -(math.log(0.8) + math.log(0.5)) / 2
    total, r, f = discriminator_loss([real], [fake])
    assert total.item() == pytest.approx(0.5 * (bce_real + bce_fake), rel=1e-6)
    assert (r.item(), f.item()) == pytest.approx((bce_real, bce_fake), rel=1e-6)
    # two discriminators: their terms are averaged
    real2, fake2 = torch.tensor([0.5]), torch.tensor([0.5])
    total2, _, _ = discriminator_loss([real, real2], [fake, fake2])
    expected = 0.5 * ((bce_real + math.log(2)) / 2 + (bce_fake + math.log(2)) / 2)
    assert total2.item() == pytest.approx(expected, rel=1e-6)


def test_generator_gan_loss_by_hand() -> None:
    assert generator_gan_loss([torch.tensor([0.25])]).item() == pytest.approx(math.log(4), rel=1e-6)
    two = generator_gan_loss([torch.tensor([0.25]), torch.tensor([0.5])]).item()
    assert two == pytest.approx((math.log(4) + math.log(2)) / 2, rel=1e-6)


def test_classification_loss_by_hand() -> None:
    # logits (0, ln 3) -> softmax (1/4, 3/4); labels 1 and 0 -> CE = (-ln 3/4 - ln 1/4) / 2
    logits = torch.tensor([[0.0, math.log(3)], [0.0, math.log(3)]])
    expected = (-math.log(0.75) - math.log(0.25)) / 2
    assert classification_loss(logits, torch.tensor([1, 0])).item() == pytest.approx(expected, rel=1e-6)
    # uniform logits over K classes cost ln K
    assert classification_loss(torch.zeros(2, 5), torch.tensor([1, 4])).item() == pytest.approx(math.log(5), rel=1e-6)
    with pytest.raises(LandmarkGANError, match="logits for 2 labels"):
        classification_loss(torch.zeros(3, 2), torch.tensor([1, 0]))
