"""The palette refinement's colours and regions (``model.refinement_colours="palette"``, ours).

The palette refinement may not paint any colour anywhere: the colours it adds come from the person. This module says
which colours and where:

* :func:`palette_colours`: the colours, sampled from the source face at spots its landmarks define (iBUG-68 indices):
  the lips (between the outer and the inner lip lines), the skin (the cheeks, the chin), the teeth (inside the mouth
  under the upper lip when the source's mouth is open, else the sclera's colour), a dark mouth cavity derived from the
  lips, the sclera (between the iris and the eye corners) and the iris (the eye centres);
* :func:`palette_spots`: where they may appear: around the target's mouth and eyes (the generator's
  ``palette_region`` puts Gaussians there).

The face is averaged over a 3 x 3 neighbourhood before it is sampled, so one pixel of noise or grain does not make a
colour (but for the sclera, a few pixels between dark lids at 128 x 128: its spots are read one by one, and the
brightest value per channel is kept). Points are in the model's normalised frame (the image spans [0, 1]); images in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PALETTE = ("lips", "skin", "teeth", "cavity", "sclera", "iris")
CAVITY_SHADE = 0.3  # the mouth's dark inside: the lips' colour times this (in [0, 1] intensities)
OPEN_MOUTH = (0.1, 0.2)  # the inner lips' gap over the mouth's width: teeth are sampled from 0.2 on, not below 0.1

# (outer, inner) lip points whose midpoints lie on the lips: upper lip, then lower lip
LIP_PAIRS = ((50, 61), (51, 62), (52, 63), (58, 67), (57, 66), (56, 65))
# (a, b) pairs whose midpoints lie on the skin: the cheeks (jaw to nostril) and the chin (chin to lower lip)
SKIN_PAIRS = ((2, 31), (14, 35), (8, 57))
# (upper inner lip, lower inner lip) pairs: the teeth are sampled a quarter of the way from the upper to the lower
TEETH_PAIRS = ((61, 67), (62, 66), (63, 65))
EYES = (slice(36, 42), slice(42, 48))
EYE_CORNERS = (36, 39, 42, 45)
SCLERA_STEPS = (0.25, 0.4)  # the sclera is looked for these shares of the way from each eye corner to the eye's centre
MOUTH = slice(48, 68)
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65), (60, 64))  # across the opening: its middle is inside the mouth


def _midpoints(points: torch.Tensor, pairs: tuple[tuple[int, int], ...], t: float = 0.5) -> torch.Tensor:
    """(B, 68, 2) -> (B, len(pairs), 2): the points a share ``t`` of the way from the first of each pair to the second."""
    a = points[:, [p for p, _ in pairs]]
    b = points[:, [q for _, q in pairs]]
    return a + t * (b - a)


def _sample(image: torch.Tensor, spots: torch.Tensor, reduce: str = "mean") -> torch.Tensor:
    """``image`` (B, C, H, W) at ``spots`` (B, N, 2), bilinearly: their mean colour (B, C) of the image averaged over
    3 x 3 pixels, or with ``reduce="none"`` each spot's colour (B, C, N) of the image itself."""
    if reduce == "mean":
        image = F.avg_pool2d(image, 3, stride=1, padding=1, count_include_pad=False)
    grid = (spots * 2 - 1)[:, :, None, :].to(image.dtype)  # grid_sample's frame, align_corners=False
    values = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)[..., 0]
    return values.mean(dim=2) if reduce == "mean" else values


def mouth_openness(points: torch.Tensor) -> torch.Tensor:
    """How open the mouth of each face (B, 68, 2) is, from 0 (closed: the inner lips' gap at most 0.1 of the mouth's
    width) to 1 (0.2 or more): whether its teeth can be sampled. (B,)"""
    gap = (points[:, 66] - points[:, 62]).norm(dim=-1)
    width = (points[:, 54] - points[:, 48]).norm(dim=-1).clamp_min(1e-6)
    low, high = OPEN_MOUTH
    return ((gap / width - low) / (high - low)).clamp(0, 1)


def palette_colours(image: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """The person's palette: the colours of :data:`PALETTE` (B, 6, C) in [-1, 1], from the source face ``image``
    (B, C, H, W) in [-1, 1] at spots of its landmarks ``points`` (B, 68, 2, normalised).

    The teeth are the colour under the upper lip, mixed with the sclera's by :func:`mouth_openness` (a closed mouth
    shows no teeth, and the whites of the eyes are the nearest colour the person has); the cavity is the lips' colour
    times :data:`CAVITY_SHADE` in [0, 1] intensities.
    """
    lips = _sample(image, _midpoints(points, LIP_PAIRS))
    skin = _sample(image, _midpoints(points, SKIN_PAIRS))
    centres = torch.stack([points[:, eye].mean(dim=1) for eye in EYES], dim=1)
    corners = points[:, list(EYE_CORNERS)]
    towards = centres.repeat_interleave(2, dim=1)  # each corner's own eye centre
    sclera = torch.cat([_sample(image, corners + t * (towards - corners), reduce="none") for t in SCLERA_STEPS],
                       dim=2).amax(dim=2)
    iris = _sample(image, centres)
    under_lip = _sample(image, _midpoints(points, TEETH_PAIRS, 0.25))
    openness = mouth_openness(points)[:, None].to(image.dtype)
    teeth = openness * under_lip + (1 - openness) * sclera
    cavity = (lips + 1) * CAVITY_SHADE - 1
    return torch.stack([lips, skin, teeth, cavity, sclera, iris], dim=1)


def palette_spots(points: torch.Tensor) -> torch.Tensor:
    """Where the palette's colours may appear, as points (B, 38, 2) of the target's landmarks ``points`` (B, 68, 2):
    the mouth's 20 points, 4 midpoints across the inner lips (the middle of an opening), each eye's 6 points and
    its centre."""
    return torch.cat([points[:, MOUTH], _midpoints(points, INNER_LIP_PAIRS), *(points[:, eye] for eye in EYES),
                      torch.stack([points[:, eye].mean(dim=1) for eye in EYES], dim=1)], dim=1)
