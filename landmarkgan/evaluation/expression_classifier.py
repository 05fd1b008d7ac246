"""The expression recogniser of LandmarkGAN's data-augmentation study (Table II of the paper).

The paper measures how useful generated faces are by training an expression classifier on
real faces, on real faces with "normal" augmentation, and on real plus generated faces, and
reporting its accuracy. It does not describe the classifier, so ours is a small CNN for
aligned square faces: ``len(widths)`` blocks of conv 3x3 + BatchNorm + ReLU + 2x2 max pool,
global average pooling, dropout and a linear layer over the K expressions. Inputs are RGB in
LandmarkGAN's [-1, 1] range at any square size; they are resized to the classifier's own
``image_size`` (the training size unless chosen otherwise).

"Normal augmentation" (the Real + Normal-aug. row) is random horizontal flip, a small zoom
(crop-and-resize), translation and rotation, and brightness/contrast jitter, done with
one affine resampling (``models.warp.affine_warp``) and drawn from a seeded generator.

A trained classifier is saved as one safetensors file whose header carries the JSON config
(class names, image size, widths, dropout), so it can be trained once and reused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.warp import affine_warp

DEFAULT_WIDTHS: tuple[int, ...] = (32, 64, 128, 256, 256)
CONFIG_KEY = "landmarkgan_expression_classifier"


@dataclass(frozen=True)
class ClassifierConfig:
    """What defines a classifier apart from its weights: stored next to them in the file."""

    classes: tuple[str, ...]
    image_size: int
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    dropout: float = 0.5

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ClassifierConfig:
        raw = json.loads(text)
        return cls(
            classes=tuple(str(c) for c in raw["classes"]),
            image_size=int(raw["image_size"]),
            widths=tuple(int(w) for w in raw["widths"]),
            dropout=float(raw["dropout"]),
        )


class ExpressionClassifier(nn.Module):
    """CNN expression recogniser: (B, 3, S, S) faces in [-1, 1] -> (B, K) logits."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        if len(config.classes) < 2:
            raise LandmarkGANError(f"an expression classifier needs at least 2 classes, got {list(config.classes)}")
        if not config.widths or config.image_size < 2 ** len(config.widths):
            raise LandmarkGANError(
                f"image size {config.image_size} is too small for {len(config.widths)} pooling blocks; "
                f"use images of at least {2 ** len(config.widths)} pixels or fewer blocks"
            )
        self.config = config
        layers: list[nn.Module] = []
        channels = 3
        for width in config.widths:
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(channels, len(config.classes))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits over the classes; inputs of another size are resized to ``image_size``."""
        h = self.features(resize_square(images, self.config.image_size))
        return self.head(self.dropout(h.mean(dim=(2, 3))))


def resize_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """(N, 3, H, W) images resized (antialiased bilinear) to (N, 3, size, size); a no-op at that size."""
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def check_images(images: torch.Tensor, what: str = "images") -> None:
    """Raise LandmarkGANError unless ``images`` is a non-empty (N, 3, S, S) float batch in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise LandmarkGANError(f"{what} must be a (N, 3, S, S) tensor of RGB faces, got {shape}")
    if images.shape[0] == 0 or images.shape[2] != images.shape[3]:
        raise LandmarkGANError(f"{what} must be a non-empty batch of square faces, got shape {tuple(images.shape)}")
    if not images.is_floating_point() or not torch.isfinite(images).all():
        raise LandmarkGANError(f"{what} must be finite floating-point values in [-1, 1], got {images.dtype}")
    low, high = images.min().item(), images.max().item()
    if low < -1.001 or high > 1.001:
        raise LandmarkGANError(
            f"{what} must be in LandmarkGAN's [-1, 1] range, found values in [{low:.3g}, {high:.3g}]; "
            "map uint8 pixels with x / 127.5 - 1"
        )


def check_labels(labels: torch.Tensor, count: int, num_classes: int, what: str = "labels") -> torch.Tensor:
    """Validate class indices for ``count`` images and return them as a long tensor."""
    if not isinstance(labels, torch.Tensor) or labels.shape != (count,):
        shape = tuple(labels.shape) if isinstance(labels, torch.Tensor) else type(labels).__name__
        raise LandmarkGANError(f"{what} must be a ({count},) tensor of class indices, one per image, got {shape}")
    if labels.is_floating_point() or labels.is_complex():
        raise LandmarkGANError(f"{what} must be integer class indices, got {labels.dtype}")
    labels = labels.long()
    if count and (labels.min() < 0 or labels.max() >= num_classes):
        raise LandmarkGANError(
            f"{what} must lie in 0..{num_classes - 1} ({num_classes} classes), "
            f"found {labels.min().item()}..{labels.max().item()}"
        )
    return labels


# ---------------------------------------------------------------- normal augmentation


@dataclass(frozen=True)
class NormalAugmentation:
    """The Real + Normal-aug. row's random transforms; each range is symmetric around "no change".

    flip_prob: probability of a horizontal flip. max_rotation: degrees. max_translation: a
    fraction of the image side. max_zoom: zoom in by up to this fraction (crop-and-resize).
    brightness: additive shift in [-1, 1] units. contrast: scale factor deviation around the
    image mean.
    """

    flip_prob: float = 0.5
    max_rotation: float = 10.0
    max_translation: float = 0.06
    max_zoom: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2


def normal_augment(
    images: torch.Tensor, generator: torch.Generator, augmentation: NormalAugmentation = NormalAugmentation()
) -> torch.Tensor:
    """One random normal augmentation per image of a (N, 3, S, S) batch in [-1, 1]; same shape and range.

    The random parameters are drawn on the CPU from ``generator``, so a seed gives the same
    augmentation on every device.
    """
    n = images.shape[0]

    def uniform(bound: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * bound

    flip = torch.rand(n, generator=generator, dtype=torch.float64) < augmentation.flip_prob
    angle = uniform(math.radians(augmentation.max_rotation))
    shift = torch.stack([uniform(2 * augmentation.max_translation), uniform(2 * augmentation.max_translation)], 1)
    scale = 1.0 / (1.0 + torch.rand(n, generator=generator, dtype=torch.float64) * augmentation.max_zoom)
    brightness = uniform(augmentation.brightness)
    contrast = 1.0 + uniform(augmentation.contrast)

    # Output pixel (x, y) in normalised coordinates samples the input at A @ (x, y) + shift,
    # A = scale * rotation, with x negated first for a flip.
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    mirror = torch.where(flip, -1.0, 1.0).double()
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1
    )
    warped = affine_warp(images, theta)

    contrast = contrast.to(images)[:, None, None, None]
    brightness = brightness.to(images)[:, None, None, None]
    mean = warped.mean(dim=(1, 2, 3), keepdim=True)
    return ((warped - mean) * contrast + mean + brightness).clamp(-1.0, 1.0)


# ---------------------------------------------------------------- training and inference


def train_expression_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    augment: bool = False,
    device: str | torch.device = "cpu",
    progress: bool = True,
    *,
    steps: int | None = None,
    classes: Sequence[str] | None = None,
    image_size: int | None = None,
    widths: Sequence[int] = DEFAULT_WIDTHS,
    dropout: float = 0.5,
    weight_decay: float = 1e-4,
    augmentation: NormalAugmentation = NormalAugmentation(),
    desc: str = "expression classifier",
    balanced: bool = False,
) -> ExpressionClassifier:
    """Train an expression classifier with Adam and cross-entropy; returned in eval mode.

    images: (N, 3, S, S) in [-1, 1]; labels: (N,) indices into ``classes`` (default names
    "0".."K-1"). The run draws ``steps`` optimiser steps of ``batch_size`` images (default
    ``epochs`` passes over the data), reshuffling each pass. Everything random (weights,
    shuffling, dropout, augmentation when ``augment``) comes from ``seed``; the caller's
    global RNG state is left untouched. ``desc`` labels the progress bar. ``balanced`` draws every
    batch's images with replacement, each class equally likely (for data where one class is rare,
    such as the one neutral face per subject of the built-in synthetic set: 4% of its faces),
    instead of in reshuffled passes over the data.
    """
    check_images(images)
    labels = check_labels(labels, images.shape[0], num_classes)
    names = tuple(str(c) for c in classes) if classes is not None else tuple(str(i) for i in range(num_classes))
    if len(names) != num_classes:
        raise LandmarkGANError(f"got {len(names)} class names for {num_classes} classes: {list(names)}")
    if epochs < 1 or batch_size < 1 or lr <= 0 or (steps is not None and steps < 1):
        raise LandmarkGANError(
            f"training needs epochs >= 1, batch_size >= 1, lr > 0 and steps >= 1; "
            f"got epochs={epochs}, batch_size={batch_size}, lr={lr}, steps={steps}"
        )
    count = images.shape[0]
    batch = min(batch_size, count)
    total_steps = steps if steps is not None else epochs * math.ceil(count / batch)
    config = ClassifierConfig(names, int(image_size or images.shape[-1]), tuple(int(w) for w in widths), dropout)
    device = torch.device(device)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = ExpressionClassifier(config).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        model.train()
        bar = tqdm(range(total_steps), desc=desc, unit="step", disable=not progress)
        batches = batch_indices(labels, batch, generator, balanced)
        for _ in bar:
            index = next(batches)
            x = images[index].to(device)
            if augment:
                x = normal_augment(x, generator, augmentation)
            loss = F.cross_entropy(model(x), labels[index].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    return model.eval()


def batch_indices(labels: torch.Tensor, batch: int, generator: torch.Generator, balanced: bool = False
                  ) -> Iterator[torch.Tensor]:
    """Endless batches of ``batch`` indices into ``labels`` (N,): reshuffled passes over the data, or with
    ``balanced`` drawn with replacement, every class present equally likely."""
    if balanced:
        weights = (1 / torch.bincount(labels).double())[labels]
        while True:
            yield torch.multinomial(weights, batch, replacement=True, generator=generator)
    order = torch.empty(0, dtype=torch.long)
    while True:
        while order.numel() < batch:
            order = torch.cat([order, torch.randperm(len(labels), generator=generator)])
        index, order = order[:batch], order[batch:]
        yield index


@torch.no_grad()
def predict(classifier: ExpressionClassifier, images: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Predicted class index of each of a (N, 3, S, S) batch of faces in [-1, 1], as an (N,) long tensor."""
    check_images(images)
    device = next(classifier.parameters()).device
    was_training = classifier.training
    classifier.eval()
    try:
        batches = (images[i : i + batch_size].to(device) for i in range(0, len(images), batch_size))
        return torch.cat([classifier(batch).argmax(1).cpu() for batch in batches])
    finally:
        classifier.train(was_training)


def accuracy(
    classifier: ExpressionClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128
) -> float:
    """Fraction of faces whose predicted expression equals the label (expression recognition accuracy)."""
    check_images(images)
    labels = check_labels(labels, images.shape[0], len(classifier.classes))
    return (predict(classifier, images, batch_size) == labels).double().mean().item()


# ---------------------------------------------------------------- saving and loading


def save_classifier(classifier: ExpressionClassifier, path: str | os.PathLike[str]) -> Path:
    """Write the weights and the JSON config to one safetensors file (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in classifier.state_dict().items()}
    partial = path.with_name(path.name + ".partial")
    save_file(state, partial, metadata={CONFIG_KEY: classifier.config.to_json()})
    os.replace(partial, path)
    return path


def load_classifier(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> ExpressionClassifier:
    """A classifier saved by ``save_classifier``, in eval mode on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise LandmarkGANError(f"expression classifier file {path} does not exist; train one first")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise LandmarkGANError(
            f"cannot read {path} as a safetensors expression classifier ({error}); the file is corrupt "
            "or truncated: train and save the classifier again"
        ) from None
    if CONFIG_KEY not in metadata:
        raise LandmarkGANError(f"{path} is a safetensors file but not a landmarkgan expression classifier")
    try:
        model = ExpressionClassifier(ClassifierConfig.from_json(metadata[CONFIG_KEY]))
        model.load_state_dict(state)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RuntimeError) as error:
        raise LandmarkGANError(
            f"{path} has a broken expression classifier config or weights ({error}); train and save it again"
        ) from None
    return model.to(device).eval()


def classifier_name(seed: int) -> str:
    """The file name a trained classifier is kept under in an output folder: one per seed, so that a run with
    another seed trains its own instead of reusing another seed's."""
    return "expression_classifier.safetensors" if seed == 0 else f"expression_classifier_seed{seed}.safetensors"


def classifier_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 (hex) of a saved classifier file: what names the classifier an accuracy was scored with."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- data folders


def load_expression_faces(
    data: str | os.PathLike[str], split: str, size: int, expressions: Sequence[str], progress: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The faces of one split of a data folder as (N, 3, size, size) in [-1, 1] with expression labels
    (indices into ``expressions``; faces of other expressions are left out)."""
    from landmarkgan.data.dataset import to_tensor
    from landmarkgan.data.images import load_image, resize_image
    from landmarkgan.data.manifest import manifest_path, read_manifest

    root = manifest_path(data).parent
    rows = [s for s in read_manifest(data) if (split == "all" or s.split == split) and s.expression in expressions]
    if not rows:
        raise LandmarkGANError(f"{manifest_path(data)} has no {split} faces of the expressions {list(expressions)}")
    images = torch.empty(len(rows), 3, size, size)
    for k, s in enumerate(tqdm(rows, desc=f"loading {split} faces", unit="img", disable=not progress)):
        images[k] = to_tensor(resize_image(load_image(root / s.image), size))
    labels = torch.tensor([list(expressions).index(s.expression) for s in rows])
    return images, labels


def train_on_folder(
    data: str | os.PathLike[str], expressions: Sequence[str], size: int = 64, steps: int = 1500,
    seed: int = 0, device: str | torch.device = "cpu", progress: bool = True, balanced: bool = False,
) -> ExpressionClassifier:
    """An expression classifier trained on the real training faces of a data folder (at ``size``); ``balanced``:
    each expression drawn equally often (see :func:`train_expression_classifier`)."""
    images, labels = load_expression_faces(data, "train", size, expressions, progress)
    return train_expression_classifier(images, labels, len(expressions), steps=steps, classes=expressions, seed=seed,
                                       device=device, progress=progress, desc="expression classifier",
                                       balanced=balanced)
