"""LPIPS, the learned perceptual image patch similarity of Zhang et al. 2018 (paper's Table IV).

LPIPS v0.1 compares two images through a frozen ImageNet classifier trunk (AlexNet or VGG16):
the images are shifted and scaled channel-wise (LPIPS's scaling layer), five ReLU feature maps
are taken from each, every feature vector is scaled to unit length over channels, the squared
difference of the two images' maps is weighted per channel by a learned 1 x 1 convolution,
averaged over space, and the five layer values are summed. 0 means identical.

Nothing is downloaded: both weight files must be on disk. The trunk takes torchvision's
ImageNet state dict (``features.<i>.weight`` / ``.bias``) as ``.pth`` or ``.safetensors``; the
linear layers take the lpips package's ``weights/v0.1/<net>.pth`` (``lin<k>.model.1.weight``).
By default both are looked up in ``$LANDMARKGAN_WEIGHTS`` (else ``~/.cache/landmarkgan/weights``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.metrics import images_to_batch

WEIGHTS_ENV = "LANDMARKGAN_WEIGHTS"
# LPIPS's ScalingLayer: ImageNet statistics expressed for inputs in [-1, 1].
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)
NORM_EPS = 1e-10  # lpips.normalize_tensor


@dataclass(frozen=True)
class TrunkSpec:
    """A torchvision ``features`` trunk: per index a conv (out channels, kernel, stride, padding),
    "relu" or "pool"; LPIPS reads the ReLU outputs just before each of the ``taps`` indices."""

    layers: tuple[tuple[int, int, int, int] | str, ...]
    taps: tuple[int, ...]
    pool_kernel: int
    backbone_file: str
    backbone_url: str


def _vgg16_layers() -> tuple[tuple[int, int, int, int] | str, ...]:
    layers: list[tuple[int, int, int, int] | str] = []
    for block, (width, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        if block:
            layers.append("pool")
        for _ in range(convs):
            layers += [(width, 3, 1, 1), "relu"]
    return tuple(layers)


TRUNKS: dict[str, TrunkSpec] = {
    # torchvision alexnet().features up to relu5 (indices 0..11).
    "alex": TrunkSpec(
        layers=((64, 11, 4, 2), "relu", "pool", (192, 5, 1, 2), "relu", "pool",
                (384, 3, 1, 1), "relu", (256, 3, 1, 1), "relu", (256, 3, 1, 1), "relu"),
        taps=(2, 5, 8, 10, 12),
        pool_kernel=3,
        backbone_file="alexnet-owt-7be5be79.pth",
        backbone_url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    ),
    # torchvision vgg16().features up to relu5_3 (indices 0..29).
    "vgg": TrunkSpec(
        layers=_vgg16_layers(),
        taps=(4, 9, 16, 23, 30),
        pool_kernel=2,
        backbone_file="vgg16-397923af.pth",
        backbone_url="https://download.pytorch.org/models/vgg16-397923af.pth",
    ),
}


def weights_dir() -> Path:
    """Folder of local weight files: $LANDMARKGAN_WEIGHTS, else ~/.cache/landmarkgan/weights."""
    return Path(os.environ.get(WEIGHTS_ENV) or Path.home() / ".cache" / "landmarkgan" / "weights")


def linear_file(net: str) -> str:
    """Default file name of LPIPS v0.1's linear layers for ``net`` inside the weights folder."""
    return f"lpips-v0.1-{net}.pth"


def _trunk_spec(net: str) -> TrunkSpec:
    if net not in TRUNKS:
        raise LandmarkGANError(f"unknown LPIPS network {net!r}; choose one of {', '.join(TRUNKS)}")
    return TRUNKS[net]


class LPIPS(nn.Module):
    """LPIPS v0.1 distance; ``forward(x0, x1)`` takes (N, 3, H, W) images in [-1, 1], returns (N,)."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        self.net = net
        spec = _trunk_spec(net)
        modules: list[nn.Module] = []
        channels, tap_channels = 3, []
        for index, layer in enumerate(spec.layers):
            if layer == "relu":
                modules.append(nn.ReLU())
                if index + 1 in spec.taps:
                    tap_channels.append(channels)
            elif layer == "pool":
                modules.append(nn.MaxPool2d(kernel_size=spec.pool_kernel, stride=2))
            else:
                out, kernel, stride, padding = layer
                modules.append(nn.Conv2d(channels, out, kernel, stride=stride, padding=padding))
                channels = out
        self.features = nn.Sequential(*modules)
        self.taps = spec.taps
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in tap_channels)
        self.register_buffer("shift", torch.tensor(LPIPS_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(LPIPS_SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def _feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU maps, each scaled to unit length over channels at every position."""
        x = (x - self.shift) / self.scale
        maps = []
        for index, module in enumerate(self.features, start=1):
            x = module(x)
            if index in self.taps:
                maps.append(x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + NORM_EPS))
        return maps

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        if x0.shape != x1.shape or x0.ndim != 4 or x0.shape[1] != 3:
            raise LandmarkGANError(
                "LPIPS compares two image batches of one shape (N, 3, H, W), "
                f"got {tuple(x0.shape)} and {tuple(x1.shape)}"
            )
        total = x0.new_zeros(x0.shape[0])
        for lin, f0, f1 in zip(self.lins, self._feature_maps(x0), self._feature_maps(x1)):
            total = total + lin((f0 - f1) ** 2).mean(dim=(1, 2, 3))
        return total

    def load_backbone(self, state: dict[str, torch.Tensor], source: Path) -> None:
        """Copy torchvision's ``features.<i>.weight/bias`` tensors into the trunk (others are ignored)."""
        own = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        self._copy(own, state, source, f"the torchvision {self.net} ImageNet weights")

    def load_linear(self, state: dict[str, torch.Tensor], source: Path) -> None:
        """Copy the lpips package's ``lin<k>.model.1.weight`` tensors into the 1 x 1 layers."""
        own = {f"lin{k}.model.1.weight": lin.weight for k, lin in enumerate(self.lins)}
        self._copy(own, state, source, f"LPIPS v0.1's {self.net}.pth")

    @staticmethod
    def _copy(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: Path, what: str) -> None:
        for key, param in own.items():
            value = state.get(key)
            if not isinstance(value, torch.Tensor):
                raise LandmarkGANError(f"{source} has no tensor {key!r}; is it {what}?")
            if tuple(value.shape) != tuple(param.shape):
                raise LandmarkGANError(
                    f"{source}: {key} has shape {tuple(value.shape)}, expected {tuple(param.shape)}; is it {what}?"
                )
            with torch.no_grad():
                param.copy_(value)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A tensor dictionary from .safetensors, or from .pth with torch.load(weights_only=True)."""
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any corrupt or non-tensor file: report it, never unpickle arbitrary objects
        raise LandmarkGANError(f"cannot read weights from {path} ({e}); is the file complete?") from None
    if not isinstance(state, dict):
        raise LandmarkGANError(f"{path} holds a {type(state).__name__}, expected a state dict of tensors")
    return state


def _default_backbone(spec: TrunkSpec) -> Path:
    """The trunk's file in the weights folder: the torchvision name as .pth, else as .safetensors."""
    pth = weights_dir() / spec.backbone_file
    safetensors = pth.with_suffix(".safetensors")
    return safetensors if not pth.is_file() and safetensors.is_file() else pth


def load_lpips(
    net: str = "alex",
    backbone_path: str | os.PathLike | None = None,
    linear_path: str | os.PathLike | None = None,
) -> LPIPS:
    """LPIPS v0.1 on ``net`` ("alex", the lpips default, or "vgg") with weights from local files.

    ``backbone_path`` defaults to ``$LANDMARKGAN_WEIGHTS/<torchvision file name>`` (.pth, or the
    same stem with .safetensors); ``linear_path`` to ``$LANDMARKGAN_WEIGHTS/lpips-v0.1-<net>.pth``.
    """
    spec = _trunk_spec(net)
    backbone = Path(backbone_path) if backbone_path is not None else _default_backbone(spec)
    linear = Path(linear_path) if linear_path is not None else weights_dir() / linear_file(net)
    if not backbone.is_file():
        raise LandmarkGANError(
            f"LPIPS ({net}) needs the torchvision ImageNet backbone weights file {spec.backbone_file} "
            f"(from {spec.backbone_url}); put it at {backbone}, set ${WEIGHTS_ENV} to the folder "
            "that holds it, or pass its path"
        )
    if not linear.is_file():
        raise LandmarkGANError(
            f"LPIPS ({net}) needs LPIPS v0.1's linear layer weights, the file weights/v0.1/{net}.pth of "
            f"the lpips package (`pip download lpips --no-deps` and unzip the wheel); copy it to {linear}, "
            f"set ${WEIGHTS_ENV} to a folder holding it as {linear_file(net)}, or pass its path"
        )
    model = LPIPS(net)
    model.load_backbone(_read_state_dict(backbone), backbone)
    model.load_linear(_read_state_dict(linear), linear)
    return model


def lpips_distance(model: LPIPS, generated, target) -> float:
    """Mean LPIPS between generated and target images (any form ``images_to_batch`` takes)."""
    return float(lpips_distances(model, generated, target).mean())


@torch.no_grad()
def lpips_distances(model: LPIPS, generated, target) -> np.ndarray:
    """LPIPS of each (generated, target) pair of images (any form ``images_to_batch`` takes), (N,)."""
    x0, x1 = images_to_batch(generated), images_to_batch(target)
    device = model.shift.device
    return model(x0.to(device), x1.to(device)).double().cpu().numpy()
