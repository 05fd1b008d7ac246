"""The pix2pix building blocks LandmarkGAN uses: U-Net generators, 70x70 PatchGANs and the BCE GAN loss.

Architectures follow pix2pix (Isola et al.) exactly, so parameter counts match its ``unet_256``
(54,413,955 for 3 -> 3 channels, ngf 64) and ``basic`` discriminator (2,768,705 for 6 input channels):
BatchNorm everywhere but the first encoder layer, LeakyReLU(0.2) in the encoder, ReLU in the decoder,
Tanh output, dropout 0.5 in the innermost decoder blocks, and a Sigmoid after the PatchGAN.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.errors import LandmarkGANError

NormLayer = Callable[[int], nn.Module]


def get_norm_layer(norm: str = "batch") -> NormLayer:
    """A constructor ``norm_layer(num_channels)``: "batch" (learned affine), "instance" (no affine) or "none"."""
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda num_channels: nn.Identity()
    raise LandmarkGANError(f"unknown normalisation {norm!r}; use batch, instance or none")


def uses_bias(norm: str) -> bool:
    """Convolutions followed by BatchNorm carry no bias (BatchNorm's shift replaces it)."""
    return norm != "batch"


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """pix2pix initialisation: conv/linear weights ~ N(0, gain), BatchNorm scales ~ N(1, gain), biases 0."""

    def init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)

    return net.apply(init)


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``down`` halves the resolution, the inner levels run, ``up`` doubles it back.

    A non-outermost level returns ``[input, up(inner(down(input)))]`` (the skip connection). The
    innermost level's ``up`` takes ``inner_nc + extra_nc`` channels, room for a code joined at the
    bottleneck (Gl's label embedding).
    """

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        use_dropout: bool = False,
        extra_nc: int = 0,
        tanh: bool = True,
    ) -> None:
        super().__init__()
        self.outermost, self.innermost = outermost, innermost
        norm_layer, bias = get_norm_layer(norm), uses_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias)
        if outermost:
            down = [downconv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)]
            up += [nn.Tanh()] if tanh else []
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), downconv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc + extra_nc, outer_nc, 4, 2, 1, bias=bias), norm_layer(outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2, True), downconv, norm_layer(inner_nc)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=bias), norm_layer(outer_nc)]
            if use_dropout:
                up.append(nn.Dropout(0.5))
        self.down = nn.Sequential(*down)
        self.up = nn.Sequential(*up)


Bottleneck = Callable[[torch.Tensor], torch.Tensor]


class UnetGenerator(nn.Module):
    """pix2pix U-Net: ``num_downs`` levels (8 = unet_256 at 256x256, bottleneck 1x1), Tanh output (raw with
    ``tanh=False``, for callers that give channels their own activations).

    Levels from the outside in: input_nc -> ngf -> 2 ngf -> 4 ngf -> 8 ngf, then ``num_downs - 5``
    levels of 8 ngf with dropout (when ``use_dropout``), then the innermost 8 ngf level.
    ``forward(x, bottleneck)`` may transform the innermost code (B, 8 ngf, h, w) into
    (B, 8 ngf + extra_nc, h, w) before decoding.
    """

    def __init__(
        self,
        input_nc: int,
        output_nc: int,
        num_downs: int,
        ngf: int = 64,
        norm: str = "batch",
        use_dropout: bool = False,
        extra_nc: int = 0,
        tanh: bool = True,
    ) -> None:
        super().__init__()
        if num_downs < 5:
            raise LandmarkGANError(f"a U-Net needs at least 5 downsamplings (images of 32x32 or more), got {num_downs}")
        self.input_nc, self.num_downs = input_nc, num_downs
        blocks = [UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, outermost=True, norm=norm, tanh=tanh)]
        blocks += [UnetSkipConnectionBlock(ngf * m, ngf * 2 * m, norm=norm) for m in (1, 2, 4)]
        blocks += [UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, use_dropout=use_dropout) for _ in range(num_downs - 5)]
        blocks.append(UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm=norm, extra_nc=extra_nc))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, bottleneck: Bottleneck | None = None) -> torch.Tensor:
        self._check_input(x)
        return self._level(0, x, bottleneck)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The innermost code (B, 8 ngf, h, w) alone, the decoder skipped: for callers that read only the
        bottleneck (the code ``forward`` hands to ``bottleneck``)."""
        self._check_input(x)
        for block in self.blocks:
            x = block.down(x)
        return x

    def _check_input(self, x: torch.Tensor) -> None:
        size = 2**self.num_downs
        if x.dim() != 4 or x.shape[1] != self.input_nc or x.shape[2] % size or x.shape[3] % size:
            raise LandmarkGANError(
                f"the U-Net takes (B, {self.input_nc}, H, W) with H and W multiples of {size}, got {tuple(x.shape)}"
            )

    def _level(self, i: int, x: torch.Tensor, bottleneck: Bottleneck | None) -> torch.Tensor:
        block = self.blocks[i]
        h = block.down(x)
        if block.innermost:
            h = bottleneck(h) if bottleneck is not None else h
        else:
            h = self._level(i + 1, h, bottleneck)
        h = block.up(h)
        return h if block.outermost else torch.cat([x, h], 1)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 convolutions, two stride-1 ones, a Sigmoid per patch.

    With n_layers = 3 each output judges a 70x70 patch; a 256x256 input gives a 30x30 map.
    """

    def __init__(self, input_nc: int, ndf: int = 64, n_layers: int = 3, norm: str = "batch") -> None:
        super().__init__()
        norm_layer, bias = get_norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=bias),
                norm_layer(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1), nn.Sigmoid()]
        self.input_nc = input_nc
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise LandmarkGANError(f"the discriminator takes (B, {self.input_nc}, H, W), got {tuple(x.shape)}")
        return self.model(x)


class AuxiliaryClassifier(nn.Module):
    """StarGAN's auxiliary classifier, as a network of its own: which of ``num_classes`` expressions a face shows.

    Stride-2 4x4 convolutions (LeakyReLU 0.2, the PatchGANs' norm after the first) halve the image down to 4x4
    pixels, widths ``ndf, 2 ndf, 4 ndf, 8 ndf, 8 ndf, ...``; their features are averaged over the image and a
    linear layer gives the logits (B, num_classes). Unlike a PatchGAN it sees the whole face at once.

    ``read_size``: when below ``image_size``, the face is first shrunk to read_size x read_size by averaging
    (a low-pass filter), so patterns finer than that cannot reach the classifier, nor be drawn to fool it.
    """

    def __init__(self, input_nc: int, num_classes: int, image_size: int, ndf: int = 64, norm: str = "batch",
                 read_size: int | None = None) -> None:
        super().__init__()
        self.read_size = read_size if read_size and read_size < image_size else None
        image_size = self.read_size or image_size
        norm_layer, bias = get_norm_layer(norm), uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        width, size = ndf, image_size // 2
        while size > 4:
            wider = min(2 * width, 8 * ndf)
            layers += [nn.Conv2d(width, wider, kernel_size=4, stride=2, padding=1, bias=bias), norm_layer(wider),
                       nn.LeakyReLU(0.2, True)]
            width, size = wider, size // 2
        self.input_nc = input_nc
        self.features = nn.Sequential(*layers)
        self.logits = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise LandmarkGANError(f"the auxiliary classifier takes (B, {self.input_nc}, H, W), got {tuple(x.shape)}")
        if self.read_size is not None:
            x = F.adaptive_avg_pool2d(x, self.read_size)
        return self.logits(self.features(x).mean(dim=(2, 3)))


class GANLoss(nn.Module):
    """The conditional GAN loss on Sigmoid outputs: BCE against an all-ones (real) or all-zeros (fake) map.

    Computed in float32 with autocast off (BCE on probabilities is unsafe in half precision).
    """

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        with torch.autocast(prediction.device.type, enabled=False):
            p = prediction.float()
            target = torch.ones_like(p) if target_is_real else torch.zeros_like(p)
            return F.binary_cross_entropy(p, target)
