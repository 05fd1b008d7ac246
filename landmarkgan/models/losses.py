"""LandmarkGAN's losses (Sec. 3 of the paper): landmark, reconstruction, identity and discriminator losses."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.networks import GANLoss

_gan_loss = GANLoss()


def landmark_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Stage I's landmark reconstruction loss: the Euclidean distance between predicted and true
    (p, q), averaged over the 68 points (and the batch), in the units of the inputs. Computed in float32."""
    if predicted.shape != target.shape or predicted.dim() != 3 or predicted.shape[-1] != 2:
        raise LandmarkGANError(
            f"landmark loss needs two (B, N, 2) point sets of the same shape, got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )
    return (predicted.float() - target.float()).norm(dim=-1).mean()


_RECONSTRUCTION_LOSSES = {"l1": F.l1_loss, "l2": F.mse_loss, "l12": lambda a, b, **kw: F.smooth_l1_loss(a, b, beta=1.0, **kw)}


def reconstruction_loss(generated: torch.Tensor, target: torch.Tensor, kind: str = "l12",
                        reduction: str = "mean") -> torch.Tensor:
    """Stage II's pixel reconstruction loss, averaged over pixels (``reduction="none"``: per element): "l1" = |d|,
    "l2" = d^2, or the paper's "l12" = 0.5 d^2 if |d| < 1 else |d| - 0.5 (Huber / smooth-L1 with delta 1)."""
    if generated.shape != target.shape:
        raise LandmarkGANError(f"reconstruction loss needs images of one shape, got {tuple(generated.shape)} and {tuple(target.shape)}")
    if kind not in _RECONSTRUCTION_LOSSES:
        raise LandmarkGANError(f"unknown reconstruction loss {kind!r}; use l12, l1 or l2")
    return _RECONSTRUCTION_LOSSES[kind](generated, target, reduction=reduction)


def identity_loss(
    face_net: nn.Module, target: torch.Tensor, generated: torch.Tensor, target_features: torch.Tensor | None = None
) -> torch.Tensor:
    """Stage II's identity loss: mean L1 distance between face-recognition features F(y) and F(y_hat).

    ``face_net`` maps (B, 3, H, W) images in [-1, 1] to (B, D) features; F(y) is a fixed target
    (no gradient; ``target_features`` when already known), gradients flow through F(y_hat) into the generator.
    """
    if target_features is None:
        with torch.no_grad():
            target_features = face_net(target)
    fake = face_net(generated)
    if target_features.shape != fake.shape or fake.dim() != 2 or fake.shape[0] != generated.shape[0]:
        raise LandmarkGANError(
            f"the identity network must map (B, 3, H, W) images to (B, D) features, got {tuple(fake.shape)} "
            f"for a batch of {generated.shape[0]}"
        )
    return F.l1_loss(fake.float(), target_features.float())


def change_weighted_loss(generated: torch.Tensor, target: torch.Tensor, warped: torch.Tensor,
                         kind: str = "l1") -> torch.Tensor:
    """The reconstruction loss (``kind``, per pixel) weighted by where the warped face misses the target.

    Per pixel the weight is ``w = mean over channels |warped - target|`` (a fixed target, no gradient); the
    loss is ``sum(w * loss(generated, target)) / sum(w)`` (per channel, averaged), so it measures the error
    on the pixels a warp cannot produce, whatever share of the image they cover. 0 where the warp is exact.
    Computed in float32.
    """
    if not generated.shape == target.shape == warped.shape:
        raise LandmarkGANError(
            f"the change-weighted loss needs three images of one shape, got {tuple(generated.shape)}, "
            f"{tuple(target.shape)} and {tuple(warped.shape)}")
    with torch.no_grad():
        weight = (warped.float() - target.float()).abs().mean(1, keepdim=True)
    error = reconstruction_loss(generated.float(), target.float(), kind, reduction="none").mean(1, keepdim=True)
    return (weight * error).sum() / weight.sum().clamp_min(1e-8)


def mask_loss(logits: torch.Tensor, colour: torch.Tensor, warped: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The warp generator's mask loss: binary cross-entropy between the blending mask (its ``logits``, (B, 1, H, W))
    and where its colour image is closer to the real target than the warped face (per pixel, mean absolute
    difference over the channels; a fixed target, no gradient). Computed in float32."""
    with torch.no_grad():
        better = ((colour.float() - target.float()).abs().mean(1, keepdim=True)
                  < (warped.float() - target.float()).abs().mean(1, keepdim=True)).float()
    return F.binary_cross_entropy_with_logits(logits.float(), better)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The expression classification loss (StarGAN's): the cross-entropy between the logits (B, K) and the
    expression indices ``labels`` (B,), averaged over the batch. Computed in float32."""
    if logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        raise LandmarkGANError(
            f"the classification loss needs (B, K) logits for {labels.shape[0]} labels, got {tuple(logits.shape)}")
    return F.cross_entropy(logits.float(), labels.long())


def generator_gan_loss(fake_predictions: Sequence[torch.Tensor]) -> torch.Tensor:
    """The generator's adversarial loss BCE(D(fake), 1), averaged over the stage's discriminators."""
    return torch.stack([_gan_loss(p, True) for p in fake_predictions]).mean()


def discriminator_loss(
    real_predictions: Sequence[torch.Tensor], fake_predictions: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """0.5 * [BCE(D(real), 1) + BCE(D(fake), 0)], averaged over the stage's discriminators.

    Returns (loss, real part, fake part), the parts being the averaged BCE terms before the 0.5.
    """
    real = torch.stack([_gan_loss(p, True) for p in real_predictions]).mean()
    fake = torch.stack([_gan_loss(p, False) for p in fake_predictions]).mean()
    return 0.5 * (real + fake), real, fake
