"""The page's control fields, checked like every other form field: an expression or a mix, a decimal intensity,
region strengths, another face's expression (``like``) and dragged landmarks (``moves``).

Each field is short text; numbers are read with patterns, JSON fields are bounded in size before they are parsed,
and every value is checked for its range. A bad field is a LandmarkGANError naming it and showing what it takes.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.inference.control import MAX_INTENSITY, parse_mix, parse_regions
from landmarkgan.landmarks.ibug68 import NUM_LANDMARKS

MAX_JSON_CHARS = 64 * 1024  # a moves or like field longer than this is refused before it is parsed
MAX_MOVES = 16 * NUM_LANDMARKS  # every point of 16 faces
MAX_FACE_NUMBER = 63
_DECIMAL = re.compile(r"[0-9]{1,3}(\.[0-9]{1,6})?")


@dataclass
class FormControls:
    """The control fields of one request: ``expression`` (a name, a mix or None), ``intensity`` (None: the
    default), ``regions`` (None: all 1), ``like`` (another face's expression, (68, 2) frame pixels, or None) and
    ``moves`` ({face number: (68, 2) offsets of its landmarks in the photo's pixels})."""

    expression: str | dict[str, float] | None = None
    intensity: int | float | None = None
    regions: dict[str, float] | None = None
    like: np.ndarray | None = None
    moves: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def beyond_labels(self) -> bool:
        """Whether anything but an expression and an intensity was asked."""
        return bool(self.regions) or self.like is not None or bool(self.moves)


def form_controls(expression: str, intensity: str, regions: str, like: str, moves: str,
                  image_size: int) -> FormControls:
    """Every control field checked; ``image_size`` bounds a like expression (pixels of the model's frame)."""
    return FormControls(form_expression(expression), form_intensity(intensity), form_regions(regions),
                        form_like(like, image_size), form_moves(moves))


def form_expression(value: str) -> str | dict[str, float] | None:
    """The expression field: empty for none, a name, or a mix such as happy:0.6,surprise:0.4."""
    if not value.strip():
        return None
    mix = parse_mix(value)
    return next(iter(mix)) if len(mix) == 1 else mix


def form_intensity(value: str) -> int | float | None:
    """The intensity field: empty for the default, a whole number (a level the model learned), or a decimal such
    as 2.5 (its range is the control's check)."""
    text = value.strip()
    if not text:
        return None
    if not _DECIMAL.fullmatch(text):
        raise LandmarkGANError(f"intensity must be a number such as 3 or 2.5 (0 = the face's own expression, up to "
                               f"{MAX_INTENSITY:g}), got {quoted(value)}")
    return int(text) if "." not in text else float(text)


def form_regions(value: str) -> dict[str, float] | None:
    """The regions field: empty for none, else region=factor pairs such as mouth=1.5,eyes=0.5."""
    if not value.strip():
        return None
    if len(value) > 400:
        raise LandmarkGANError(f"regions is too long ({len(value)} characters); give pairs such as mouth=1.5,eyes=0.5")
    return parse_regions([value])


def form_like(value: str, image_size: int) -> np.ndarray | None:
    """The like field: empty for none, else the expression /api/like answered, 68 [dx, dy] pairs in pixels of the
    model's frame, each within the frame's side."""
    if not value.strip():
        return None
    points = _json_numbers("like", value, (NUM_LANDMARKS, 2), "the 68 [dx, dy] pairs /api/like answers")
    if np.abs(points).max() > image_size:
        raise LandmarkGANError(f"like moves a landmark by more than the face's frame ({image_size} pixels); send the "
                               "expression /api/like answered")
    return points


def form_moves(value: str) -> dict[int, np.ndarray]:
    """The moves field: empty for none, else a JSON list of [face, point, dx, dy]: landmark ``point`` (0..67) of
    face number ``face`` moved by (dx, dy) pixels of the photo. Several moves of one point add up."""
    if not value.strip():
        return {}
    rows = _json_numbers("moves", value, (-1, 4), "a list of [face, point, dx, dy]")
    if len(rows) > MAX_MOVES:
        raise LandmarkGANError(f"moves holds {len(rows)} entries; at most {MAX_MOVES}")
    moves: dict[int, np.ndarray] = {}
    for face, point, dx, dy in rows.tolist():
        if not (face.is_integer() and 0 <= face <= MAX_FACE_NUMBER and point.is_integer() and 0 <= point < 68):
            raise LandmarkGANError(f"each move is [face, point, dx, dy] with a face number from 0 to {MAX_FACE_NUMBER} "
                                   f"and a point from 0 to 67, got [{face:g}, {point:g}]")
        if max(abs(dx), abs(dy)) > 100_000:
            raise LandmarkGANError(f"a move of {max(abs(dx), abs(dy)):g} pixels is larger than any photo")
        offsets = moves.setdefault(int(face), np.zeros((NUM_LANDMARKS, 2)))
        offsets[int(point)] += (dx, dy)
    return moves


def _json_numbers(name: str, value: str, shape: tuple[int, int], what: str) -> np.ndarray:
    """A JSON field of finite numbers in ``shape`` (-1: any length), as float64."""
    if len(value) > MAX_JSON_CHARS:
        raise LandmarkGANError(f"{name} is too long ({len(value)} characters, at most {MAX_JSON_CHARS})")
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        raise LandmarkGANError(f"{name} must be JSON: {what}") from None
    rows = parsed if isinstance(parsed, list) else None
    if (rows is None or not all(isinstance(r, list) and len(r) == shape[1] for r in rows)
            or not all(_finite(v) for r in rows for v in r)
            or (shape[0] >= 0 and len(rows) != shape[0])):
        raise LandmarkGANError(f"{name} must be {what}, of finite numbers")
    return np.array(rows, dtype=np.float64).reshape(-1, shape[1])


def _finite(value: object) -> bool:
    """A JSON number that is finite as a float (not a boolean, not an integer too large for one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) < 1e15 if isinstance(value, int) else math.isfinite(value)
