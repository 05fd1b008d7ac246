"""The paper's other applications as degradations: what the model restores a face from.

LandmarkGAN is task-agnostic (the paper's Fig. 10): trained on pairs (degraded y, y) instead of (x, y), the
same two-stage model colourises, inpaints and turns sketches into faces. Each degradation here is
deterministic, so training and test pairs are fixed:

* ``colorize``: y in grey (ITU-R 601 luma, Pillow's "L"), kept as 3 equal channels;
* ``inpaint``: a white square hole, 96 x 96 at 256 x 256 (the paper's) scaled with the image side, placed so
  that one important part of the face (an eye, the nose or the mouth, from the landmarks) is wholly missing,
  its part and position drawn from a seed;
* ``sketch``: a pencil sketch: the grey image colour-dodged by its blurred inverse, ``min(255, 255 g / (255 -
  blur(255 - g)))``, which is white where the image is flat and dark along its edges.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.ibug68 import check_landmarks

TASKS = ("expression", "colorize", "inpaint", "sketch")
HOLE_SIDE = 96  # the paper's hole, in pixels of a 256 x 256 image
REFERENCE_SIZE = 256
HOLE_FILL = 255  # the hole is white
SKETCH_SIGMA = 4.0  # blur of the inverted grey image, in pixels of a 256 x 256 image
# the parts a hole must cover (one of them, wholly): iBUG-68 point ranges
FACE_PARTS: dict[str, range] = {
    "right eye": range(36, 42), "left eye": range(42, 48), "nose": range(27, 36), "mouth": range(48, 68),
}


def greyscale(image: np.ndarray) -> np.ndarray:
    """An RGB uint8 (H, W, 3) image in grey (Pillow's ITU-R 601 luma), as 3 equal channels."""
    grey = np.asarray(Image.fromarray(_checked(image)).convert("L"))
    return np.repeat(grey[..., None], 3, axis=2)


def sketch(image: np.ndarray) -> np.ndarray:
    """A pencil sketch of an RGB uint8 (H, W, 3) image: its grey, colour-dodged by its blurred inverse (3 grey
    channels). The blur's sigma is :data:`SKETCH_SIGMA` pixels at 256 x 256, scaled with the image width."""
    grey = greyscale(image)[..., 0].astype(np.float64)
    blurred = gaussian_filter(255.0 - grey, SKETCH_SIGMA * grey.shape[1] / REFERENCE_SIZE, mode="nearest")
    room = 255.0 - blurred
    dodged = np.where(room > 0, grey * 255.0 / np.maximum(room, 1e-9), 255.0)
    out = np.round(np.clip(dodged, 0, 255)).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


def hole_side(image_size: int) -> int:
    """The side of the inpainting hole for images of ``image_size``: 96 at 256, proportionally elsewhere."""
    return max(1, round(HOLE_SIDE * image_size / REFERENCE_SIZE))


def hole_mask(image_size: int, landmarks: np.ndarray, seed: int) -> np.ndarray:
    """Boolean (S, S), True in a square hole of :func:`hole_side` that wholly covers one face part.

    The seed picks the part (of :data:`FACE_PARTS`) and the hole's position among those that cover every
    pixel holding one of its landmarks and stay inside the image; a part too large for the hole (or cut by
    the border) gets the hole centred on it instead.
    """
    points = check_landmarks(landmarks, "the face's landmarks")
    rng = np.random.default_rng(seed)
    part = list(FACE_PARTS.values())[rng.integers(len(FACE_PARTS))]
    side = hole_side(image_size)
    corner = []
    for axis in (0, 1):
        values = points[list(part), axis]
        low, high = int(np.floor(values.min() + 0.5)), int(np.floor(values.max() + 0.5))  # the pixels they lie in
        first, last = max(high - side + 1, 0), min(low, image_size - side)
        if first <= last:
            corner.append(int(rng.integers(first, last + 1)))
        else:
            corner.append(int(np.clip(round((low + high + 1 - side) / 2), 0, image_size - side)))
    mask = np.zeros((image_size, image_size), dtype=bool)
    mask[corner[1] : corner[1] + side, corner[0] : corner[0] + side] = True
    return mask


def fill_hole(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with the pixels where ``mask`` (H, W) is True painted white."""
    image = _checked(image)
    mask = np.asarray(mask)
    if mask.shape != image.shape[:2]:
        raise LandmarkGANError(f"the inpainting mask is {mask.shape[1]}x{mask.shape[0]} but the image "
                               f"{image.shape[1]}x{image.shape[0]}; give a mask of the image's size")
    out = image.copy()
    out[mask.astype(bool)] = HOLE_FILL
    return out


def degrade(task: str, image: np.ndarray, landmarks: np.ndarray, seed: int) -> np.ndarray:
    """The input the model of ``task`` restores ``image`` (S, S, 3) uint8 from (``landmarks`` and ``seed`` place
    the inpainting hole); the image itself for the expression task."""
    if task == "expression":
        return image
    if task == "colorize":
        return greyscale(image)
    if task == "sketch":
        return sketch(image)
    if task == "inpaint":
        return fill_hole(image, hole_mask(image.shape[0], landmarks, seed))
    raise LandmarkGANError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")


def _checked(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise LandmarkGANError(f"a degradation needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return image
