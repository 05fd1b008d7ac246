"""``landmarkgan prepare``: turn a raw data set into the on-disk format the model trains on.

For every image the data set's reader lists (see :mod:`landmarkgan.data.readers`): load it,
detect the face and its 68 landmarks (the paper used OpenFace; we use dlib, same 68-point
convention), align and crop the face to size x size, and save it as PNG under ``OUT/images/``.
``OUT/manifest.jsonl`` lists the prepared faces with labels, split and landmarks;
``OUT/prepare_report.json`` counts what was prepared and lists every skipped file by reason.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from landmarkgan.data.images import load_image, save_image
from landmarkgan.data.manifest import Sample, write_manifest
from landmarkgan.data.readers import SourceImage, read_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.align import align_face

REPORT_NAME = "prepare_report.json"
IMAGES_DIR = "images"
# Why an image was left out of the prepared data set.
SKIP_REASONS = {
    "outside_layout": "file name/location does not follow the data set's layout",
    "not_sampled": "left out by the split protocol (FERG samples 1,200 images per expression)",
    "unreadable": "corrupt, truncated or not an image",
    "no_face": "no face detected",
    "multiple_faces": "more than one face detected",
}


class Detector(Protocol):
    """Anything with ``detect(rgb_uint8) -> list`` of detections carrying 68 ``landmarks``."""

    def detect(self, image: np.ndarray) -> list: ...


@dataclass
class PrepareReport:
    """What ``prepare_dataset`` did: counts of prepared faces and skipped files (with paths)."""

    kind: str
    src: str
    out: str
    size: int
    seed: int
    prepared: int = 0
    prepared_per_split: dict[str, int] = field(default_factory=dict)
    prepared_per_expression: dict[str, int] = field(default_factory=dict)
    subjects_per_split: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, list[str]] = field(default_factory=lambda: {reason: [] for reason in SKIP_REASONS})

    def skip(self, reason: str, path: Path, detail: str = "") -> None:
        self.skipped[reason].append(f"{path}: {detail}" if detail else str(path))

    def summary(self) -> str:
        """A few human-readable lines: prepared counts, then skip counts by reason."""
        splits = ", ".join(f"{n} {split}" for split, n in sorted(self.prepared_per_split.items()))
        subjects = ", ".join(f"{n} {split}" for split, n in sorted(self.subjects_per_split.items()))
        lines = [f"prepared {self.prepared} {self.kind} faces at {self.size}x{self.size} in {self.out} "
                 f"({splits}; subjects: {subjects})"]
        for reason, paths in self.skipped.items():
            if paths:
                lines.append(f"  skipped {len(paths)}: {SKIP_REASONS[reason]}")
        lines.append(f"details: {Path(self.out) / REPORT_NAME}")
        return "\n".join(lines)


def output_name(image: SourceImage, src: Path) -> str:
    """A unique, readable PNG name under ``images/``: the source path relative to SRC, flattened."""
    rel = image.path.relative_to(src).with_suffix("")
    return re.sub(r"[^A-Za-z0-9._-]", "_", "__".join(rel.parts)) + ".png"


def prepare_dataset(
    kind: str,
    src: str | os.PathLike,
    out: str | os.PathLike,
    size: int = 256,
    seed: int = 0,
    detector: Detector | str = "hog",
    progress: bool = True,
    test_fraction: float | None = None,
) -> PrepareReport:
    """Prepare data set ``kind`` (jaffe, bu3dfe, ferg, rafd, folder) from ``src`` into ``out``.

    ``detector`` is a detector object or the name of a dlib face detector ("hog", "cnn") used with
    the 68-point shape predictor; it is built only after SRC has been read successfully. The
    split is the paper's for the data set (seeded; ``test_fraction`` overrides it). Prints a
    summary when ``progress`` is on. Returns the report also written to ``out/prepare_report.json``.
    """
    if size < 16:
        raise LandmarkGANError(f"image size must be at least 16 pixels, got {size}")
    src, out = Path(src), Path(out)
    found = read_dataset(kind, src, seed=seed, test_fraction=test_fraction)
    if isinstance(detector, str):
        from landmarkgan.landmarks.detector import FaceLandmarkDetector

        detector = FaceLandmarkDetector(detector=detector)
    report = PrepareReport(kind=kind, src=str(src), out=str(out), size=size, seed=seed)
    for path in found.outside_layout:
        report.skip("outside_layout", path)
    for path in found.not_sampled:
        report.skip("not_sampled", path)

    samples: list[Sample] = []
    for image in tqdm(found.images, desc=f"prepare {kind}", unit="img", disable=not progress):
        try:
            pixels = load_image(image.path)
        except LandmarkGANError as e:
            report.skip("unreadable", image.path, str(e))
            continue
        detections = detector.detect(pixels)
        if not detections:
            report.skip("no_face", image.path)
            continue
        if len(detections) > 1:
            report.skip("multiple_faces", image.path, f"{len(detections)} faces")
            continue
        aligned, landmarks, _ = align_face(pixels, detections[0].landmarks, size=size)
        name = f"{IMAGES_DIR}/{output_name(image, src)}"
        save_image(aligned, out / name)
        extra = {"source": str(image.path.relative_to(src)), **image.extra}
        samples.append(Sample(image=name, subject=image.subject, expression=image.expression,
                              landmarks=landmarks, intensity=image.intensity, split=image.split,
                              view=image.view, extra=extra))

    report.prepared = len(samples)
    report.prepared_per_split = dict(sorted(Counter(s.split for s in samples).items()))
    report.prepared_per_expression = dict(sorted(Counter(s.expression for s in samples).items()))
    report.subjects_per_split = {
        split: len({s.subject for s in samples if s.split == split}) for split in report.prepared_per_split
    }
    out.mkdir(parents=True, exist_ok=True)
    with open(out / REPORT_NAME, "w", encoding="utf-8") as f:
        json.dump(asdict(report), f, indent=1)
    if not samples:
        raise LandmarkGANError(
            f"no face could be prepared from {src}; see {out / REPORT_NAME} for why each image was skipped"
        )
    write_manifest(samples, out)
    if progress:
        print(report.summary())
    return report
