"""Files that ship inside the package: sample faces (and, once trained, the default model)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset_path(*parts: str) -> Path:
    """The path of a bundled file, e.g. ``asset_path("faces", "astronaut.jpg")``."""
    return Path(str(files("landmarkgan.assets").joinpath(*parts)))
