"""The training/test Dataset: pairs (x, y) of one subject with the labels and landmarks of both.

Each item holds what LandmarkGAN's two stages need: the source image x, the target image y,
the target expression label le (and intensity li), the 68 landmarks of both images, and the
paper's landmark image of y (white canvas, y's colours within radius Sl of each landmark),
which is what the landmark discriminator Dl sees as real. For the restoration tasks (the paper's other
applications) x is y itself, degraded (grey, with a hole, or a pencil sketch; see
:mod:`landmarkgan.data.degradations`), and the labels are y's own.
"""

from __future__ import annotations

import os
import zlib

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from landmarkgan.data.images import load_image, resize_image
from landmarkgan.data.manifest import Sample, manifest_path, read_manifest
from landmarkgan.data.degradations import TASKS, degrade, hole_mask
from landmarkgan.data.pairs import own_pairs, pair_array
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS, NUM_INTENSITIES, canonical_expression
from landmarkgan.landmarks.encoding import landmark_image


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """RGB uint8 (H, W, 3) -> float (3, H, W) in [-1, 1], the generators' Tanh range."""
    return torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """The inverse of :func:`to_tensor` for a batch, as an image is saved: (B, 3, H, W) in [-1, 1] ->
    (B, H, W, 3) uint8, ``round((x + 1) * 127.5)`` after clamping to [-1, 1]."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.permute(0, 2, 3, 1).cpu().numpy()


def resize_face(image: np.ndarray, landmarks: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize a face image to size x size (bicubic) and scale its landmarks with it.

    Landmarks are in pixel-centre coordinates (pixel i covers [i - 0.5, i + 0.5]), so a point
    maps as (p + 0.5) * scale - 0.5.
    """
    h, w = image.shape[:2]
    if (h, w) == (size, size):
        return image, landmarks
    resized = resize_image(image, size)
    scale = np.array([size / w, size / h], dtype=np.float32)
    return resized, ((landmarks + 0.5) * scale - 0.5).astype(np.float32)


class ExpressionPairDataset(Dataset):
    """Pairs of a manifest's ``split`` (see :mod:`landmarkgan.data.pairs`) as training items.

    Args:
        root: data folder holding ``manifest.jsonl`` (or the manifest file itself).
        split: "train" or "test".
        image_size: side S of the square images; None takes the size of the split's first image
            file. Files of another size are resized to S x S (landmarks follow).
        pairs: "all" pairs or a seeded "sample" of ``num_pairs`` of them.
        expressions: the label list (e.g. a trained model's); by default the manifest's
            expressions in :data:`~landmarkgan.expressions.EXPRESSIONS` order.
        cache_mb: memory (MiB) that decoded images, landmark images and degraded images may take once
            made, so each file is decoded and each landmark image drawn once; 0 turns the cache off. Images
            past the budget are made again every time. Every DataLoader worker holds its own cache.
        task: "expression" (pairs of two images, :func:`~landmarkgan.data.pairs.pair_array`), or a
            restoration task ("colorize", "inpaint", "sketch"): every image paired with itself
            (:func:`~landmarkgan.data.pairs.own_pairs`), its degraded version as x; the inpainting hole of
            each image is seeded by its file name, so it is the same in every run.

    Items are dicts: ``x``, ``y`` and ``target_landmark_image`` (float (3, S, S) in [-1, 1]),
    ``source_label``/``target_label`` (long index into ``expressions``), ``source_intensity``/
    ``target_intensity`` (long 0..4, 0 = none), ``source_landmarks``/``target_landmarks``
    (float (68, 2), pixels of the S x S image) and ``source_index``/``target_index`` (manifest rows).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        image_size: int | None = None,
        pairs: str = "all",
        num_pairs: int | None = None,
        seed: int = 0,
        expressions: tuple[str, ...] | list[str] | None = None,
        cache_mb: float = 4096,
        task: str = "expression",
    ) -> None:
        if task not in TASKS:
            raise LandmarkGANError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
        self.task = task
        self.root = manifest_path(root).parent
        self.samples: list[Sample] = read_manifest(root)
        present = {s.expression for s in self.samples}
        if expressions is None:
            self.expressions = tuple(e for e in EXPRESSIONS if e in present)
        else:
            self.expressions = tuple(canonical_expression(e) for e in expressions)
            unknown = sorted(present - set(self.expressions))
            if unknown:
                raise LandmarkGANError(
                    f"{manifest_path(root)} has expression(s) {', '.join(unknown)} that are not among "
                    f"the expressions given ({', '.join(self.expressions)})"
                )
        if image_size is not None and image_size < 1:
            raise LandmarkGANError(f"image size must be positive, got {image_size}")
        self.num_intensities = NUM_INTENSITIES if any(s.intensity > 0 for s in self.samples) else 0
        self.split = split
        if task == "expression":
            self.pairs = pair_array(self.samples, split, pairs, num_pairs, seed)
        else:
            self.pairs = own_pairs(self.samples, split, pairs, num_pairs, seed)
        if not 0 <= cache_mb < float("inf"):
            raise LandmarkGANError(f"the image cache size must be a number of MiB, at least 0, got {cache_mb}")
        self._cache_room = int(cache_mb * 2**20)  # bytes left in the cache
        self._faces: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._landmark_images: dict[int, np.ndarray] = {}
        self._degraded: dict[int, np.ndarray] = {}
        self.image_size = image_size or self._load(int(self.pairs[0, 0])).shape[0]

    def __len__(self) -> int:
        return len(self.pairs)

    def face(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Manifest row ``index`` as (RGB uint8 (S, S, 3), landmarks (68, 2) in its pixels)."""
        if index in self._faces:
            return self._faces[index]
        face = resize_face(self._load(index), self.samples[index].landmarks, self.image_size)
        if self._keep(face[0].nbytes + face[1].nbytes):
            self._faces[index] = face
        return face

    def _keep(self, nbytes: int) -> bool:
        """Whether an item of ``nbytes`` still fits in the cache (then it is counted as taken)."""
        if nbytes > self._cache_room:
            return False
        self._cache_room -= nbytes
        return True

    def train_landmarks(self) -> np.ndarray:
        """The 68 landmarks of every image of the training split, (N, 68, 2) in pixels of the S x S
        images: what the point distribution model is fitted on. Reads only the files' headers."""
        rows = [i for i, s in enumerate(self.samples) if s.split == "train"]
        if not rows:
            raise LandmarkGANError(f"{manifest_path(self.root)} has no training images")
        shapes = []
        for i in rows:
            path = self.root / self.samples[i].image
            try:
                with Image.open(path) as im:
                    width, height = im.size
            except (OSError, ValueError) as e:
                raise LandmarkGANError(f"cannot read {path} as an image ({e}); is the file missing or corrupt?") from None
            scale = np.array([self.image_size / width, self.image_size / height], dtype=np.float32)
            shapes.append((self.samples[i].landmarks + 0.5) * scale - 0.5)
        return np.stack(shapes)

    def _load(self, index: int) -> np.ndarray:
        """The image file of manifest row ``index``, which must be square (an aligned face crop)."""
        path = self.root / self.samples[index].image
        image = load_image(path)
        if image.shape[0] != image.shape[1]:
            raise LandmarkGANError(
                f"{path} is {image.shape[1]}x{image.shape[0]}, not square; data folders hold aligned square "
                "face crops: make them with `landmarkgan prepare`"
            )
        return image

    def landmark_image(self, index: int) -> np.ndarray:
        """The paper's landmark image of manifest row ``index`` (uint8 (S, S, 3))."""
        if index in self._landmark_images:
            return self._landmark_images[index]
        encoded = landmark_image(*self.face(index))
        if self._keep(encoded.nbytes):
            self._landmark_images[index] = encoded
        return encoded

    def source_image(self, index: int) -> np.ndarray:
        """What the model reads of manifest row ``index`` (uint8 (S, S, 3)): the face, degraded for a
        restoration task (its inpainting hole seeded by the image's file name)."""
        if self.task == "expression":
            return self.face(index)[0]
        if index in self._degraded:
            return self._degraded[index]
        degraded = degrade(self.task, *self.face(index), self._hole_seed(index))
        if self._keep(degraded.nbytes):
            self._degraded[index] = degraded
        return degraded

    def hole(self, index: int) -> np.ndarray:
        """The inpainting hole of manifest row ``index``: bool (S, S), True where its source image is missing."""
        return hole_mask(self.image_size, self.face(index)[1], self._hole_seed(index))

    def _hole_seed(self, index: int) -> int:
        """The seed of an image's inpainting hole: the CRC-32 of its file name, the same in every run and split."""
        return zlib.crc32(self.samples[index].image.encode())

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i, j = (int(v) for v in self.pairs[k])
        x_landmarks = self.face(i)[1]
        x = self.source_image(i)
        y, y_landmarks = self.face(j)
        source, target = self.samples[i], self.samples[j]
        return {
            "x": to_tensor(x),
            "y": to_tensor(y),
            "target_landmark_image": to_tensor(self.landmark_image(j)),
            "source_label": torch.tensor(self.expressions.index(source.expression), dtype=torch.long),
            "target_label": torch.tensor(self.expressions.index(target.expression), dtype=torch.long),
            "source_intensity": torch.tensor(source.intensity, dtype=torch.long),
            "target_intensity": torch.tensor(target.intensity, dtype=torch.long),
            "source_landmarks": torch.from_numpy(x_landmarks.copy()),
            "target_landmarks": torch.from_numpy(y_landmarks.copy()),
            "source_index": torch.tensor(i, dtype=torch.long),
            "target_index": torch.tensor(j, dtype=torch.long),
        }
