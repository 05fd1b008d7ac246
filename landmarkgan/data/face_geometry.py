"""Geometry of the synthetic faces: identities, expressions, and the 68 landmarks by construction.

The synthetic data set stands in for FERG (stylised characters, 7 expressions) and BU-3DFE
(4 intensity levels). A face is built in a *canonical frame* (x to the image right, y down,
the face about one unit wide, origin near the nose) from an identity's parameters plus an
expression deformation scaled by intensity. Every feature is a parametric curve; the 68
iBUG/300-W landmarks are samples of those same curves, and the renderer draws the dense
versions of them, so the landmarks lie exactly on the drawn contours.

Landmark order (dlib/OpenFace; "right" is the subject's right = image left):
0-16 jaw (right ear, chin at 8, left ear), 17-21 right brow, 22-26 left brow, 27-30 nose
bridge, 31-35 nose bottom, 36-41 right eye, 42-47 left eye, 48-59 outer lips (48 right
corner, 51 top, 54 left corner, 57 bottom), 60-67 inner lips (60, 62 top, 64, 66 bottom).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS, canonical_expression

# Strength of each intensity level (BU-3DFE's 1..4, 4 strongest); 0 is the neutral face.
INTENSITY_STRENGTH: dict[int, float] = {0: 0.0, 1: 0.4, 2: 0.6, 3: 0.8, 4: 1.0}
HAIR_STYLES = ("bald", "crop", "fringe", "side_part", "long", "curly")
DENSE = 48  # samples per dense curve

Colour = tuple[int, int, int]


@dataclass(frozen=True)
class FaceIdentity:
    """One synthetic subject: face shape, feature geometry, colours, hair and head pose.

    Lengths are in canonical face units (the jaw is about 0.9-1.0 units wide); ``roll`` and
    ``yaw`` are radians; ``scale`` and ``offset`` place the head in the image.
    """

    face_width: float       # half-width of the jaw at the ears (landmarks 0 and 16)
    jaw_top: float          # y of landmarks 0 and 16
    chin: float             # y of the chin (landmark 8), neutral
    jaw_squareness: float   # superellipse exponent of the jaw: <2 pointed, >2 square
    crown: float            # height of the skull above jaw_top
    eye_y: float
    eye_spacing: float      # half the distance between the eye centres
    eye_width: float        # half-width of an eye
    eye_upper: float        # upper-lid opening above the corner line
    eye_lower: float        # lower-lid opening below the corner line
    eye_tilt: float         # outer corners this much higher than inner ones
    iris: float             # iris radius as a fraction of eye_width
    gaze: float             # horizontal iris offset as a fraction of eye_width
    brow_gap: float         # brow centre line above eye_y
    brow_arch: float
    brow_length: float      # brow span as a multiple of the eye width
    brow_thickness: float
    nose_tip: float         # y of the nose tip (landmark 30)
    nose_width: float       # half-width of the nostrils (31/35)
    mouth_y: float
    mouth_width: float      # half-width of the mouth (48/54)
    upper_lip: float        # upper-lip thickness
    lower_lip: float        # lower-lip thickness
    cupid_bow: float
    tooth_height: float
    ear_size: float
    hairline: float         # y of the hairline's top (above the brows)
    hairline_shape: float   # how far the hairline stays high before it drops to the temples
    hair_style: str
    hair_volume: float
    skin: Colour
    lips: Colour
    hair: Colour
    iris_colour: Colour
    background_top: Colour
    background_bottom: Colour
    shirt: Colour
    blush: float            # 0..1 rosiness of the cheeks
    expressiveness: float   # multiplies every expression deformation
    expression_gain: tuple[float, ...]  # per expression (EXPRESSIONS order): how strongly this subject shows it
    smile_opens: float      # how readily the mouth opens when smiling
    roll: float
    yaw: float
    scale: float
    offset: tuple[float, float] = (0.0, 0.0)  # head centre shift, as fractions of the image side


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _rgb(c: np.ndarray) -> Colour:
    return tuple(int(v) for v in np.clip(np.round(c), 0, 255))  # type: ignore[return-value]


def _mix(a: np.ndarray | Colour, b: np.ndarray | Colour, t: float) -> np.ndarray:
    return (1.0 - t) * np.asarray(a, dtype=np.float64) + t * np.asarray(b, dtype=np.float64)


_SKIN_TONES = np.array([[255, 224, 196], [241, 194, 160], [224, 172, 130], [198, 134, 96],
                        [161, 102, 68], [118, 74, 48], [86, 56, 38]], dtype=np.float64)
_HAIR_COLOURS = np.array([[25, 20, 18], [60, 40, 28], [110, 70, 40], [165, 120, 70], [225, 190, 120],
                          [150, 60, 30], [170, 170, 175], [60, 70, 160], [200, 90, 140]], dtype=np.float64)
_HAIR_WEIGHTS = np.array([0.24, 0.2, 0.14, 0.1, 0.1, 0.07, 0.07, 0.04, 0.04])
_IRIS_COLOURS = np.array([[70, 45, 30], [110, 70, 40], [60, 110, 170], [70, 130, 80], [120, 110, 60],
                          [100, 110, 120]], dtype=np.float64)


def sample_identity(rng: np.random.Generator) -> FaceIdentity:
    """Draw one random subject; every parameter is kept in ranges where the face stays plausible."""
    face_width = _u(rng, 0.43, 0.52)
    eye_y = _u(rng, -0.15, -0.10)
    eye_width = _u(rng, 0.075, 0.1)
    eye_spacing = _u(rng, max(0.16, eye_width + 0.075), min(0.215, face_width - eye_width - 0.1))
    brow_gap = _u(rng, 0.085, 0.115)
    brow_arch = _u(rng, 0.008, 0.028)
    brow_thickness = _u(rng, 0.018, 0.032)
    nose_tip = _u(rng, 0.09, 0.15)
    mouth_y = nose_tip + _u(rng, 0.15, 0.2)
    chin = mouth_y + _u(rng, 0.24, 0.3)
    brow_top = eye_y - brow_gap - brow_arch - brow_thickness
    tone = _u(rng, 0.0, len(_SKIN_TONES) - 1.0)  # a point along the palette, light to dark
    low = min(int(tone), len(_SKIN_TONES) - 2)
    skin = _mix(_SKIN_TONES[low], _SKIN_TONES[low + 1], tone - low) + rng.uniform(-8, 8, 3)
    lips = _mix(skin, (200, 70, 80), _u(rng, 0.3, 0.55))
    hair = _HAIR_COLOURS[rng.choice(len(_HAIR_COLOURS), p=_HAIR_WEIGHTS)] * _u(rng, 0.85, 1.1)
    hue = rng.uniform(0, 1, 3)
    background_top = 120 + 120 * hue
    background_bottom = background_top * _u(rng, 0.7, 0.95)
    return FaceIdentity(
        face_width=face_width,
        jaw_top=eye_y + _u(rng, 0.02, 0.07),
        chin=chin,
        jaw_squareness=_u(rng, 1.7, 3.0),
        crown=_u(rng, 0.58, 0.7),
        eye_y=eye_y,
        eye_spacing=eye_spacing,
        eye_width=eye_width,
        eye_upper=_u(rng, 0.03, 0.045),
        eye_lower=_u(rng, 0.016, 0.025),
        eye_tilt=_u(rng, -0.008, 0.018),
        iris=_u(rng, 0.42, 0.55),
        gaze=_u(rng, -0.12, 0.12),
        brow_gap=brow_gap,
        brow_arch=brow_arch,
        brow_length=_u(rng, 2.1, 2.6),
        brow_thickness=brow_thickness,
        nose_tip=nose_tip,
        nose_width=_u(rng, 0.05, 0.078),
        mouth_y=mouth_y,
        mouth_width=_u(rng, 0.135, 0.18),
        upper_lip=_u(rng, 0.02, 0.034),
        lower_lip=_u(rng, 0.027, 0.045),
        cupid_bow=_u(rng, 0.003, 0.009),
        tooth_height=_u(rng, 0.022, 0.032),
        ear_size=_u(rng, 0.85, 1.15),
        hairline=brow_top - _u(rng, 0.2, 0.28),
        hairline_shape=_u(rng, 2.5, 5.0),
        hair_style=str(rng.choice(HAIR_STYLES)),
        hair_volume=_u(rng, 1.03, 1.14),
        skin=_rgb(skin),
        lips=_rgb(lips),
        hair=_rgb(hair),
        iris_colour=_rgb(_IRIS_COLOURS[rng.integers(0, len(_IRIS_COLOURS))]),
        background_top=_rgb(background_top),
        background_bottom=_rgb(background_bottom),
        shirt=_rgb(rng.uniform(30, 230, 3)),
        blush=_u(rng, 0.0, 0.6) if rng.uniform() < 0.5 else 0.0,
        expressiveness=_u(rng, 0.85, 1.15),
        expression_gain=tuple(float(g) for g in rng.uniform(0.8, 1.2, len(EXPRESSIONS))),
        smile_opens=_u(rng, 0.6, 1.4),
        roll=_u(rng, -0.12, 0.12),
        yaw=_u(rng, -0.2, 0.2),
        scale=_u(rng, 0.92, 1.06),
        offset=(_u(rng, -0.03, 0.03), _u(rng, -0.03, 0.03)),
    )


@dataclass(frozen=True)
class ExpressionDeformation:
    """How far an expression moves each facial part at full intensity (canonical units).

    Signs: positive ``*_raise`` moves up; ``corner_drop_*`` moves a mouth corner down (negative
    lifts it); ``*_open`` factors change the eyelid openings relative to the identity's.
    ``_image_left``/``_image_right`` name the two mouth corners (48 and 54).
    """

    brow_raise: float = 0.0
    brow_inner_raise: float = 0.0    # extra lift of the inner brow ends (sad, fear: oblique brows)
    brow_inner_in: float = 0.0       # inner brow ends drawn towards the nose (angry, fear)
    brow_arch: float = 0.0
    eye_upper_open: float = 0.0      # relative change of the upper-lid opening
    eye_lower_open: float = 0.0      # relative change of the lower-lid opening
    eye_tilt: float = 0.0
    mouth_width: float = 0.0
    corner_drop_image_left: float = 0.0
    corner_drop_image_right: float = 0.0
    corner_out_image_right: float = 0.0
    mouth_open_upper: float = 0.0    # upper lip lifts off the lower (disgust) or the mouth opens upwards
    mouth_open_lower: float = 0.0    # lower lip and jaw drop
    smile_open: float = 0.0          # extra opening only at high intensity (laughing)
    lip_thinning: float = 0.0        # fraction of lip thickness lost (pressed or stretched lips)
    lower_lip_raise: float = 0.0     # pout of the lower lip (sad)
    lower_teeth: float = 0.0         # how much of the lower teeth an open mouth shows
    nose_wrinkle: float = 0.0        # nostrils drawn up (disgust)
    smile_lines: float = 0.0         # nasolabial folds
    forehead_lines: float = 0.0
    frown_lines: float = 0.0
    nose_lines: float = 0.0
    smirk_line: float = 0.0          # crease beside the lifted image-right mouth corner (contempt)
    cheek_blush: float = 0.0


EXPRESSION_DEFORMATIONS: dict[str, ExpressionDeformation] = {
    "neutral": ExpressionDeformation(),
    "happy": ExpressionDeformation(
        brow_raise=0.012, eye_upper_open=-0.2, eye_lower_open=-0.75, mouth_width=0.04,
        corner_drop_image_left=-0.075, corner_drop_image_right=-0.075, smile_open=0.08,
        lip_thinning=0.25, lower_teeth=0.2, smile_lines=1.0, cheek_blush=0.5),
    "sad": ExpressionDeformation(
        brow_raise=-0.012, brow_inner_raise=0.06, brow_arch=-0.012, eye_upper_open=-0.35,
        eye_tilt=-0.014, mouth_width=-0.02, corner_drop_image_left=0.055,
        corner_drop_image_right=0.055, lower_lip_raise=0.012),
    "angry": ExpressionDeformation(
        brow_raise=-0.03, brow_inner_raise=-0.045, brow_inner_in=0.025, eye_upper_open=-0.35,
        eye_lower_open=-0.35, mouth_width=-0.03, corner_drop_image_left=0.02,
        corner_drop_image_right=0.02, lip_thinning=0.6, frown_lines=1.0),
    "surprise": ExpressionDeformation(
        brow_raise=0.075, brow_arch=0.015, eye_upper_open=0.8, eye_lower_open=0.25,
        mouth_width=-0.055, mouth_open_upper=0.03, mouth_open_lower=0.15, lip_thinning=0.2,
        lower_teeth=0.25, forehead_lines=1.0),
    "fear": ExpressionDeformation(
        brow_raise=0.045, brow_inner_raise=0.045, brow_inner_in=0.02, brow_arch=-0.012,
        eye_upper_open=0.65, eye_lower_open=-0.1, mouth_width=0.05, corner_drop_image_left=0.025,
        corner_drop_image_right=0.025, mouth_open_upper=0.012, mouth_open_lower=0.06,
        lip_thinning=0.4, lower_teeth=0.9, forehead_lines=0.6),
    "disgust": ExpressionDeformation(
        brow_raise=-0.025, brow_inner_raise=-0.02, brow_inner_in=0.012, eye_upper_open=-0.3,
        eye_lower_open=-0.55, mouth_width=-0.01, corner_drop_image_left=0.025,
        corner_drop_image_right=0.025, mouth_open_upper=0.035, lower_lip_raise=-0.008,
        nose_wrinkle=1.0, nose_lines=1.0, smile_lines=0.5),
    "contempt": ExpressionDeformation(
        brow_raise=0.01, eye_upper_open=-0.2, eye_lower_open=-0.25, corner_drop_image_right=-0.07,
        corner_out_image_right=0.04, lip_thinning=0.35, smirk_line=1.0),
}


def expression_strength(identity: FaceIdentity, expression: str, intensity: int) -> tuple[str, float]:
    """Canonical expression name and its strength (0 neutral, up to ~1.4 at intensity 4)."""
    expression = canonical_expression(expression)
    if expression not in EXPRESSION_DEFORMATIONS:
        raise LandmarkGANError(f"the synthetic faces have no {expression!r}; use one of: {', '.join(EXPRESSIONS)}")
    if expression == "neutral":
        if intensity != 0:
            raise LandmarkGANError(f"neutral faces have intensity 0, got {intensity}")
        return expression, 0.0
    if intensity not in (1, 2, 3, 4):
        raise LandmarkGANError(f"intensity of {expression!r} must be 1, 2, 3 or 4 (4 strongest), got {intensity}")
    gain = identity.expressiveness * identity.expression_gain[EXPRESSIONS.index(expression)]
    return expression, INTENSITY_STRENGTH[intensity] * gain


@dataclass
class FaceShape:
    """A face in the canonical frame: its 68 landmarks and the dense curves the renderer draws."""

    landmarks: np.ndarray          # (68, 2)
    curves: dict[str, np.ndarray]  # name -> (N, 2) polyline or polygon
    lines: dict[str, float]        # wrinkle group or "blush" -> strength, 0 = not shown
    lower_teeth: float             # how much of the lower teeth an open mouth shows (of a tooth height)


def _jaw(idt: FaceIdentity, chin_drop: float, t: np.ndarray) -> np.ndarray:
    """Jaw contour for t in [0, 1] (0 = right ear at image left, 0.5 = chin, 1 = left ear)."""
    theta = np.pi * (1.0 - t)
    p = 2.0 / idt.jaw_squareness
    c, s = np.cos(theta), np.abs(np.sin(theta))
    x = idt.face_width * np.sign(c) * np.abs(c) ** p
    depth = idt.chin - idt.jaw_top + chin_drop * s**2
    return np.stack([x, idt.jaw_top + depth * s**p], axis=1)


def _skull(idt: FaceIdentity, t: np.ndarray, grow: float = 1.0) -> np.ndarray:
    """Top of the head from the left ear (t=0, image right) over the crown to the right ear (t=1)."""
    phi = np.pi * t
    return np.stack([grow * idt.face_width * np.cos(phi),
                     idt.jaw_top - grow * idt.crown * np.sin(phi) - (grow - 1.0) * 0.05], axis=1)


def _brow(idt: FaceIdentity, d: ExpressionDeformation, s: float, side: int, t: np.ndarray) -> np.ndarray:
    """Brow centre line for t in [0, 1] from its outer (t=0) to its inner end (t=1); side -1 image left."""
    inner = idt.eye_spacing - 0.9 * idt.eye_width - d.brow_inner_in * s
    outer = idt.eye_spacing - idt.eye_width * (0.9 - idt.brow_length)
    x = side * (outer + (inner - outer) * t)
    arch = (idt.brow_arch + d.brow_arch * s) * np.sin(np.pi * (0.15 + 0.75 * t))
    y = (idt.eye_y - idt.brow_gap - arch - d.brow_raise * s - d.brow_inner_raise * s * t**1.5
         + 0.012 * (t - 0.5))
    # however far an expression lowers it, the brow stays above the eye: a soft floor
    floor, k = idt.eye_y - 0.035, 0.006
    y = floor - k * np.logaddexp(0.0, (floor - y) / k)
    return np.stack([x, y], axis=1)


def _eye(idt: FaceIdentity, d: ExpressionDeformation, s: float, side: int, u: np.ndarray, upper: bool) -> np.ndarray:
    """One eyelid for u in [-1, 1] (image left to right); side -1 is the right eye (image left)."""
    cx = side * idt.eye_spacing
    tilt = idt.eye_tilt + d.eye_tilt * s
    outer = u * side  # 1 at the outer corner, -1 at the inner corner
    base = idt.eye_y - tilt * 0.5 * (outer + 1.0) + 0.004
    if upper:
        h = idt.eye_upper * max(0.15, 1.0 + d.eye_upper_open * s)
        bulge = (1.0 - u**2) ** 0.65 * (1.0 + 0.12 * side * u)
        y = base - h * bulge
    else:
        h = idt.eye_lower * max(0.1, 1.0 + d.eye_lower_open * s)
        y = base + h * (1.0 - u**2) ** 0.8
    return np.stack([cx + idt.eye_width * u, y], axis=1)


def _circle(cx: float, cy: float, r: float, n: int = 32) -> np.ndarray:
    a = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], axis=1)


class _Mouth:
    """Lip curves for u in [-1, 1] (image-left corner to image-right corner)."""

    def __init__(self, idt: FaceIdentity, d: ExpressionDeformation, s: float) -> None:
        width = idt.mouth_width + d.mouth_width * s
        self.left = width
        self.right = width + d.corner_out_image_right * s
        self.drop_left = d.corner_drop_image_left * s
        self.drop_right = d.corner_drop_image_right * s
        laugh = idt.smile_opens * d.smile_open * max(0.0, (s - 0.5) / 0.5)
        self.open_up = d.mouth_open_upper * s + 0.25 * laugh
        self.open_low = d.mouth_open_lower * s + 0.75 * laugh
        thin = 1.0 - d.lip_thinning * min(s, 1.0)
        self.upper_lip = idt.upper_lip * thin
        self.lower_lip = idt.lower_lip * thin
        self.pout = d.lower_lip_raise * s
        self.bow = idt.cupid_bow
        self.y = idt.mouth_y
        self.inner = 0.86  # inner lip corners sit at this fraction of the half-width

    def x(self, u: np.ndarray) -> np.ndarray:
        return np.where(u < 0, u * self.left, u * self.right)

    def mid(self, u: np.ndarray) -> np.ndarray:
        return self.y + np.where(u < 0, self.drop_left, self.drop_right) * np.abs(u) ** 2.2

    def _gape(self, u: np.ndarray) -> np.ndarray:
        v = np.clip(u / self.inner, -1.0, 1.0)
        return np.sqrt(1.0 - v**2)

    def upper_inner(self, v: np.ndarray) -> np.ndarray:
        u = v * self.inner
        return np.stack([self.x(u), self.mid(u) - self.open_up * self._gape(u)], axis=1)

    def lower_inner(self, v: np.ndarray) -> np.ndarray:
        u = v * self.inner
        return np.stack([self.x(u), self.mid(u) + self.open_low * self._gape(u) ** 1.3], axis=1)

    def upper_outer(self, u: np.ndarray) -> np.ndarray:
        thick = self.upper_lip * (1.0 - np.abs(u) ** 2.5) ** 0.7
        bow = self.bow * (np.exp(-((np.abs(u) - 0.25) / 0.13) ** 2) - 0.7 * np.exp(-(u / 0.1) ** 2))
        y = self.mid(u) - self.open_up * self._gape(u) - thick - bow
        return np.stack([self.x(u), y], axis=1)

    def lower_outer(self, u: np.ndarray) -> np.ndarray:
        thick = (self.lower_lip - self.pout) * (1.0 - u**2) ** 0.6
        y = self.mid(u) + self.open_low * self._gape(u) ** 1.3 + thick
        return np.stack([self.x(u), y], axis=1)


def _nose(idt: FaceIdentity, d: ExpressionDeformation, s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nose bridge (27-30), nose bottom (31-35) and the dense curve under the tip through 31-35."""
    wrinkle = d.nose_wrinkle * s
    tip = idt.nose_tip - 0.008 * wrinkle
    top = idt.eye_y - 0.01
    bridge = np.stack([np.zeros(4), top + (tip - top) * np.arange(4) / 3.0], axis=1)
    width = idt.nose_width + 0.012 * wrinkle
    lift = 0.016 * wrinkle

    def bottom(u: np.ndarray) -> np.ndarray:
        return np.stack([width * u, tip + 0.004 - lift + 0.03 * (1.0 - np.abs(u) ** 1.6)], axis=1)

    dense = bottom(np.linspace(-1.0, 1.0, DENSE // 2))
    return bridge, bottom(np.array([-1.0, -0.5, 0.0, 0.5, 1.0])), dense


def face_shape(identity: FaceIdentity, expression: str, intensity: int) -> FaceShape:
    """Build the canonical 68 landmarks and dense feature curves of one expression at one intensity."""
    expression, s = expression_strength(identity, expression, intensity)
    d = EXPRESSION_DEFORMATIONS[expression]
    idt = identity
    mouth = _Mouth(idt, d, s)
    dense_t = np.linspace(0.0, 1.0, DENSE)
    dense_u = np.linspace(-1.0, 1.0, DENSE)
    chin_drop = 0.8 * mouth.open_low
    lm = np.zeros((68, 2))
    lm[0:17] = _jaw(idt, chin_drop, np.linspace(0.0, 1.0, 17))
    brow_t = np.linspace(0.0, 1.0, 5)
    lm[17:22] = _brow(idt, d, s, -1, brow_t)
    lm[22:27] = _brow(idt, d, s, 1, brow_t[::-1])
    bridge, nose_bottom, nose_dense = _nose(idt, d, s)
    lm[27:31] = bridge
    lm[31:36] = nose_bottom
    third = np.array([-1.0, -1 / 3, 1 / 3, 1.0])
    for side, start in ((-1, 36), (1, 42)):
        upper = _eye(idt, d, s, side, third, upper=True)
        lower = _eye(idt, d, s, side, third[::-1], upper=False)
        lm[start:start + 4] = upper
        lm[start + 4:start + 6] = lower[1:3]
    lm[48:55] = mouth.upper_outer(np.array([-1.0, -0.6, -0.25, 0.0, 0.25, 0.6, 1.0]))
    lm[55:60] = mouth.lower_outer(np.array([0.6, 0.25, 0.0, -0.25, -0.6]))
    inner_v = np.array([-1.0, -0.45, 0.0, 0.45, 1.0])
    lm[60:65] = mouth.upper_inner(inner_v)
    lm[65:68] = mouth.lower_inner(inner_v[3:0:-1])

    curves: dict[str, np.ndarray] = {
        "jaw": _jaw(idt, chin_drop, dense_t),
        "skull": _skull(idt, dense_t),
        "nose_bridge": bridge,
        "nose_bottom": nose_dense,
        "lips_outer": np.concatenate([mouth.upper_outer(dense_u), mouth.lower_outer(dense_u[::-1])]),
        "mouth_inner": np.concatenate([mouth.upper_inner(dense_u), mouth.lower_inner(dense_u[::-1])]),
        "upper_inner": mouth.upper_inner(dense_u),
        "lower_inner": mouth.lower_inner(dense_u),
    }
    for side, name in ((-1, "right"), (1, "left")):
        upper = _eye(idt, d, s, side, dense_u, upper=True)
        lower = _eye(idt, d, s, side, dense_u, upper=False)
        curves[f"{name}_eye_upper"] = upper
        curves[f"{name}_eye_lower"] = lower
        curves[f"{name}_eye"] = np.concatenate([upper, lower[::-1][1:-1]])
        r = idt.iris * idt.eye_width
        cx = side * idt.eye_spacing + idt.gaze * idt.eye_width
        cy = idt.eye_y - 0.004
        curves[f"{name}_iris"] = _circle(cx, cy, r)
        curves[f"{name}_pupil"] = _circle(cx, cy, 0.45 * r, 20)
        curves[f"{name}_glint"] = _circle(cx - 0.35 * r, cy - 0.35 * r, 0.22 * r, 12)
        curves[f"{name}_brow"] = _brow_polygon(idt, d, s, side, dense_t)
    curves.update(_wrinkles(idt, lm))
    lines = {
        "smile_lines": d.smile_lines * s,
        "forehead_lines": d.forehead_lines * s,
        "frown_lines": d.frown_lines * s,
        "nose_lines": d.nose_lines * s,
        "smirk_line": d.smirk_line * s,
        "blush": min(1.0, idt.blush + d.cheek_blush * s),
    }
    return FaceShape(landmarks=lm, curves=curves, lines=lines, lower_teeth=d.lower_teeth)


def _brow_polygon(idt: FaceIdentity, d: ExpressionDeformation, s: float, side: int, t: np.ndarray) -> np.ndarray:
    """The brow as a filled shape around its centre line: thick at the inner end, tapering outwards."""
    centre = _brow(idt, d, s, side, t)
    tangent = np.gradient(centre, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    normal *= np.sign(normal[:, 1:2] + 1e-12)  # point down the image
    half = 0.5 * idt.brow_thickness * (0.35 + 0.65 * np.sqrt(t))[:, None]
    return np.concatenate([centre - half * normal, (centre + half * normal)[::-1]])


def _bezier(start: np.ndarray, control: np.ndarray, end: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Quadratic Bezier curve at parameters t (column vector)."""
    return (1 - t) ** 2 * start + 2 * t * (1 - t) * control + t**2 * end


def _wrinkles(idt: FaceIdentity, lm: np.ndarray) -> dict[str, np.ndarray]:
    """Lines and patches placed from the landmarks: nasolabial folds, forehead, frown and nose
    wrinkles (drawn as strong as the expression), nose wings and cheeks (for blush)."""
    curves: dict[str, np.ndarray] = {}
    t = np.linspace(0.0, 1.0, 12)[:, None]
    for side, alar, corner in ((-1, 31, 48), (1, 35, 54)):
        start = lm[alar] + np.array([side * 0.035, -0.01])
        end = lm[corner] + np.array([side * 0.03, 0.035])
        curves[f"smile_line_{side}"] = _bezier(start, 0.5 * (start + end) + [side * 0.035, 0.0], end, t)
    for side, eye, corner, alar in ((-1, 36, 48, 31), (1, 45, 54, 35)):
        centre = np.array([lm[eye, 0] + side * 0.01, 0.5 * (lm[eye, 1] + lm[corner, 1]) + 0.02])
        curves[f"cheek_{side}"] = centre + _circle(0.0, 0.0, 1.0, 24) * np.array([0.075, 0.045])
        tip = np.array([side * 0.35 * idt.nose_width, lm[30, 1] - 0.01])
        curves[f"nose_wing_{side}"] = _bezier(lm[alar], lm[alar] + [side * 0.012, -0.03], tip, t)
    curves["smirk_line_1"] = _bezier(lm[54] + [0.02, -0.03], lm[54] + [0.04, 0.0], lm[54] + [0.02, 0.02], t)
    brow_top = min(lm[17:27, 1].min(), idt.eye_y - idt.brow_gap - idt.brow_arch) - 0.045
    x = np.linspace(-1.0, 1.0, 16)
    for k in range(3):
        half = 0.17 - 0.03 * k
        y = brow_top - 0.035 * k + 0.012 * x**2
        curves[f"forehead_line_{k}"] = np.stack([half * x, y], axis=1)
    inner_y = 0.5 * (lm[21, 1] + lm[22, 1])
    for side in (-1, 1):
        xs = side * np.array([0.018, 0.024])
        curves[f"frown_line_{side}"] = np.stack([xs, [inner_y - 0.005, inner_y + 0.045]], axis=1)
    for k in range(2):
        y = lm[28, 1] + 0.02 * k
        curves[f"nose_line_{k}"] = np.stack([0.035 * x[::3], y - 0.008 * (1 - x[::3] ** 2)], axis=1)
    return curves


def canonical_depth(points: np.ndarray, identity: FaceIdentity) -> np.ndarray:
    """Depth towards the viewer of canonical points: a head-shaped ellipsoid plus the nose.

    The ellipsoid's outline is the face's and skull's, so the silhouette (jaw ends, crown, hair
    outline) has depth 0 and stays put under yaw while the features in front move sideways.
    """
    x, y = points[:, 0], points[:, 1]
    w = identity.face_width
    middle = 0.5 * (identity.jaw_top - identity.crown + identity.chin)
    half_height = 0.5 * (identity.chin - identity.jaw_top + identity.crown) + 0.05
    head = 0.4 * np.sqrt(np.clip(1.0 - (x / w) ** 2 - ((y - middle) / half_height) ** 2, 0.0, 1.0))
    nose = 0.14 * np.exp(-(x / 0.07) ** 2 - ((y - identity.nose_tip + 0.04) / 0.12) ** 2)
    return head + nose


def pose_transform(identity: FaceIdentity, size: int) -> Callable[[np.ndarray], np.ndarray]:
    """The map from canonical points to pixel coordinates of a size x size image.

    Yaw turns the head about its vertical axis (points move sideways with their depth and the
    face narrows by cos yaw); roll, scale and offset form a similarity transform. Pixel
    coordinates put the centre of pixel (i, j) at (i, j), as dlib and OpenCV do.
    """
    cos_y, sin_y = np.cos(identity.yaw), np.sin(identity.yaw)
    cos_r, sin_r = np.cos(identity.roll), np.sin(identity.roll)
    rotation = np.array([[cos_r, -sin_r], [sin_r, cos_r]])
    pixels_per_unit = 0.56 * size * identity.scale
    centre = np.array([0.5 + identity.offset[0], 0.47 + identity.offset[1]]) * size - 0.5

    def transform(points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=np.float64)
        turned = points.copy()
        turned[:, 0] = points[:, 0] * cos_y + canonical_depth(points, identity) * sin_y
        return centre + pixels_per_unit * turned @ rotation.T

    return transform


def head_surroundings(identity: FaceIdentity) -> dict[str, np.ndarray]:
    """Polygons around the face in the canonical frame: ears, neck, shirt and hair (back and front).

    They depend on the identity only, so every expression of a subject has the same hair and
    clothes. Over the brows the front hair stays 0.16 units above the neutral brows, higher than
    any expression raises them, so brows are never hidden.
    """
    idt = identity
    w = idt.face_width
    out: dict[str, np.ndarray] = {}
    for side, name in ((-1, "right"), (1, "left")):
        ear = _circle(0.0, 0.0, 1.0, 24) * np.array([0.05, 0.09]) * idt.ear_size
        centre = np.array([side * (w + 0.01), idt.jaw_top + 0.055])
        out[f"{name}_ear"] = centre + ear
        out[f"{name}_ear_inner"] = centre + np.array([side * 0.008, 0.0]) + 0.55 * ear
    neck_w = 0.55 * w
    bottom = idt.chin + 0.8
    out["neck"] = np.array([[-neck_w, idt.jaw_top + 0.3], [neck_w, idt.jaw_top + 0.3],
                            [neck_w * 1.05, bottom], [-neck_w * 1.05, bottom]])
    out["shirt"] = _circle(0.0, 0.0, 1.0, 48) * np.array([1.05, 0.38]) + np.array([0.0, idt.chin + 0.62])
    out["collar"] = np.array([[-0.95 * neck_w, idt.chin + 0.27], [0.0, idt.chin + 0.42],
                              [0.95 * neck_w, idt.chin + 0.27]])
    style = idt.hair_style
    if style == "bald":
        return out
    volume = idt.hair_volume + (0.12 if style == "curly" else 0.0)
    t = np.linspace(0.0, 1.0, 64)
    top = _skull(idt, t, volume)
    if style == "curly":
        centre = np.array([0.0, idt.jaw_top])
        radial = top - centre
        top = centre + radial * (1.0 + 0.035 * np.abs(np.sin(np.pi * 9 * t)))[:, None]
    temple = idt.jaw_top - 0.03
    x = np.linspace(-1.0, 1.0, 41)
    if style == "side_part":  # parted at x = part, high on the short side, sweeping down on the long side
        part = -0.35
        short = np.clip((part - x) / (1.0 + part), 0.0, 1.0) ** idt.hairline_shape
        long = np.clip((x - part) / (1.0 - part), 0.0, 1.0) ** 2.0
        ys = idt.hairline + (temple - idt.hairline) * np.where(x < part, short, long)
    else:
        ys = idt.hairline + (temple - idt.hairline) * np.abs(x) ** idt.hairline_shape
    if style == "fringe":
        teeth = 0.018 * np.abs(np.sin(np.pi * 6 * x))
        ys = np.where(np.abs(x) < 0.75, ys + 0.045 - teeth, ys)
    # never lower than the brows can rise (and some forehead) over the brows' span
    brow_top = idt.eye_y - idt.brow_gap - idt.brow_arch - idt.brow_thickness
    brow_span = (idt.eye_spacing + idt.eye_width * (idt.brow_length - 0.9)) / w
    ramp = np.clip((np.abs(x) - brow_span) / (1.0 - brow_span), 0.0, 1.0)
    ys = np.minimum(ys, brow_top - 0.16 + (temple - brow_top + 0.16) * ramp)
    hairline = np.stack([x * w * 0.99, ys], axis=1)
    out["hair_front"] = np.concatenate([hairline, top])
    if style in ("long", "curly"):
        length = idt.chin + (0.25 if style == "long" else 0.05)
        side_x = w * volume * (1.15 if style == "long" else 1.1)
        out["hair_back"] = np.concatenate([top, [[-side_x, length], [side_x, length]]])
    if style == "side_part":
        crown = idt.jaw_top - idt.crown * volume
        out["hair_part"] = np.array([[-0.35 * w, idt.hairline - 0.01], [-0.3 * w, crown + 0.04]])
    return out
