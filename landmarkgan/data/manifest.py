"""The one on-disk format of every data set: a folder of images plus ``manifest.jsonl``.

Each line of the manifest is one image::

    {"image": "images/s001_happy_3.png", "subject": "s001", "expression": "happy",
     "intensity": 3, "split": "train", "view": "", "landmarks": [[x0, y0], ..., [x67, y67]]}

``image`` is relative to the manifest's folder; ``landmarks`` are the 68 iBUG/300-W points in
pixel coordinates of that image; ``intensity`` is 1..4 where the data set has levels, else 0;
``view`` groups images that may be paired (camera angle and gaze for RaFD, empty elsewhere).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import canonical_expression

MANIFEST_NAME = "manifest.jsonl"
NUM_LANDMARKS = 68
SPLITS = ("train", "test")


@dataclass
class Sample:
    """One face image of a data set, with its labels and 68 landmarks (pixels, shape (68, 2))."""

    image: str
    subject: str
    expression: str
    landmarks: np.ndarray
    intensity: int = 0
    split: str = "train"
    view: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.expression = canonical_expression(self.expression)
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        if self.landmarks.shape != (NUM_LANDMARKS, 2):
            raise LandmarkGANError(
                f"{self.image}: expected 68 landmarks of shape (68, 2), got {self.landmarks.shape}"
            )
        if self.split not in SPLITS:
            raise LandmarkGANError(f"{self.image}: split must be one of {SPLITS}, got {self.split!r}")
        if not 0 <= int(self.intensity) <= 4:
            raise LandmarkGANError(f"{self.image}: intensity must be 0..4, got {self.intensity}")
        self.intensity = int(self.intensity)

    def to_json(self) -> dict:
        record = {
            "image": self.image,
            "subject": self.subject,
            "expression": self.expression,
            "intensity": self.intensity,
            "split": self.split,
            "view": self.view,
            "landmarks": np.round(self.landmarks.astype(np.float64), 3).tolist(),
        }
        if self.extra:
            record["extra"] = self.extra
        return record

    @classmethod
    def from_json(cls, record: dict) -> "Sample":
        missing = {"image", "subject", "expression", "landmarks"} - record.keys()
        if missing:
            raise LandmarkGANError(f"manifest record lacks field(s) {sorted(missing)}: {record!r:.200}")
        return cls(
            image=record["image"],
            subject=str(record["subject"]),
            expression=record["expression"],
            landmarks=record["landmarks"],
            intensity=record.get("intensity", 0),
            split=record.get("split", "train"),
            view=record.get("view", ""),
            extra=record.get("extra", {}),
        )


def manifest_path(root: str | os.PathLike) -> Path:
    """The manifest file of a data folder (``root`` may also be the manifest file itself)."""
    root = Path(root)
    return root if root.suffix == ".jsonl" else root / MANIFEST_NAME


def write_manifest(samples: list[Sample], root: str | os.PathLike) -> Path:
    """Write ``samples`` to ``root/manifest.jsonl`` atomically (a temporary file, then a rename)."""
    path = manifest_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for s in samples:
            f.write(json.dumps(s.to_json()) + "\n")
    os.replace(tmp, path)
    return path


def read_manifest(root: str | os.PathLike) -> list[Sample]:
    """Read a data folder's manifest; clear errors for a missing folder or a malformed line."""
    path = manifest_path(root)
    if not path.parent.is_dir():
        raise LandmarkGANError(f"data folder {path.parent} does not exist; create it with `landmarkgan prepare` or `landmarkgan synthesize`")
    if not path.is_file():
        raise LandmarkGANError(f"no {MANIFEST_NAME} in {path.parent}; create one with `landmarkgan prepare` or `landmarkgan synthesize`")
    samples = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise LandmarkGANError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            try:
                samples.append(Sample.from_json(record))
            except LandmarkGANError as e:
                raise LandmarkGANError(f"{path}:{lineno}: {e}") from None
    if not samples:
        raise LandmarkGANError(f"{path} lists no images")
    return samples
