"""Landmarks drawn for people: the 68 points joined into jaw, brows, nose, eyes and lips."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from landmarkgan.landmarks.ibug68 import GROUPS, check_landmarks

SUPERSAMPLE = 4  # draw at 4x and filter down, for smooth lines


def draw_landmarks(
    image: np.ndarray,
    landmarks: np.ndarray,
    colour: tuple[int, int, int] = (0, 255, 64),
    width: float | None = None,
) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with the 68 ``landmarks`` drawn as contours and dots.

    ``width`` is the line width in pixels (default: about 1/200 of the image side, at least 1).
    """
    points = check_landmarks(landmarks, "landmarks to draw")
    base = Image.fromarray(np.ascontiguousarray(image)).convert("RGB")
    h, w = base.height, base.width
    width = max(1.0, min(h, w) / 200) if width is None else width
    f = SUPERSAMPLE
    overlay = Image.new("RGBA", (w * f, h * f), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    scaled = (points + 0.5) * f  # pixel centres -> supersampled canvas
    line = max(1, int(round(width * f)))
    for start, end, closed in GROUPS.values():
        xy = [tuple(p) for p in scaled[start:end]]
        if closed:
            xy.append(xy[0])
        draw.line(xy, fill=(*colour, 255), width=line, joint="curve")
    dot = 1.2 * width * f
    for x, y in scaled:
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=(255, 255, 255, 255), outline=(*colour, 255))
    overlay = overlay.resize((w, h), Image.Resampling.BOX)
    base.paste(overlay, (0, 0), overlay)
    return np.asarray(base)
