"""pix2pix building blocks: shapes, parameter counts against hand arithmetic, receptive field, init, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.networks import GANLoss, NLayerDiscriminator, UnetGenerator, get_norm_layer, init_weights


def conv(cin: int, cout: int, bias: bool) -> int:
    """Parameters of a 4x4 (transposed) convolution."""
    return cin * cout * 16 + (cout if bias else 0)


def bn(c: int) -> int:
    return 2 * c


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_unet_256_has_pix2pix_parameter_count() -> None:
    ngf = 64
    outermost = conv(3, ngf, False) + conv(2 * ngf, 3, True)  # no norm; Tanh output conv has a bias
    expected = outermost
    for outer, inner in ((ngf, 2 * ngf), (2 * ngf, 4 * ngf), (4 * ngf, 8 * ngf), *[(8 * ngf, 8 * ngf)] * 3):
        expected += conv(outer, inner, False) + bn(inner) + conv(2 * inner, outer, False) + bn(outer)
    expected += conv(8 * ngf, 8 * ngf, False) + conv(8 * ngf, 8 * ngf, False) + bn(8 * ngf)  # innermost
    assert expected == 54_413_955  # pix2pix's unet_256, 3 -> 3, as its networks.py builds it
    assert count(UnetGenerator(3, 3, num_downs=8, ngf=64, norm="batch", use_dropout=True)) == expected


def test_patchgan_has_pix2pix_parameter_count() -> None:
    ndf = 64
    expected = conv(6, ndf, True)
    expected += conv(ndf, 2 * ndf, False) + bn(2 * ndf)
    expected += conv(2 * ndf, 4 * ndf, False) + bn(4 * ndf)
    expected += conv(4 * ndf, 8 * ndf, False) + bn(8 * ndf)
    expected += conv(8 * ndf, 1, True)
    assert expected == 2_768_705  # pix2pix's "basic" 70x70 PatchGAN on 6 channels
    assert count(NLayerDiscriminator(6, ndf=64, n_layers=3)) == expected


@pytest.mark.parametrize("size, ngf", [(64, 8), (256, 8)])
def test_unet_shapes_and_range(size: int, ngf: int) -> None:
    net = UnetGenerator(5, 3, num_downs=int(math.log2(size)), ngf=ngf, use_dropout=True)
    out = net(torch.randn(2, 5, size, size))
    assert out.shape == (2, 3, size, size)
    assert out.abs().max() <= 1.0


def test_unet_structure_follows_paper() -> None:
    net = UnetGenerator(3, 3, num_downs=8, ngf=8, use_dropout=True)
    assert len(net.blocks) == 8
    assert [type(m) for m in net.blocks[0].down] == [nn.Conv2d]  # first encoder layer: no norm, no activation
    assert isinstance(net.blocks[0].up[-1], nn.Tanh)
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 3  # first three decoder blocks
    assert all(isinstance(b.down[0], nn.LeakyReLU) for b in net.blocks[1:])
    assert all(isinstance(b.up[0], nn.ReLU) for b in net.blocks)
    no_dropout = UnetGenerator(3, 3, num_downs=8, ngf=8, use_dropout=False)
    assert not any(isinstance(m, nn.Dropout) for m in no_dropout.modules())


def test_unet_bottleneck_hook_sees_1x1_code_and_may_widen_it() -> None:
    net = UnetGenerator(3, 3, num_downs=6, ngf=8, extra_nc=4)
    seen = []

    def widen(code: torch.Tensor) -> torch.Tensor:
        seen.append(code.shape)
        return torch.cat([code, torch.zeros(code.shape[0], 4, 1, 1)], 1)

    assert net(torch.randn(2, 3, 64, 64), widen).shape == (2, 3, 64, 64)
    assert seen == [(2, 64, 1, 1)]


@pytest.mark.parametrize("size, side", [(64, 6), (256, 30)])
def test_patchgan_shapes(size: int, side: int) -> None:
    out = NLayerDiscriminator(6, ndf=8)(torch.randn(2, 6, size, size))
    assert out.shape == (2, 1, side, side)
    assert ((out > 0) & (out < 1)).all()  # Sigmoid at the end


def test_patchgan_receptive_field_is_70() -> None:
    net = NLayerDiscriminator(1, ndf=4).eval()  # eval: BatchNorm does not couple positions
    x = torch.randn(1, 1, 128, 128, requires_grad=True)
    out = net(x)
    out[0, 0, 7, 7].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0)).flatten()
    assert rows.max() - rows.min() + 1 == 70 and cols.max() - cols.min() + 1 == 70


def test_init_weights_is_normal_002() -> None:
    torch.manual_seed(0)
    net = init_weights(nn.Sequential(nn.Conv2d(64, 64, 4), nn.BatchNorm2d(64), nn.Linear(512, 512)))
    assert abs(net[0].weight.std().item() - 0.02) < 0.001 and net[0].bias.abs().sum() == 0
    assert abs(net[1].weight.mean().item() - 1.0) < 0.01 and net[1].bias.abs().sum() == 0
    assert abs(net[2].weight.std().item() - 0.02) < 0.001 and net[2].bias.abs().sum() == 0


def test_norm_layers() -> None:
    assert isinstance(get_norm_layer("batch")(4), nn.BatchNorm2d)
    assert isinstance(get_norm_layer("instance")(4), nn.InstanceNorm2d)
    assert isinstance(get_norm_layer("none")(4), nn.Identity)
    with pytest.raises(LandmarkGANError, match="unknown normalisation"):
        get_norm_layer("group")
    # InstanceNorm / no norm: convolutions get biases back, the output still has the right shape
    assert UnetGenerator(3, 3, 6, ngf=4, norm="instance")(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    assert NLayerDiscriminator(6, ndf=4, norm="none").model[2].bias is not None


def test_gan_loss_is_bce_on_probabilities() -> None:
    p = torch.tensor([[0.8, 0.3]])
    gan = GANLoss()
    assert gan(p, True).item() == pytest.approx(-(math.log(0.8) + math.log(0.3)) / 2, rel=1e-6)
    assert gan(p, False).item() == pytest.approx(-(math.log(0.2) + math.log(0.7)) / 2, rel=1e-6)


def test_wrong_input_tensors_raise_clear_errors() -> None:
    with pytest.raises(LandmarkGANError, match=r"\(B, 3, H, W\)"):
        UnetGenerator(3, 3, 6, ngf=4)(torch.randn(1, 4, 64, 64))
    with pytest.raises(LandmarkGANError, match="multiples of 64"):
        UnetGenerator(3, 3, 6, ngf=4)(torch.randn(1, 3, 48, 48))
    with pytest.raises(LandmarkGANError, match=r"\(B, 6, H, W\)"):
        NLayerDiscriminator(6, ndf=4)(torch.randn(1, 3, 64, 64))
    with pytest.raises(LandmarkGANError, match="at least 5"):
        UnetGenerator(3, 3, 4)
