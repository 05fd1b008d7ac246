"""Aligning a face: a similarity transform (rotation, scale, shift) onto a fixed square frame.

The transform is the least-squares similarity that takes the face's stable landmarks (eyes and
nose, which expressions barely move) onto :data:`~landmarkgan.landmarks.ibug68.ALIGNED_TEMPLATE`,
so every prepared face (real or synthetic) sits at the same place and scale, and its
expression stays as it was. Coordinates are pixel centres: the centre of pixel (i, j) is (i, j).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.ibug68 import ALIGNED_TEMPLATE, STABLE_POINTS, check_landmarks

# Where dlib's face chip (get_face_chip, padding 0.25: what its face-recognition ResNet reads) lies in
# an aligned face, as fractions of the side (left, top, right, bottom); a test measures it with dlib.
FACE_CHIP_BOX = (0.22, 0.22, 0.78, 0.78)


class AlignedFace(NamedTuple):
    """An aligned face crop, its 68 landmarks in the crop's pixels, and the 2x3 matrix that maps
    a point of the original image to the crop (``crop = matrix[:, :2] @ p + matrix[:, 2]``)."""

    image: np.ndarray
    landmarks: np.ndarray
    matrix: np.ndarray


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity taking points ``source`` (N, 2) onto ``target`` (N, 2) (Umeyama)."""
    src_mean, tgt_mean = source.mean(0), target.mean(0)
    s, t = source - src_mean, target - tgt_mean
    norm = (s**2).sum()
    if norm <= 0:
        raise LandmarkGANError("cannot align a face whose landmarks all lie at one point")
    a = (s * t).sum() / norm
    b = (s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0]).sum() / norm
    rotation_scale = np.array([[a, -b], [b, a]])
    return np.concatenate([rotation_scale, (tgt_mean - rotation_scale @ src_mean)[:, None]], axis=1)


def apply_transform(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points with a 2x3 affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    """The 2x3 inverse of a 2x3 affine matrix."""
    inverse = np.linalg.inv(matrix[:, :2])
    return np.concatenate([inverse, (-inverse @ matrix[:, 2])[:, None]], axis=1)


def warp_image(image: np.ndarray, matrix: np.ndarray, size: int, fill: tuple[int, int, int] | None = None) -> np.ndarray:
    """Resample ``image`` (H, W, 3) uint8 into a size x size crop through the 2x3 ``matrix`` (bicubic).

    Where the crop reaches past the image, it repeats the border pixels (``fill=None``) or uses ``fill``.
    A crop much smaller than the face is first box-filtered down by an integer factor, so it is not aliased.
    """
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    factor = max(1, int(1.0 / scale)) if scale < 1 else 1
    pil = Image.fromarray(np.ascontiguousarray(image))
    if factor > 1:
        pil = pil.reduce(factor)  # pixel (i) of the reduced image covers i*f .. i*f+f-1
        # centre x of the original is (x - (f - 1) / 2) / f in the reduced image
        to_reduced = np.array([[1 / factor, 0, -(factor - 1) / (2 * factor)], [0, 1 / factor, -(factor - 1) / (2 * factor)]])
        matrix = matrix @ np.vstack([invert_transform(to_reduced), [0, 0, 1]])
    if fill is None:
        pad = int(np.ceil(size / max(scale * factor, 1e-6))) + 2  # enough border for any crop position
        padded = np.pad(np.asarray(pil), ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        pil = Image.fromarray(padded)
        matrix = matrix @ np.array([[1, 0, -pad], [0, 1, -pad], [0, 0, 1]])
    inverse = invert_transform(matrix)
    # PIL samples output pixel (x, y) at input point inverse((x + 0.5, y + 0.5)) in edge coordinates,
    # where the centre of input pixel i is i + 0.5: shift both sides by half a pixel.
    a, b, c = inverse[0]
    d, e, f = inverse[1]
    coeffs = (a, b, c + 0.5 - 0.5 * (a + b), d, e, f + 0.5 - 0.5 * (d + e))
    out = pil.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC,
                        fillcolor=fill)
    return np.asarray(out)


def align_face(image: np.ndarray, landmarks: np.ndarray, size: int = 256) -> AlignedFace:
    """Rotate, scale and crop a face to size x size so its stable landmarks land on the template."""
    if size < 16:
        raise LandmarkGANError(f"aligned face size must be at least 16 pixels, got {size}")
    points = check_landmarks(landmarks, "the face's landmarks")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(f"align_face needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    stable = list(STABLE_POINTS)
    target = (ALIGNED_TEMPLATE * size) - 0.5  # fractions of the side -> pixel centres
    matrix = similarity_transform(points[stable], target)
    aligned = warp_image(image, matrix, size)
    return AlignedFace(aligned, apply_transform(matrix, points).astype(np.float32), matrix)
