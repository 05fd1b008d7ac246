"""Choosing a face's target landmarks: any intensity, mixed expressions, per-region strength and another face's
expression.

LandmarkGAN's stage II is driven by landmarks, so every control is a way to choose the 68 target landmarks, and the
face follows. Stage I says, for every label the model knows (an expression at an intensity level), how far each
landmark of a face moves: the label's displacement (:class:`FaceDisplacements`, computed once per face). A
:class:`Control` combines those displacements and adds them to the face's own landmarks:

* **intensity** t, for a model with 4 levels from 0 to 6: between two levels the displacement is interpolated
  (2.5: half of level 2's plus half of level 3's); below level 1, level 1's is scaled (0: no change, the face's own
  expression); above level 4, level 4's is scaled (6: 1.5 times level 4's). Neutral has one displacement, reached
  at 4. A model without intensity levels takes t as a strength factor on its displacements, from 0 to 1.5.
* **a mix** such as {"happy": 0.6, "surprise": 0.4}: the shares (scaled to sum to 1) weight each expression's
  displacement at the intensity.
* **regions** such as {"mouth": 1.5, "eyes": 0}: each landmark group's displacement is multiplied (0 keeps the
  face's own brows, eyes, nose, mouth or jaw line).
* **like**: another face's expression, its landmarks' displacement from its own neutral (stage I's neutral of that
  face), measured in its aligned frame, which takes out the face's size, position and in-plane rotation. This face
  takes it on: its target is its own neutral plus that displacement (times the intensity, 1 by default, up to 1.5).

Stage II also reads a label vector: the labels the displacements came from, weighted alike (for ``like``, the label
whose displacement is nearest). The warp generator's refinement fades in over the first intensity level, so at 0 the
face comes back as it was.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from landmarkgan.errors import LandmarkGANError, quoted
from landmarkgan.expressions import canonical_expression

Label = tuple[str, int]  # (expression, intensity level; 0 for neutral and for models without levels)

NEUTRAL: Label = ("neutral", 0)
MAX_INTENSITY = 6.0  # with intensity levels: 0 the face's own expression, 1..4 the levels learned, above exaggerated
MAX_STRENGTH = 1.5  # without levels, and for like=: a factor on the displacement (1 as learned or as copied)
MAX_REGION = 3.0
REGIONS: dict[str, tuple[int, ...]] = {  # iBUG-68 landmark groups (landmarkgan.landmarks.ibug68)
    "brows": tuple(range(17, 27)),
    "eyes": tuple(range(36, 48)),
    "nose": tuple(range(27, 36)),
    "mouth": tuple(range(48, 68)),
    "jaw": tuple(range(0, 17)),
}
_NUMBER = r"[0-9]{1,3}(?:\.[0-9]{1,6})?"


@dataclass(frozen=True, eq=False)
class FaceDisplacements:
    """One face as stage I sees it, in pixels of the model's frame: ``source`` (68, 2), the face's own landmarks
    (what stage II moves it from), and for each of ``labels`` stage I's displacement of them (``moves`` (N, 68, 2))."""

    labels: tuple[Label, ...]
    source: np.ndarray
    moves: np.ndarray

    def move(self, label: Label) -> np.ndarray:
        if label not in self.labels:
            raise LandmarkGANError(f"this model has no label {label[0]} {label[1]}")
        return self.moves[self.labels.index(label)]

    @property
    def expression(self) -> np.ndarray:
        """The face's own expression: how far its landmarks lie from its own neutral (68, 2), as stage I sees it."""
        if NEUTRAL not in self.labels:
            raise LandmarkGANError("copying an expression needs a model that knows neutral faces; this one does not")
        return -self.move(NEUTRAL)

    def nearest_label(self, shift: np.ndarray) -> Label:
        """The label whose displacement is nearest to ``shift`` (68, 2)."""
        return self.labels[int(((self.moves - shift) ** 2).sum(axis=(1, 2)).argmin())]


@dataclass(frozen=True)
class ControlLabel:
    """How a result names what was asked: ``text`` for people ("happy 2.5, mouth x1.5"), ``slug`` for file names
    ("happy2.5_mouth1.5"), ``record`` for JSON."""

    text: str
    slug: str
    record: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Target:
    """What stage II renders one face with, in pixels of the model's frame: its own landmarks ``source`` (68, 2)
    and its target ``landmarks`` (68, 2), the labels it reads with their shares ({label: share}, summing to 1),
    and ``fade``, the share of the refinement to use (0..1).

    ``refined_at`` (68, 2), for a target beyond what the model learned (an intensity above its top level): the
    landmarks at its top level, where the warp generator's refinement is computed; its change (an open mouth's dark
    inside, teeth) is then warped along to the target, which a refinement never trained that far paints poorly.
    """

    source: np.ndarray
    landmarks: np.ndarray
    labels: dict[Label, float]
    fade: float = 1.0
    refined_at: np.ndarray | None = None

    @property
    def main_label(self) -> Label:
        return max(self.labels.items(), key=lambda item: item[1])[0]

    def moved(self, shift: np.ndarray) -> "Target":
        """The same target with its landmarks moved by ``shift`` (68, 2, frame pixels)."""
        return replace(self, landmarks=self.landmarks + shift,
                       refined_at=None if self.refined_at is None else self.refined_at + shift)


@dataclass(frozen=True, eq=False)
class Control:
    """A way to choose target landmarks, checked (make one with :func:`make_control`): an expression ``mix``
    ((name, share), shares summing to 1) at ``intensity``, or ``like`` another face's expression (68, 2, frame
    pixels) times ``intensity``; each landmark group's displacement times its ``regions`` factor. ``levels``: the
    model's intensity levels (0: none)."""

    mix: tuple[tuple[str, float], ...]
    intensity: float
    levels: int
    regions: tuple[tuple[str, float], ...] = ()
    like: np.ndarray | None = None

    def target(self, face: FaceDisplacements) -> Target:
        """This face's target landmarks and the labels stage II reads."""
        learned = float(self.levels) if self.levels and self.like is None else 1.0  # the top of what was learned
        shift = self._shift(face, self.intensity)
        if self.like is not None:
            labels = {face.nearest_label(self._in_regions(face.move(NEUTRAL) + self.like)): 1.0}
        else:
            labels = _shares(self._steps(self.intensity) or self._steps(1.0))
        beyond = face.source + self._in_regions(self._shift(face, learned)) if self.intensity > learned else None
        return Target(face.source, face.source + self._in_regions(shift), labels, min(1.0, self.intensity), beyond)

    def _shift(self, face: FaceDisplacements, t: float) -> np.ndarray:
        """The displacement at intensity ``t``, before the regions scale it."""
        if self.like is not None:
            return t * (face.move(NEUTRAL) + self.like)
        return sum((weight * face.move(label) for label, weight in self._steps(t)), np.zeros_like(face.source))

    def scaled(self, share: float) -> "Control":
        """The control at ``share`` (0..1) of its intensity: the frames of a morph from the face's own expression."""
        return replace(self, intensity=self.intensity * share)

    def describe(self) -> ControlLabel:
        t = f"{self.intensity:g}"
        if self.like is not None:
            text, slug = ("like the other face", "like") if self.intensity == 1 else (f"like the other face x{t}",
                                                                                       f"like{t}")
        elif len(self.mix) == 1:
            name = self.mix[0][0]
            plain = self.levels and name == "neutral" and self.intensity == self.levels
            text = name if plain else f"{name} {t}"
            slug = text.replace(" ", "")
        else:
            text = " + ".join(f"{n} {round(100 * s)}%" for n, s in self.mix) + f", {t}"
            slug = "-".join(f"{n}{round(100 * s)}" for n, s in self.mix) + f"_{t}"
        changed = [(name, factor) for name, factor in self.regions if factor != 1]
        text += "".join(f", {name} x{factor:g}" for name, factor in changed)
        slug += "".join(f"_{name}{factor:g}" for name, factor in changed)
        record = {"intensity": self.intensity, "regions": dict(self.regions)}
        record.update({"like": True} if self.like is not None else {"expression": dict(self.mix)})
        return ControlLabel(text, slug, record)

    def _steps(self, t: float) -> list[tuple[Label, float]]:
        """The labels whose displacements make intensity ``t`` of the mix, with their weights."""
        return [(label, share * weight) for name, share in self.mix for label, weight in _levels(name, t, self.levels)]

    def _in_regions(self, shift: np.ndarray) -> np.ndarray:
        out = np.array(shift, dtype=np.float64)
        for name, factor in self.regions:
            out[list(REGIONS[name])] *= factor
        return out


def _levels(name: str, t: float, levels: int) -> list[tuple[Label, float]]:
    """One expression's displacement at intensity ``t``: the labels it is made of, with their weights."""
    if t == 0:
        return []
    if not levels:
        return [((name, 0), t)]
    if name == "neutral":
        return [(NEUTRAL, t / levels)]
    if t <= 1:
        return [((name, 1), t)]
    if t >= levels:
        return [((name, levels), t / levels)]
    low = math.floor(t)
    if t == low:
        return [((name, low), 1.0)]
    return [((name, low), low + 1 - t), ((name, low + 1), t - low)]


def _shares(steps: list[tuple[Label, float]]) -> dict[Label, float]:
    total = sum(weight for _, weight in steps)
    shares: dict[Label, float] = {}
    for label, weight in steps:
        shares[label] = shares.get(label, 0.0) + weight / total
    return shares


def make_control(expressions: Sequence[str], levels: int, expression: str | Mapping[str, float] | None = None,
                 intensity: float | None = None, regions: Mapping[str, float] | None = None,
                 like: np.ndarray | None = None) -> Control:
    """A checked :class:`Control` for a model that knows ``expressions`` at ``levels`` intensity levels (0: none).

    ``expression``: a name, or a mix {name: share}; or ``like``: another face's expression (68, 2), from
    :attr:`FaceDisplacements.expression`. ``intensity``: 0..6 with levels (default 4), else and with ``like`` a
    strength 0..1.5 (default 1). ``regions``: {brows, eyes, nose, mouth, jaw: factor 0..3}, 1 where not given.
    """
    if (expression is None) == (like is None):
        raise LandmarkGANError("give the expression to change to, or like= another photo whose expression to copy"
                               if like is None else "give an expression or like= another photo, not both")
    mix = () if expression is None else check_mix(expression, expressions)
    by_levels = bool(levels) and like is None
    top = MAX_INTENSITY if by_levels else MAX_STRENGTH
    chosen = check_intensity(intensity, top, float(levels) if by_levels else 1.0)
    return Control(mix, chosen, levels, check_regions(regions), None if like is None else np.asarray(like, float))


def check_mix(expression: str | Mapping[str, float], expressions: Sequence[str]) -> tuple[tuple[str, float], ...]:
    """An expression name or a mix {name: share} as ((name, share), ...) with shares summing to 1."""
    if isinstance(expression, str):
        expression = {expression: 1.0}
    if not isinstance(expression, Mapping) or not expression:
        raise LandmarkGANError(f"the expression must be a name such as 'happy' or a mix such as "
                               f"{{'happy': 0.6, 'surprise': 0.4}}, got {quoted(expression)}")
    shares: dict[str, float] = {}
    for name, share in expression.items():
        canon = canonical_expression(name)
        if canon not in expressions:
            raise LandmarkGANError(f"this model does not know {canon!r}; it knows {', '.join(expressions)}")
        if canon in shares:
            raise LandmarkGANError(f"the mix names {canon} twice")
        if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 <= share < math.inf:
            raise LandmarkGANError(f"each expression's share of a mix is a number of at least 0, such as 0.6; "
                                   f"{canon} has {quoted(share)}")
        shares[canon] = float(share)
    total = sum(shares.values())
    if total <= 0:
        raise LandmarkGANError("the shares of the mix add up to 0; give at least one expression a share above 0")
    return tuple((name, share / total) for name, share in shares.items() if share > 0)


def check_intensity(value: float | None, top: float, default: float) -> float:
    """An intensity (or strength) from 0 to ``top``; None is ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= top:
        what = "intensity" if top == MAX_INTENSITY else "strength"
        raise LandmarkGANError(f"the {what} is a number from 0 (the face's own expression) to {top:g}, got "
                               f"{quoted(value)}")
    return float(value)


def check_regions(regions: Mapping[str, float] | None) -> tuple[tuple[str, float], ...]:
    """Per-region factors as ((region, factor), ...) in :data:`REGIONS` order; regions not named keep 1."""
    if regions is None:
        return ()
    if not isinstance(regions, Mapping):
        raise LandmarkGANError(f"regions must be a mapping such as {{'mouth': 1.5}}, got {quoted(regions)}")
    unknown = [name for name in regions if name not in REGIONS]
    if unknown:
        raise LandmarkGANError(f"unknown region {quoted(unknown[0])}; the regions are {', '.join(REGIONS)}")
    for name, factor in regions.items():
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 <= factor <= MAX_REGION:
            raise LandmarkGANError(f"a region's strength is a number from 0 (keep the face's own) to {MAX_REGION:g}, "
                                   f"{name} has {quoted(factor)}")
    return tuple((name, float(regions[name])) for name in REGIONS if name in regions)


def parse_mix(text: str) -> dict[str, float]:
    """The text form of an expression or a mix: "happy", or "happy:0.6,surprise:0.4" (the CLI's -e, the page)."""
    value = text.strip()
    if ":" not in value:
        return {value: 1.0}
    mix: dict[str, float] = {}
    for part in value.split(","):
        match = re.fullmatch(rf"\s*([A-Za-z]{{1,20}})\s*:\s*({_NUMBER})\s*", part)
        if not match:
            raise LandmarkGANError(f"a mix is written name:share,name:share such as happy:0.6,surprise:0.4; got "
                                   f"{quoted(text)}")
        if match[1] in mix:
            raise LandmarkGANError(f"the mix names {match[1]} twice")
        mix[match[1]] = float(match[2])
    return mix


def parse_regions(parts: Sequence[str]) -> dict[str, float]:
    """Region factors written region=factor, one per item or comma-separated: ["mouth=1.5", "eyes=0.5,brows=0"]."""
    regions: dict[str, float] = {}
    for part in (p for item in parts for p in item.split(",") if p.strip()):
        match = re.fullmatch(rf"\s*([a-z]{{1,10}})\s*=\s*({_NUMBER})\s*", part)
        if not match:
            raise LandmarkGANError(f"a region's strength is written region=factor such as mouth=1.5 (regions: "
                                   f"{', '.join(REGIONS)}); got {quoted(part)}")
        regions[match[1]] = float(match[2])
    return regions
