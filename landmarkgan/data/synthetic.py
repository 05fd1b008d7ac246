"""The built-in synthetic facial-expression data set: stylised faces with exact landmarks.

A stand-in for FERG (cartoon characters, 7 expressions) with BU-3DFE's 4 intensity levels,
so the whole pipeline can be trained and tested without downloading anything. Each subject
(:func:`~landmarkgan.data.face_geometry.sample_identity`) is shown neutral once and with every
other expression at every intensity. The 68 landmarks are known by construction: the face is
drawn from the same curves the landmarks are sampled from (see :mod:`face_geometry`).

Rendering is anti-aliased: shapes are drawn with PIL at a multiple of the output size (at least
512 pixels a side) and box-filtered down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from landmarkgan.data.face_geometry import (
    FaceIdentity,
    FaceShape,
    face_shape,
    head_surroundings,
    pose_transform,
    sample_identity,
)
from landmarkgan.data.images import save_image
from landmarkgan.data.manifest import Sample, write_manifest
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import BASIC_EXPRESSIONS, canonical_expression

__all__ = ["FaceIdentity", "sample_identity", "render_face", "synthesize_dataset", "subject_name"]

MIN_SIZE, MAX_SIZE = 32, 2048
SUPERSAMPLED_SIDE = 512  # draw at least this many pixels a side before filtering down
IMAGES_DIR = "images"
Colour = tuple[int, int, int]
# colours inside an open mouth
MOUTH_COLOUR: Colour = (60, 20, 25)
TONGUE_COLOUR: Colour = (190, 80, 90)
UPPER_TEETH_COLOUR: Colour = (250, 248, 240)
LOWER_TEETH_COLOUR: Colour = (238, 236, 228)


def _shade(colour: Sequence[float], factor: float) -> Colour:
    return tuple(int(np.clip(round(c * factor), 0, 255)) for c in colour)  # type: ignore[return-value]


def _luminance(colour: Sequence[float]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _blend(a: Sequence[float], b: Sequence[float], t: float) -> Colour:
    t = float(np.clip(t, 0.0, 1.0))
    return tuple(int(round((1.0 - t) * x + t * y)) for x, y in zip(a, b))  # type: ignore[return-value]


class _Painter:
    """Draws canonical-frame shapes onto a supersampled canvas through the pose transform."""

    def __init__(self, size: int, factor: int, to_pixels: Callable[[np.ndarray], np.ndarray],
                 identity: FaceIdentity) -> None:
        self.factor = factor
        self.to_pixels = to_pixels
        side = size * factor
        top = np.asarray(identity.background_top, dtype=np.float64)
        bottom = np.asarray(identity.background_bottom, dtype=np.float64)
        ramp = np.linspace(0.0, 1.0, side)[:, None, None]
        column = np.round((1.0 - ramp) * top + ramp * bottom).astype(np.uint8)
        self.canvas = Image.fromarray(column).resize((side, side), Image.Resampling.NEAREST)
        self.draw = ImageDraw.Draw(self.canvas)
        # supersampled pixels per canonical unit, for line widths given in canonical units
        unit = to_pixels(np.array([[0.0, 0.0], [1.0, 0.0]]))
        self.unit = float(np.linalg.norm(unit[1] - unit[0])) * factor

    def xy(self, points: np.ndarray) -> list[float]:
        """Canonical points -> flat [x0, y0, x1, ...] supersampled canvas coordinates.

        Output pixel i spans supersampled pixels i*f .. i*f+f-1, so output coordinate x (pixel
        centres at integers) is supersampled x*f + (f-1)/2; PIL floors coordinates, so adding
        0.5 more makes it round them to the nearest pixel.
        """
        p = (self.to_pixels(points) + 0.5) * self.factor
        return p.ravel().tolist()

    def width(self, units: float) -> int:
        return max(1, int(round(units * self.unit)))

    def polygon(self, points: np.ndarray, fill: Colour, outline: Colour | None = None, width: float = 0.0) -> None:
        xy = self.xy(points)
        self.draw.polygon(xy, fill=fill)
        if outline is not None:
            self.draw.line(xy + xy[:2], fill=outline, width=self.width(width), joint="curve")

    def line(self, points: np.ndarray, fill: Colour, width: float) -> None:
        self.draw.line(self.xy(points), fill=fill, width=self.width(width), joint="curve")

    def clipped(self, clip: np.ndarray, paint: Callable[["_Painter"], None]) -> None:
        """Run ``paint`` but keep only what falls inside the polygon ``clip``."""
        xy = np.asarray(self.xy(clip)).reshape(-1, 2)
        x0, y0 = np.floor(xy.min(0)).astype(int) - 2
        x1, y1 = np.ceil(xy.max(0)).astype(int) + 2
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.canvas.width), min(y1, self.canvas.height)
        if x1 <= x0 or y1 <= y0:
            return
        box = (int(x0), int(y0), int(x1), int(y1))
        before = self.canvas.crop(box)
        paint(self)
        mask = Image.new("L", before.size, 0)
        ImageDraw.Draw(mask).polygon((xy - [x0, y0]).ravel().tolist(), fill=255)
        painted = self.canvas.crop(box)
        self.canvas.paste(Image.composite(painted, before, mask), box[:2])


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise LandmarkGANError(f"image size must be an integer from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    return int(size)


def render_face(
    identity: FaceIdentity, expression: str, intensity: int, size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one subject with one expression at one intensity (0 for neutral, else 1..4).

    Returns the RGB uint8 image (size, size, 3) and its 68 iBUG/300-W landmarks, float32 (68, 2),
    in pixel coordinates (the centre of pixel column i, row j is (i, j)). Deterministic: the same
    arguments always give the same pixels.
    """
    size = _check_size(size)
    shape = face_shape(identity, expression, intensity)
    to_pixels = pose_transform(identity, size)
    factor = max(2, -(-SUPERSAMPLED_SIDE // size))
    p = _Painter(size, factor, to_pixels, identity)
    c = shape.curves
    around = head_surroundings(identity)
    skin = identity.skin
    hair = identity.hair
    skin_line = _shade(skin, 0.72)
    brow = _blend(hair, (25, 18, 14), 0.4)
    if _luminance(brow) > 0.7 * _luminance(skin):  # light hair on darker skin: brows must still show
        brow = _shade(skin, 0.4)

    if "hair_back" in around:
        p.polygon(around["hair_back"], _shade(hair, 0.85), _shade(hair, 0.6), 0.008)
    p.polygon(around["neck"], _shade(skin, 0.86))
    p.polygon(around["shirt"], identity.shirt, _shade(identity.shirt, 0.7), 0.008)
    p.line(around["collar"], _shade(identity.shirt, 0.75), 0.012)
    for name in ("right", "left"):
        p.polygon(around[f"{name}_ear"], _shade(skin, 0.95), skin_line, 0.007)
        p.polygon(around[f"{name}_ear_inner"], _shade(skin, 0.82))
    face = np.concatenate([c["jaw"], c["skull"][1:-1]])
    p.polygon(face, skin, skin_line, 0.008)

    blush = shape.lines["blush"]
    if blush > 0.02:
        for side in (-1, 1):
            p.polygon(c[f"cheek_{side}"], _blend(skin, (235, 110, 120), 0.35 * blush))
    _draw_lines(p, shape, skin)
    for name in ("right", "left"):
        _draw_eye(p, c, name, identity)
        p.polygon(c[f"{name}_brow"], brow)
    _draw_nose(p, c, skin)
    _draw_mouth(p, shape, identity)
    if "hair_front" in around:
        p.polygon(around["hair_front"], hair, _shade(hair, 0.6), 0.008)
        if "hair_part" in around:
            p.line(around["hair_part"], _shade(hair, 0.6), 0.008)

    image = np.asarray(p.canvas.reduce(factor))
    landmarks = to_pixels(shape.landmarks).astype(np.float32)
    return image, landmarks


def _draw_lines(p: _Painter, shape: FaceShape, skin: Colour) -> None:
    """Expression lines, darker the stronger the expression: smile, forehead, frown, nose and smirk."""
    groups = {"smile_lines": "smile_line_", "forehead_lines": "forehead_line_",
              "frown_lines": "frown_line_", "nose_lines": "nose_line_", "smirk_line": "smirk_line_"}
    for key, prefix in groups.items():
        strength = shape.lines[key]
        if strength <= 0.02:
            continue
        colour = _blend(skin, _shade(skin, 0.55), 0.3 + 0.7 * min(strength, 1.0))
        for name, curve in shape.curves.items():
            if name.startswith(prefix):
                p.line(curve, colour, 0.007)


def _draw_eye(p: _Painter, c: dict[str, np.ndarray], name: str, identity: FaceIdentity) -> None:
    """Sclera, iris with pupil and glint (clipped to the lids), and the lid lines."""
    eye = c[f"{name}_eye"]
    p.polygon(eye, (246, 244, 240))

    def iris(q: _Painter) -> None:
        q.polygon(c[f"{name}_iris"], identity.iris_colour, _shade(identity.iris_colour, 0.6), 0.004)
        q.polygon(c[f"{name}_pupil"], (15, 12, 12))
        q.polygon(c[f"{name}_glint"], (255, 255, 255))

    p.clipped(eye, iris)
    p.line(c[f"{name}_eye_lower"], _shade(identity.skin, 0.6), 0.004)
    p.line(c[f"{name}_eye_upper"], (35, 25, 25), 0.011)


def _draw_nose(p: _Painter, c: dict[str, np.ndarray], skin: Colour) -> None:
    """A soft bridge shadow, the curve under the tip and two nostrils."""
    bridge = c["nose_bridge"]
    p.line(bridge[1:] + np.array([0.022, 0.0]), _shade(skin, 0.88), 0.012)
    bottom = c["nose_bottom"]
    p.line(bottom, _shade(skin, 0.62), 0.008)
    for side in (-1, 1):
        p.line(c[f"nose_wing_{side}"], _shade(skin, 0.7), 0.007)
    n = len(bottom)
    for k in (n // 4, n - 1 - n // 4):
        centre = bottom[k] + np.array([0.0, -0.012])
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        p.polygon(centre + np.stack([0.014 * np.cos(a), 0.007 * np.sin(a)], 1), _shade(skin, 0.45))


def _draw_mouth(p: _Painter, shape: FaceShape, identity: FaceIdentity) -> None:
    """Lips; an open mouth shows a dark inside with upper (and some lower) teeth and a tongue."""
    c = shape.curves
    p.polygon(c["lips_outer"], identity.lips, _shade(identity.lips, 0.7), 0.005)
    gap = c["lower_inner"][:, 1] - c["upper_inner"][:, 1]
    if gap.max() < 0.004:
        p.line(c["upper_inner"], _shade(identity.lips, 0.45), 0.007)
        return
    tooth = identity.tooth_height

    def inside(q: _Painter) -> None:
        q.polygon(c["mouth_inner"], MOUTH_COLOUR)
        lower = c["lower_inner"]
        tongue_centre = lower.mean(0) + np.array([0.0, -0.01])
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        half = 0.6 * (lower[:, 0].max() - lower[:, 0].min()) / 2
        q.polygon(tongue_centre + np.stack([half * np.cos(a), 0.035 * np.sin(a)], 1), TONGUE_COLOUR)
        upper = c["upper_inner"]
        q.polygon(np.concatenate([upper, (upper + [0.0, tooth])[::-1]]), UPPER_TEETH_COLOUR)
        if shape.lower_teeth > 0:
            h = tooth * shape.lower_teeth
            q.polygon(np.concatenate([lower, (lower - [0.0, h])[::-1]]), LOWER_TEETH_COLOUR)
        for x in np.linspace(-0.6, 0.6, 5) * (upper[:, 0].max() - upper[:, 0].min()) / 2:
            k = int(np.argmin(np.abs(upper[:, 0] - x)))
            q.line(np.array([upper[k], upper[k] + [0.0, tooth]]), (205, 200, 195), 0.003)

    p.clipped(c["mouth_inner"], inside)
    p.line(c["mouth_inner"], _shade(identity.lips, 0.5), 0.004)


def subject_name(index: int) -> str:
    """Subject id of the index-th synthetic identity, e.g. ``syn0007``."""
    return f"syn{index:04d}"


def synthesize_dataset(
    out_dir: str | os.PathLike,
    num_identities: int = 200,
    size: int = 128,
    seed: int = 0,
    expressions: Sequence[str] = BASIC_EXPRESSIONS,
    intensities: Sequence[int] = (1, 2, 3, 4),
    test_fraction: float = 0.2,
) -> list[Sample]:
    """Render a whole data set into ``out_dir``: PNGs under ``images/`` and ``manifest.jsonl``.

    Every identity is drawn neutral once (intensity 0) and with every other expression at every
    intensity. ``test_fraction`` of the identities (at least one when it is above 0) form the test
    split; the split is subject-disjoint and fixed by ``seed``, like everything else.
    """
    size = _check_size(size)
    if isinstance(num_identities, bool) or not isinstance(num_identities, (int, np.integer)) or num_identities < 1:
        raise LandmarkGANError(f"number of identities must be a positive integer, got {num_identities!r}")
    exprs = list(dict.fromkeys(canonical_expression(e) for e in expressions))
    if not exprs:
        raise LandmarkGANError("no expressions to synthesise; name at least one")
    levels = sorted(set(int(i) for i in intensities))
    if not levels or any(i not in (1, 2, 3, 4) for i in levels):
        raise LandmarkGANError(f"intensities must be among 1, 2, 3, 4 (4 strongest), got {list(intensities)}")
    if not 0.0 <= test_fraction < 1.0:
        raise LandmarkGANError(f"test fraction must be in [0, 1), got {test_fraction}")
    num_test = max(1, int(round(test_fraction * num_identities))) if test_fraction > 0 else 0
    if num_test >= num_identities:
        raise LandmarkGANError(
            f"a test fraction of {test_fraction} leaves no training identity out of {num_identities}; "
            "synthesise more identities or lower --test-fraction")

    rng = np.random.default_rng(seed)
    identities = [sample_identity(rng) for _ in range(num_identities)]
    test = set(np.random.default_rng([seed, 1]).permutation(num_identities)[:num_test].tolist())
    jobs = [(e, i) for e in exprs for i in ([0] if e == "neutral" else levels)]
    out = Path(out_dir)
    samples: list[Sample] = []
    with tqdm(total=num_identities * len(jobs), desc="synthesising faces", unit="img") as bar:
        for index, identity in enumerate(identities):
            subject = subject_name(index)
            for expression, level in jobs:
                image, landmarks = render_face(identity, expression, level, size)
                rel = f"{IMAGES_DIR}/{subject}_{expression}_{level}.png"
                save_image(image, out / rel)
                samples.append(Sample(image=rel, subject=subject, expression=expression, landmarks=landmarks,
                                      intensity=level, split="test" if index in test else "train"))
                bar.update(1)
    write_manifest(samples, out)
    return samples
