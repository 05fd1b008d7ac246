"""Where the warp generator's refinement goes into a face: over the whole face, as trained ("face"), or only around
the mouth and the eyes ("features"), the warp alone elsewhere.

The refinement paints what moving the face cannot: an open mouth's inside, teeth, folds. A model that learned it on
drawn faces paints streaks across the forehead and cheeks of a photo; kept to the features, the photo keeps its own
skin, brows and hair (moved by the warp) and gets the painted mouth and eyes (docs/default_model.md).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from landmarkgan.errors import LandmarkGANError, quoted

REFINEMENT_AREAS = ("face", "features")
FEATURES = (tuple(range(48, 60)), tuple(range(36, 42)), tuple(range(42, 48)))  # the outer lips and each eye
GROW = 1.8  # each feature's outline is scaled about its centre by this, to take in the skin it folds
EDGE = 2 / 128  # the area's soft edge: a Gaussian blur of this share of the face's side


def check_refinement_area(area: object) -> None:
    """Refuse anything but None (the model's own choice) or one of :data:`REFINEMENT_AREAS`."""
    if area is not None and area not in REFINEMENT_AREAS:
        raise LandmarkGANError(f"unknown refinement area {quoted(area)}; use one of: {', '.join(REFINEMENT_AREAS)}")


def feature_area(points: np.ndarray, size: int) -> torch.Tensor:
    """(N, 1, size, size) in [0, 1]: 1 over the mouth and the eyes of each face's 68 landmarks (N, 68, 2) in pixels
    of the model's frame, each outline grown by :data:`GROW`, fading to 0 over a soft edge."""
    masks = []
    for face in np.asarray(points, dtype=np.float64):
        mask = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(mask)
        for feature in FEATURES:
            outline = face[list(feature)]
            centre = outline.mean(axis=0)
            draw.polygon([tuple(p) for p in centre + (outline - centre) * GROW], fill=255)
        mask = mask.filter(ImageFilter.GaussianBlur(EDGE * size))
        masks.append(torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255))
    return torch.stack(masks)[:, None]


def keep_to_area(out: dict, area: str) -> None:
    """Limit the refinement in a warp generator's output ``out`` (with "image", "warped", "landmarks") to ``area``:
    ``warped + mask * (image - warped)``, in place; nothing changes for "face" or a model without a warp."""
    check_refinement_area(area)
    if area == "face" or out.get("warped") is None:
        return
    image, warped = out["image"], out["warped"]
    mask = feature_area(out["landmarks"].float().cpu().numpy(), image.shape[-1]).to(image)
    out["image"] = warped + mask * (image - warped)
