"""Type checks for the config dataclasses: every field must hold what its annotation says.

Values come from YAML files and ``section.key=value`` overrides, so they are checked and, where
it is safe, coerced: an integer where a float is expected becomes a float, a string such as
``"1e-4"`` (which YAML 1.1 reads as a string) becomes the number it spells, and ``off``/``on`` (which
YAML 1.1 reads as booleans) stay the words where a string is expected.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from landmarkgan.errors import LandmarkGANError

_KINDS = {"int": int, "float": float, "bool": bool, "str": str, "list[str]": list}


def _kind(annotation: str) -> tuple[type, bool]:
    """("float | None") -> (float, optional)."""
    parts = [p.strip() for p in str(annotation).split("|")]
    optional = "None" in parts
    names = [p for p in parts if p != "None"]
    if len(names) != 1 or names[0] not in _KINDS:
        raise TypeError(f"unsupported config field type {annotation!r}")
    return _KINDS[names[0]], optional


def _coerce(value: Any, kind: type, where: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise LandmarkGANError(f"{where} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise LandmarkGANError(f"{where} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise LandmarkGANError(f"{where} must be a number, got {value!r}") from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise LandmarkGANError(f"{where} must be a number, got {value!r}")
    if kind is list:
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        raise LandmarkGANError(f"{where} must be a list of names, e.g. [neutral, happy], got {value!r}")
    if isinstance(value, bool):  # YAML 1.1 reads off/on/no/yes as booleans: train.amp=off means "off"
        return "on" if value else "off"
    if isinstance(value, str):
        return value
    raise LandmarkGANError(f"{where} must be a string, got {value!r}")


def check_fields(config: Any, section: str) -> None:
    """Check (and coerce in place) every field of the dataclass ``config``; errors name ``section.field``."""
    for f in dataclasses.fields(config):
        kind, optional = _kind(f.type)
        value = getattr(config, f.name)
        if value is None and optional:
            continue
        setattr(config, f.name, _coerce(value, kind, f"{section}.{f.name}"))


def check_finite(value: float, where: str, minimum: float = 0.0) -> None:
    """A finite number of at least ``minimum``, or a clear error."""
    if not (math.isfinite(value) and value >= minimum):
        raise LandmarkGANError(f"{where} must be a finite number >= {minimum:g}, got {value}")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def field_defaults(cls: type) -> dict[str, Any]:
    """Each field's default value (fields with a default factory, such as lists, are left out)."""
    return {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}


def drop_retired(options: dict[str, Any], retired: dict[str, Any], section: str) -> dict[str, Any]:
    """``options`` without the ones an earlier version had and this one removed, each of which may be left in a
    saved config only at the value that made it do nothing; a retired option that was switched on is refused."""
    kept = dict(options)
    for name, no_op in retired.items():
        if name in kept and kept.pop(name) != no_op:
            raise LandmarkGANError(
                f"{section}.{name}={options[name]!r}: landmarkgan no longer has this option, so a config, run or model "
                f"made with it switched on cannot be used; remove {section}.{name} from the config to train without it "
                "(docs/experiments.md has the experiments that were removed)")
    return kept
