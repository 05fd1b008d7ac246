"""The paper's landmark image: where the facial parts are and what colour they have.

A white (255) canvas the size of the face image; every pixel within radius Sl of one of the 68
landmarks takes the face image's colour at that pixel. The paper uses Sl = 4 at 256 x 256; at
other sizes the radius scales with the image, so the disks cover the same part of the face
(never less than 1.5 pixels, so a small image still shows every point).
"""

from __future__ import annotations

import numpy as np
import torch

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.ibug68 import check_landmarks

SL = 4.0  # the paper's radius in pixels of a 256 x 256 image
REFERENCE_SIZE = 256
MIN_RADIUS = 1.5


def landmark_radius(image_size: int) -> float:
    """Sl for an image of side ``image_size``: 4 pixels at 256, proportionally elsewhere, at least 1.5."""
    return max(MIN_RADIUS, SL * image_size / REFERENCE_SIZE)


def landmark_mask(landmarks: np.ndarray, height: int, width: int, radius: float) -> np.ndarray:
    """Boolean (H, W): pixels whose centre lies within ``radius`` of a landmark (pixel-centre coordinates)."""
    mask = np.zeros((height, width), dtype=bool)
    r = int(np.ceil(radius))
    for x, y in landmarks:
        cx, cy = int(round(x)), int(round(y))
        x0, x1 = max(cx - r, 0), min(cx + r + 1, width)
        y0, y1 = max(cy - r, 0), min(cy + r + 1, height)
        if x0 >= x1 or y0 >= y1:
            continue  # the point lies off the image
        ys, xs = np.ogrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] |= (xs - x) ** 2 + (ys - y) ** 2 <= radius**2
    return mask


def landmark_image(image: np.ndarray, landmarks: np.ndarray, radius: float | None = None) -> np.ndarray:
    """The landmark image of ``image`` (H, W, 3) uint8 with its 68 landmarks (pixels): uint8 (H, W, 3).

    ``radius`` is Sl in pixels of this image; by default :func:`landmark_radius` of its width.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(f"the landmark image needs an (H, W, 3) uint8 face image, got {image.dtype} {image.shape}")
    points = check_landmarks(landmarks)
    h, w = image.shape[:2]
    mask = landmark_mask(points, h, w, landmark_radius(w) if radius is None else radius)
    out = np.full_like(image, 255)
    out[mask] = image[mask]
    return out


def soft_landmark_image(image: torch.Tensor, points: torch.Tensor, radius: float, softness: float = 0.5) -> torch.Tensor:
    """The landmark image drawn from points, differentiably: a white canvas on which soft disks of
    ``radius`` pixels around ``points`` (B, P, 2, normalised frame) show ``image`` (B, C, S, S) in [-1, 1].

    A pixel at distance d from the nearest point takes the image's colour with weight
    sigmoid((radius - d) / softness), so the disks' edges are ``softness`` pixels wide and gradients reach
    the points. The batched counterpart of :func:`landmark_image` (which the data side draws with hard disks).
    """
    size = image.shape[-1]
    centres = (torch.arange(size, device=image.device, dtype=points.dtype) + 0.5) / size
    px = points[..., 0:1] - centres  # (B, P, S): x distance from each column, normalised
    py = points[..., 1:2] - centres
    squared = (py[..., :, None] ** 2 + px[..., None, :] ** 2).amin(dim=1, keepdim=True)
    distance = (squared + 1e-12).sqrt() * size  # pixels; the epsilon keeps the gradient finite at a point
    mask = torch.sigmoid((radius - distance) / softness).to(image.dtype)
    return mask * image + (1 - mask)
