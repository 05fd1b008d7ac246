"""The expression vocabulary shared by every data set, the model and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

from landmarkgan.errors import LandmarkGANError, quoted

# The six basic expressions plus neutral, in a fixed order; RaFD adds "contempt" as an eighth.
EXPRESSIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust", "contempt")
BASIC_EXPRESSIONS: tuple[str, ...] = EXPRESSIONS[:7]
# BU-3DFE's four intensity levels; 0 means "not given" (neutral faces, data sets without levels).
NUM_INTENSITIES = 4

_ALIASES = {
    "neutral": "neutral", "ne": "neutral", "neu": "neutral",
    "happy": "happy", "happiness": "happy", "ha": "happy", "hap": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "angry": "angry", "anger": "angry", "an": "angry", "ang": "angry",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise", "sur": "surprise",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "fe": "fear",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust", "dis": "disgust",
    "contempt": "contempt", "contemptuous": "contempt", "co": "contempt",
}


def canonical_expression(name: str, known: Sequence[str] = EXPRESSIONS) -> str:
    """Map a name or common code ("HA", "anger", "Surprised") to its canonical name; the message for a name that is
    none offers ``known``, the expressions of the model or data set at hand."""
    if not isinstance(name, str):
        raise LandmarkGANError(f"the expression must be a name such as 'happy', got {quoted(name)}")
    key = name.strip().lower()
    if key not in _ALIASES:
        raise LandmarkGANError(f"unknown expression {quoted(name)}; use one of: {', '.join(known)}")
    return _ALIASES[key]


def expression_index(name: str, expressions: tuple[str, ...] | list[str] = EXPRESSIONS) -> int:
    """Index of an expression within a model's or data set's expression list."""
    canon = canonical_expression(name, expressions)
    if canon not in expressions:
        raise LandmarkGANError(
            f"expression {canon!r} is not one this model/data set knows; use one of: {', '.join(expressions)}"
        )
    return list(expressions).index(canon)
