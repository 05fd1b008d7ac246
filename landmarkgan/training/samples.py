"""Sample grids for people: one row per pair, columns source | generated landmarks | [warped |] output | target."""

from __future__ import annotations

import numpy as np
import torch

from landmarkgan.data.dataset import to_uint8


def sample_grid(batch: dict[str, torch.Tensor], output: dict[str, torch.Tensor], pad: int = 2) -> np.ndarray:
    """Tile source, generated landmark image, warped face (warp generator), generated face and target face for
    every pair."""
    landmark_image = output["landmark_image"]
    if landmark_image is None:  # the label-only baseline: a white column
        landmark_image = torch.ones_like(output["image"])
    warped = [to_uint8(output["warped"])] if output.get("warped") is not None else []
    columns = [to_uint8(batch["x"]), to_uint8(landmark_image), *warped, to_uint8(output["image"]), to_uint8(batch["y"])]
    b, h, w, _ = columns[0].shape
    grid = np.full((b * (h + pad) + pad, len(columns) * (w + pad) + pad, 3), 255, np.uint8)
    for row in range(b):
        for col, images in enumerate(columns):
            top, left = pad + row * (h + pad), pad + col * (w + pad)
            grid[top : top + h, left : left + w] = images[row]
    return grid
