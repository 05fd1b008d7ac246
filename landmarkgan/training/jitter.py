"""Stage I's data augmentation (ours, not the paper's): each training pair seen by Gl and Dl is moved by a random
similarity transform (scale, rotation, shift), the source face, the target's landmark image and both landmark sets
alike. A head never sits twice at the same place, so Gl must read the face's geometry rather than recognise the
training subjects; stage II still trains on the pairs as they are."""

from __future__ import annotations

import torch

from landmarkgan.models.pdm import normalise, to_pixels
from landmarkgan.models.warp import affine_warp

Batch = dict[str, torch.Tensor]
IMAGES = ("x", "target_landmark_image")
POINTS = ("source_landmarks", "target_landmarks")


def random_similarities(n: int, amount: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random similarities of the [-1, 1] image frame, p -> A p + t: scale in 1 +- amount, rotation in
    +- amount radians, shift in +- amount (of half the image side). Drawn from torch's global generator on the
    CPU, so a resumed run draws the same ones."""
    u = (torch.rand(n, 4, dtype=torch.float64) * 2 - 1) * amount
    scale, angle = 1 + u[:, 0], u[:, 1]
    cos, sin = scale * torch.cos(angle), scale * torch.sin(angle)
    a = torch.stack([torch.stack([cos, -sin], dim=1), torch.stack([sin, cos], dim=1)], dim=1)
    return a, u[:, 2:]


def similarity_jitter(batch: Batch, amount: float) -> Batch:
    """``batch`` with its images and landmarks (pixel coordinates, pixel i covering [i - 0.5, i + 0.5]) moved by one
    random similarity per pair (:func:`random_similarities`); the other entries are kept. Pixels brought in from
    outside the image repeat its border."""
    x = batch["x"]
    n, size = x.shape[0], x.shape[-1]
    a, t = random_similarities(n, amount)
    inverse = torch.linalg.inv(a)
    theta = torch.cat([inverse, -inverse @ t[:, :, None]], dim=2)  # output pixel -> where to read it
    out = dict(batch)
    for key in IMAGES:
        if key in batch:
            out[key] = affine_warp(batch[key], theta)
    for key in POINTS:
        if key in batch:
            points = batch[key].to(torch.float64)
            frame = normalise(points, size) * 2 - 1  # the [-1, 1] frame of affine_grid
            moved = frame @ a.to(points.device).transpose(1, 2) + t.to(points.device)[:, None]
            out[key] = to_pixels((moved + 1) / 2, size).to(batch[key].dtype)
    return out
