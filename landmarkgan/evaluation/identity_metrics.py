"""LandmarkGAN's face verification score: does the generated face keep the person's identity?

The paper reports a face verification score (RaFD: 0.981). We compute it with dlib's face
recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``): each face becomes a 128-d
descriptor, and a pair (generated face, real face of the same person) is verified when their
Euclidean distance is below dlib's same-person threshold 0.6. The face is aligned with
dlib.get_face_chip from its 68 landmarks when they are given (LandmarkGAN's stage I predicts
them for generated faces), else from dlib's HOG face detector and 68-point shape predictor.

An image where no face is found gets a descriptor row of NaN; pairs with such a row are left
out of the scores and counted in ``IdentityReport.missing``, never raised as an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from tqdm import tqdm

from landmarkgan.errors import LandmarkGANError
from landmarkgan.data.dataset import to_uint8
from landmarkgan.dlib_files import packaged_model_path
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.models.identity import MODEL_FILE, face_chip

VERIFICATION_THRESHOLD = 0.6  # dlib's same-person distance for this model
DESCRIPTOR_DIM = 128


@lru_cache(maxsize=None)
def _recogniser() -> object:
    """dlib's face recognition ResNet, loaded once per process."""
    import dlib

    path = packaged_model_path(MODEL_FILE)
    if not path.is_file():
        raise LandmarkGANError(
            f"dlib model file {path} not found; it ships with face_recognition_models: "
            "pip install --force-reinstall face_recognition_models"
        )
    return dlib.face_recognition_model_v1(str(path))


def detect_landmarks(image: np.ndarray, upsample: int = 1) -> np.ndarray | None:
    """68 (x, y) landmarks of the most confident face dlib's HOG detector finds, or None."""
    found = FaceLandmarkDetector(upsample=upsample).detect(image)
    return found[0].landmarks.astype(np.float64) if found else None


def _check_image(image: np.ndarray, index: int) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(
            f"image {index} must be an (H, W, 3) uint8 RGB array, got {image.dtype} {image.shape}; "
            "convert tensors in [-1, 1] with to_uint8_images"
        )
    return np.ascontiguousarray(image)


def to_uint8_images(images: torch.Tensor) -> list[np.ndarray]:
    """(N, 3, H, W) images in LandmarkGAN's [-1, 1] range to a list of (H, W, 3) uint8 arrays."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise LandmarkGANError(f"expected a (N, 3, H, W) image tensor, got shape {tuple(images.shape)}")
    return list(to_uint8(images))


def face_descriptors(
    images_uint8: Sequence[np.ndarray],
    landmarks: Sequence[np.ndarray | None] | None = None,
    *,
    upsample: int = 1,
    progress: bool = False,
) -> np.ndarray:
    """dlib's (N, 128) face descriptors of N RGB uint8 images; NaN rows where no face was found.

    landmarks: per image, its 68 (x, y) landmarks (iBUG 300-W order) to align the face chip
    with, or None for that image (or for all) to detect the face with dlib's HOG detector
    (``upsample`` times upsampled) and shape predictor.
    """
    if landmarks is not None and len(landmarks) != len(images_uint8):
        raise LandmarkGANError(f"got {len(landmarks)} landmark sets for {len(images_uint8)} images")
    recogniser = _recogniser()
    descriptors = np.full((len(images_uint8), DESCRIPTOR_DIM), np.nan)
    items = tqdm(range(len(images_uint8)), desc="face descriptors", unit="face", disable=not progress)
    for index in items:
        image = _check_image(images_uint8[index], index)
        points = landmarks[index] if landmarks is not None else None
        if points is None:
            points = detect_landmarks(image, upsample)
            if points is None:
                continue
        chip = face_chip(image, points)
        descriptors[index] = np.asarray(recogniser.compute_face_descriptor(chip))
    return descriptors


def _pair_distances(desc_a: np.ndarray, desc_b: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pair (row i of a, row i of b); NaN where either row is missing."""
    a, b = np.asarray(desc_a, dtype=np.float64), np.asarray(desc_b, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape:
        raise LandmarkGANError(f"descriptor arrays must both be (N, D) of the same shape, got {a.shape} and {b.shape}")
    return np.linalg.norm(a - b, axis=1)


def verification_rate(desc_a: np.ndarray, desc_b: np.ndarray, threshold: float = VERIFICATION_THRESHOLD) -> float:
    """Fraction of pairs (with a face in both images) whose distance is below ``threshold``; NaN if none."""
    distances = _pair_distances(desc_a, desc_b)
    found = distances[np.isfinite(distances)]
    return float(np.mean(found < threshold)) if found.size else float("nan")


def mean_identity_distance(desc_a: np.ndarray, desc_b: np.ndarray) -> float:
    """Mean descriptor distance over the pairs with a face in both images; NaN if none."""
    distances = _pair_distances(desc_a, desc_b)
    found = distances[np.isfinite(distances)]
    return float(found.mean()) if found.size else float("nan")


@dataclass(frozen=True)
class IdentityReport:
    """The face verification score of a set of (generated, real) pairs, and how many were usable."""

    verification_rate: float
    mean_distance: float
    pairs: int
    missing: int
    threshold: float = VERIFICATION_THRESHOLD


def identity_report(
    desc_a: np.ndarray, desc_b: np.ndarray, threshold: float = VERIFICATION_THRESHOLD
) -> IdentityReport:
    """Verification rate, mean distance, number of pairs scored and of pairs lacking a face."""
    distances = _pair_distances(desc_a, desc_b)
    missing = int((~np.isfinite(distances)).sum())
    return IdentityReport(
        verification_rate=verification_rate(desc_a, desc_b, threshold),
        mean_distance=mean_identity_distance(desc_a, desc_b),
        pairs=len(distances) - missing,
        missing=missing,
        threshold=threshold,
    )
