"""The identity feature picture (the paper's Fig. 3): real and generated faces in one 2-D map of identity.

Every face becomes dlib's 128-d face descriptor (as for the verification score); scikit-learn's t-SNE lays
the real test faces and the generated faces out in two dimensions, one colour per subject, real faces as
circles and generated faces as crosses. A model that keeps identity puts each person's crosses among that
person's circles. The paper used VGG-19 fc7 features; dlib's descriptors are made for identity and are what
the verification score here uses.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from landmarkgan.errors import LandmarkGANError

MIN_FACES = 5  # t-SNE of fewer points says nothing
MAX_PERPLEXITY = 30.0  # scikit-learn's default, for enough faces
# matplotlib's tab10, then evenly spread hues for more subjects
TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
LEGEND_ROWS = 40  # subjects named in the legend; the rest are counted
PLOT, MARGIN, MARKER = 640, 24, 5


def tsne_embedding(descriptors: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, 2) t-SNE (scikit-learn, PCA start, seeded) of N descriptors (N, D).

    The perplexity is scikit-learn's default 30 where N allows, else (N - 1) / 3 (at least 1), so it stays
    below the number of points as t-SNE needs.
    """
    from sklearn.manifold import TSNE

    points = np.asarray(descriptors, dtype=np.float64)
    if points.ndim != 2 or len(points) < MIN_FACES or not np.isfinite(points).all():
        raise LandmarkGANError(f"t-SNE needs at least {MIN_FACES} finite descriptors (N, D), got {points.shape}")
    perplexity = float(np.clip((len(points) - 1) / 3, 1.0, MAX_PERPLEXITY))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def subject_colours(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct RGB colours: tab10's, then hues spread by the golden ratio."""
    colours = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in TAB10[:count]]
    for k in range(count - len(colours)):
        r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.75, 0.85)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


def identity_tsne_picture(
    real: np.ndarray,
    real_subjects: Sequence[str],
    generated: np.ndarray,
    generated_subjects: Sequence[str],
    seed: int = 0,
) -> np.ndarray:
    """The picture (RGB uint8) of the t-SNE of real and generated faces' descriptors, one colour per subject.

    Rows of NaN (faces without a descriptor) are left out; fewer than :data:`MIN_FACES` faces left is a
    :class:`LandmarkGANError` saying so.
    """
    real, generated = np.asarray(real, dtype=np.float64), np.asarray(generated, dtype=np.float64)
    if len(real) != len(real_subjects) or len(generated) != len(generated_subjects):
        raise LandmarkGANError(f"got {len(real)} real and {len(generated)} generated descriptors for "
                               f"{len(real_subjects)} and {len(generated_subjects)} subjects")
    descriptors = np.concatenate([real.reshape(len(real), -1), generated.reshape(len(generated), -1)])
    subjects = [*real_subjects, *generated_subjects]
    is_real = np.arange(len(descriptors)) < len(real)
    found = np.isfinite(descriptors).all(axis=1)
    if found.sum() < MIN_FACES:
        raise LandmarkGANError(f"only {int(found.sum())} face(s) have a descriptor; the t-SNE picture needs at "
                               f"least {MIN_FACES}")
    points = tsne_embedding(descriptors[found], seed)
    kept = [s for s, f in zip(subjects, found) if f]
    return _scatter(points, kept, is_real[found])


def _scatter(points: np.ndarray, subjects: list[str], is_real: np.ndarray) -> np.ndarray:
    names = sorted(set(subjects))
    colour = dict(zip(names, subject_colours(len(names))))
    font = ImageFont.load_default(size=14)
    row = 18
    legend_width = 40 + max(int(font.getlength(n)) for n in [*names[:LEGEND_ROWS], "identity t-SNE (dlib descriptors)"])
    height = max(PLOT, 8 + (min(len(names), LEGEND_ROWS) + 5) * row)
    image = Image.new("RGB", (PLOT + legend_width, height), "white")
    draw = ImageDraw.Draw(image)
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    xy = MARGIN + (points - low) / span * (PLOT - 2 * MARGIN)
    xy[:, 1] = PLOT - xy[:, 1]  # y up
    draw.rectangle((1, 1, PLOT - 2, PLOT - 2), outline=(200, 200, 200))
    for (x, y), subject, real in zip(xy, subjects, is_real):
        _marker(draw, x, y, colour[subject], real)
    left = PLOT + 10
    draw.text((left, 8), "identity t-SNE (dlib descriptors)", fill="black", font=font)
    for k, (label, real) in enumerate((("real (circle)", True), ("generated (cross)", False))):
        _marker(draw, left + MARKER, 8 + (k + 1.5) * row, (60, 60, 60), real)
        draw.text((left + 3 * MARKER, 8 + (k + 1) * row), label, fill="black", font=font)
    for k, name in enumerate(names[:LEGEND_ROWS]):
        top = 8 + (k + 4) * row
        draw.rectangle((left, top + 3, left + 2 * MARKER, top + 3 + 2 * MARKER), fill=colour[name])
        draw.text((left + 3 * MARKER, top), name, fill="black", font=font)
    if len(names) > LEGEND_ROWS:
        draw.text((left, 8 + (LEGEND_ROWS + 4) * row), f"and {len(names) - LEGEND_ROWS} more", fill="black", font=font)
    return np.asarray(image)


def _marker(draw: ImageDraw.ImageDraw, x: float, y: float, colour: tuple[int, int, int], real: bool) -> None:
    """A filled circle (a real face) or a cross (a generated face) at (x, y)."""
    if real:
        draw.ellipse((x - MARKER, y - MARKER, x + MARKER, y + MARKER), fill=colour)
    else:
        draw.line((x - MARKER, y - MARKER, x + MARKER, y + MARKER), fill=colour, width=2)
        draw.line((x - MARKER, y + MARKER, x + MARKER, y - MARKER), fill=colour, width=2)
