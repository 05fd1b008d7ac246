"""Readers for the paper's four data sets (JAFFE, BU-3DFE, FERG, RaFD) and a generic folder layout.

Each reader turns a data set's own file naming and folder layout into :class:`SourceImage`
records (file, subject, canonical expression, intensity, view) and assigns the paper's
train/test split for that data set, seeded so that it is reproducible:

========  =====================================================  ==================================
kind      layout (searched recursively under SRC)                split (paper default)
========  =====================================================  ==================================
jaffe     ``KA.AN1.39.tiff``: subject, expression code + repeat,  2 of the 10 subjects test
          running index                                          (subject-disjoint)
bu3dfe    ``F0001_AN01WH_F2D.bmp``: subject, expression,         10 of the 100 subjects test
          intensity 01-04 (``NE00`` neutral), race, 2D texture   (subject-disjoint)
ferg      ``<char>/<char>_<expr>/<char>_<expr>_<n>.png``         1,200 images sampled per
                                                                 expression: 100 test, 1,100 train
rafd      ``Rafd090_01_Caucasian_female_angry_frontal.jpg``:     67% train / 33% test subjects
          camera angle, subject, ethnicity, gender, expression,  (subject-disjoint)
          gaze; view = ``"<angle>_<gaze>"``
folder    ``SRC/<subject>/<expression>[_<intensity>][_<any>]``   ``test_fraction`` of the subjects
          ``.<ext>``                                             (default 0.2)
========  =====================================================  ==================================

Image files that do not follow the layout are not part of the data set: readers return them
separately so that ``landmarkgan prepare`` can report them. A file that follows the layout but
carries an expression (or angle, gaze, intensity) code the data set does not have is an error.
When a data set folder holds fewer subjects or images than the paper's, the split scales down
proportionally (e.g. a JAFFE folder with 5 subjects gets 1 test subject).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from landmarkgan.data.images import is_image_file
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import canonical_expression

# The paper's split numbers, as fractions of the full data sets.
JAFFE_TEST_FRACTION = 2 / 10  # 2 of JAFFE's 10 subjects are test subjects
BU3DFE_TEST_FRACTION = 10 / 100  # 10 of BU-3DFE's 100 subjects are test subjects
RAFD_TEST_FRACTION = 0.33  # 67% train / 33% test subjects
FOLDER_TEST_FRACTION = 0.2  # our default for a generic folder (the paper has none)
FERG_PER_EXPRESSION = 1200  # FERG images sampled per expression ...
FERG_TEST_PER_EXPRESSION = 100  # ... of which 100 are test images (1,100 train)


@dataclass
class SourceImage:
    """One image file of a raw data set, with the labels its name encodes and its split."""

    path: Path
    subject: str
    expression: str
    intensity: int = 0
    view: str = ""
    split: str = "train"
    extra: dict = field(default_factory=dict)


@dataclass
class ReadResult:
    """What a reader found under SRC: the data set's images (split assigned) and what it left out."""

    images: list[SourceImage]
    outside_layout: list[Path]  # image files whose name/location does not follow the layout
    not_sampled: list[Path]  # images the split protocol leaves out (FERG samples 1,200 per expression)


Parser = Callable[[Path, Path], "SourceImage | None"]


def _unknown(path: Path, what: str, code: str, known: dict[str, object] | tuple[str, ...]) -> LandmarkGANError:
    return LandmarkGANError(
        f"{path}: unknown {what} code {code!r}; this data set uses {', '.join(sorted(known))}. "
        "Rename or remove the file."
    )


# --------------------------------------------------------------------------------------- parsers
JAFFE_EXPRESSIONS = {"NE": "neutral", "HA": "happy", "SA": "sad", "SU": "surprise",
                     "AN": "angry", "DI": "disgust", "FE": "fear"}
_JAFFE_NAME = re.compile(r"^([A-Za-z]{2})\.([A-Za-z]{2})(\d+)\.(\d+)$")


def parse_jaffe(path: Path, src: Path) -> SourceImage | None:
    """``KA.AN1.39.tiff``: subject KA, expression AN, repeat 1, running image index 39."""
    m = _JAFFE_NAME.match(path.stem)
    if not m:
        return None
    subject, code, repeat, index = m.group(1).upper(), m.group(2).upper(), int(m.group(3)), int(m.group(4))
    if code not in JAFFE_EXPRESSIONS:
        raise _unknown(path, "JAFFE expression", code, JAFFE_EXPRESSIONS)
    return SourceImage(path, subject, JAFFE_EXPRESSIONS[code], extra={"repeat": repeat, "index": index})


BU3DFE_EXPRESSIONS = {"NE": "neutral", "HA": "happy", "SA": "sad", "SU": "surprise",
                      "AN": "angry", "DI": "disgust", "FE": "fear"}
_BU3DFE_NAME = re.compile(r"^([FM]\d{4})_([A-Za-z]{2})(\d{2})([A-Za-z]{2})_F2D$")


def parse_bu3dfe(path: Path, src: Path) -> SourceImage | None:
    """``F0001_AN01WH_F2D.bmp``: subject F0001, angry at intensity 1, race WH, 2D texture image.

    Neutral faces are ``NE00`` (intensity 0); the four expression intensities are 01-04.
    Other files of the distribution (3D meshes, ``_F3D`` textures) are outside the layout.
    """
    m = _BU3DFE_NAME.match(path.stem)
    if not m:
        return None
    subject, code, level, race = m.group(1), m.group(2).upper(), int(m.group(3)), m.group(4).upper()
    if code not in BU3DFE_EXPRESSIONS:
        raise _unknown(path, "BU-3DFE expression", code, BU3DFE_EXPRESSIONS)
    if (code == "NE") != (level == 0) or level > 4:
        raise LandmarkGANError(
            f"{path}: BU-3DFE intensity {level:02d} does not fit expression {code}; "
            "neutral faces are NE00 and the other expressions have intensities 01-04"
        )
    return SourceImage(path, subject, BU3DFE_EXPRESSIONS[code], intensity=level, extra={"race": race})


FERG_CHARACTERS = ("aia", "bonnie", "jules", "malcolm", "mery", "ray")
FERG_EXPRESSIONS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "joy": "happy",
                    "neutral": "neutral", "sadness": "sad", "surprise": "surprise"}
_FERG_NAME = re.compile(r"^([A-Za-z]+)_([A-Za-z]+)_(\d+)$")


def parse_ferg(path: Path, src: Path) -> SourceImage | None:
    """``<character>/<character>_<expression>/<character>_<expression>_<n>.png`` (FERG_DB_256).

    The character is the subject; expressions are FERG's own words (anger, joy, sadness, ...).
    """
    m = _FERG_NAME.match(path.stem)
    if not m or path.parent.name != f"{m.group(1)}_{m.group(2)}" or path.parent.parent.name != m.group(1):
        return None
    character, code = m.group(1).lower(), m.group(2).lower()
    if character not in FERG_CHARACTERS:
        raise _unknown(path, "FERG character", character, FERG_CHARACTERS)
    if code not in FERG_EXPRESSIONS:
        raise _unknown(path, "FERG expression", code, FERG_EXPRESSIONS)
    return SourceImage(path, character, FERG_EXPRESSIONS[code], extra={"number": int(m.group(3))})


RAFD_EXPRESSIONS = {"angry": "angry", "contemptuous": "contempt", "disgusted": "disgust",
                    "fearful": "fear", "happy": "happy", "neutral": "neutral", "sad": "sad",
                    "surprised": "surprise"}
RAFD_ANGLES = ("000", "045", "090", "135", "180")
RAFD_GAZES = ("frontal", "left", "right")
_RAFD_NAME = re.compile(r"^Rafd(\d{3})_(\d+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z]+)$", re.IGNORECASE)


def parse_rafd(path: Path, src: Path) -> SourceImage | None:
    """``Rafd090_01_Caucasian_female_angry_frontal.jpg``: camera angle 090, subject 01,
    ethnicity, gender, expression, gaze; images of one subject pair within one view (angle, gaze)."""
    m = _RAFD_NAME.match(path.stem)
    if not m:
        return None
    angle, subject, ethnicity, gender, code, gaze = m.groups()
    code, gaze = code.lower(), gaze.lower()
    if angle not in RAFD_ANGLES:
        raise _unknown(path, "RaFD camera angle", angle, RAFD_ANGLES)
    if code not in RAFD_EXPRESSIONS:
        raise _unknown(path, "RaFD expression", code, RAFD_EXPRESSIONS)
    if gaze not in RAFD_GAZES:
        raise _unknown(path, "RaFD gaze", gaze, RAFD_GAZES)
    return SourceImage(path, subject, RAFD_EXPRESSIONS[code], view=f"{angle}_{gaze}",
                       extra={"ethnicity": ethnicity.lower(), "gender": gender.lower()})


def parse_folder(path: Path, src: Path) -> SourceImage | None:
    """Generic layout ``SRC/<subject>/<expression>[_<intensity>][_<anything>].<ext>``.

    The subject is the folder name; the file name starts with an expression name or code
    (``happy``, ``HA``, ``anger``, ``surprised``, ...); an optional single digit 0-4 after it is
    the intensity (0 = not given); anything after that tells images apart. Examples:
    ``alice/happy.jpg``, ``alice/happy_3.png``, ``bob/neutral_take2.jpg``, ``bob/sad_2_b.png``.
    Files not exactly one folder below SRC are outside the layout.
    """
    rel = path.relative_to(src)
    if len(rel.parts) != 2:
        return None
    tokens = path.stem.split("_")
    try:
        expression = canonical_expression(tokens[0])
    except LandmarkGANError:
        raise LandmarkGANError(
            f"{path}: unknown expression {tokens[0]!r} at the start of the file name; name files "
            "<expression>[_<intensity>][_<anything>] with an expression such as neutral, happy, sad, "
            "angry, surprise, fear, disgust, contempt"
        ) from None
    intensity = int(tokens[1]) if len(tokens) > 1 and re.fullmatch(r"[0-4]", tokens[1]) else 0
    return SourceImage(path, rel.parts[0], expression, intensity=intensity)


# ----------------------------------------------------------------------------------------- splits
def num_test(total: int, test_fraction: float) -> int:
    """How many of ``total`` units (subjects or images) go to test: the rounded fraction, kept
    within 1..total-1 so that both splits are non-empty whenever ``total`` >= 2."""
    if not 0.0 < test_fraction < 1.0:
        raise LandmarkGANError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if total < 2:
        return 0
    return min(max(int(round(total * test_fraction)), 1), total - 1)


def split_subjects(images: list[SourceImage], test_fraction: float, seed: int = 0) -> list[SourceImage]:
    """Subject-disjoint split: a seeded random ``test_fraction`` of the subjects becomes test."""
    subjects = sorted({im.subject for im in images})
    order = np.random.default_rng(seed).permutation(len(subjects))
    test = {subjects[i] for i in order[: num_test(len(subjects), test_fraction)]}
    return [replace(im, split="test" if im.subject in test else "train") for im in images]


def sample_per_expression(
    images: list[SourceImage],
    per_expression: int = FERG_PER_EXPRESSION,
    test_fraction: float = FERG_TEST_PER_EXPRESSION / FERG_PER_EXPRESSION,
    seed: int = 0,
) -> tuple[list[SourceImage], list[SourceImage]]:
    """FERG's protocol: sample ``per_expression`` images of each expression (all of them when fewer
    exist), ``test_fraction`` of each sample test (100 of 1,200 in the paper).
    Returns (sampled images with their split, images left out)."""
    by_expression: dict[str, list[SourceImage]] = defaultdict(list)
    for im in images:
        by_expression[im.expression].append(im)
    rng = np.random.default_rng(seed)
    kept, left_out = [], []
    for expression in sorted(by_expression):
        group = by_expression[expression]
        order = rng.permutation(len(group))
        n = min(per_expression, len(group))
        n_test = num_test(n, test_fraction)
        kept += [replace(group[i], split="test" if k < n_test else "train") for k, i in enumerate(order[:n])]
        left_out += [group[i] for i in order[n:]]
    return kept, left_out


# ---------------------------------------------------------------------------------------- readers
@dataclass(frozen=True)
class Reader:
    """A data set's parser, its default test fraction and whether it samples images per expression."""

    parse: Parser
    test_fraction: float
    per_expression_sampling: bool = False


READERS: dict[str, Reader] = {
    "jaffe": Reader(parse_jaffe, JAFFE_TEST_FRACTION),
    "bu3dfe": Reader(parse_bu3dfe, BU3DFE_TEST_FRACTION),
    "ferg": Reader(parse_ferg, FERG_TEST_PER_EXPRESSION / FERG_PER_EXPRESSION, per_expression_sampling=True),
    "rafd": Reader(parse_rafd, RAFD_TEST_FRACTION),
    "folder": Reader(parse_folder, FOLDER_TEST_FRACTION),
}


def image_files(src: str | os.PathLike) -> list[Path]:
    """Every image file under ``src`` (recursively, sorted); clear errors for a missing or empty folder."""
    src = Path(src)
    if not src.exists():
        raise LandmarkGANError(f"data set folder {src} does not exist; pass the folder you unpacked the data set into")
    if not src.is_dir():
        raise LandmarkGANError(f"{src} is not a folder; pass the folder you unpacked the data set into")
    files = sorted(p for p in src.rglob("*") if p.is_file() and is_image_file(p))
    if not files:
        raise LandmarkGANError(f"data set folder {src} holds no image files")
    return files


def read_dataset(kind: str, src: str | os.PathLike, seed: int = 0, test_fraction: float | None = None) -> ReadResult:
    """Read data set ``kind`` from ``src`` and assign the paper's train/test split (seeded).

    ``test_fraction`` overrides the data set's default: the fraction of subjects that are test
    subjects, or for FERG the fraction of the sampled images of each expression.
    """
    if kind not in READERS:
        raise LandmarkGANError(f"unknown data set kind {kind!r}; use one of: {', '.join(READERS)}")
    reader = READERS[kind]
    src = Path(src)
    images, outside = [], []
    for path in image_files(src):
        record = reader.parse(path, src)
        if record is None:
            outside.append(path)
        else:
            images.append(record)
    if not images:
        raise LandmarkGANError(
            f"found no {kind} images in {src} ({len(outside)} image file(s) do not follow its naming); "
            f"see `landmarkgan prepare --help` for the layout each data set kind expects"
        )
    fraction = reader.test_fraction if test_fraction is None else test_fraction
    if reader.per_expression_sampling:
        images, not_sampled = sample_per_expression(images, FERG_PER_EXPRESSION, fraction, seed)
        return ReadResult(images, outside, [im.path for im in not_sampled])
    return ReadResult(split_subjects(images, fraction, seed), outside, [])
