"""Data augmentation with a trained model: each real face in every other expression (Table II of the paper)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from tqdm import tqdm

from landmarkgan.data.dataset import resize_face
from landmarkgan.data.images import load_image, save_image
from landmarkgan.data.manifest import Sample, manifest_path, read_manifest, write_manifest
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.pipeline import LandmarkGANPipeline

IMAGES_DIR = "images"


def augment_dataset(
    pipe: LandmarkGANPipeline,
    data: str | os.PathLike,
    out: str | os.PathLike,
    split: str = "train",
    batch_size: int = 32,
    progress: bool = True,
) -> list[Sample]:
    """Write every image of ``data`` (``split``: train, test or all) in every label of the model but its
    own into ``out`` (PNG at the model's size + manifest). Returns the generated samples. The manifest's
    landmarks of each face go to the model as its source landmarks (the warp generator moves them)."""
    if batch_size < 1:
        raise LandmarkGANError(f"batch size must be at least 1, got {batch_size}")
    root = manifest_path(data).parent
    sources = [s for s in read_manifest(data) if split == "all" or s.split == split]
    if not sources:
        raise LandmarkGANError(f"{manifest_path(data)} has no {split} images")
    unknown = sorted({s.expression for s in sources} - set(pipe.expressions))
    if unknown:
        raise LandmarkGANError(f"the data has expression(s) {', '.join(unknown)} that the model does not know")
    out = Path(out)
    size = pipe.image_size
    jobs = [(s, label) for s in sources for label in pipe.labels() if label != _own_label(pipe, s)]
    generated: list[Sample] = []
    faces: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with tqdm(total=len(jobs), desc="augment", unit="face", disable=not progress) as bar:
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            for s, _ in chunk:
                if s.image not in faces:
                    faces[s.image] = resize_face(load_image(root / s.image), s.landmarks, size)
            results = pipe.translate_faces(np.stack([faces[s.image][0] for s, _ in chunk]), [label for _, label in chunk],
                                           np.stack([faces[s.image][1] for s, _ in chunk]))
            for (s, _), r in zip(chunk, results):
                name = f"{IMAGES_DIR}/{Path(s.image).stem}__{r.expression}{r.intensity or ''}.png"
                save_image(r.image, out / name)
                generated.append(Sample(image=name, subject=s.subject, expression=r.expression, intensity=r.intensity,
                                        landmarks=r.landmarks, split=s.split, view=s.view,
                                        extra={"source": s.image, "generated": True}))
            bar.update(len(chunk))
            if len(faces) > 4 * batch_size:  # sources come in order: keep the cache small
                keep = {s.image for s, _ in jobs[start + batch_size : start + 2 * batch_size]}
                faces = {k: v for k, v in faces.items() if k in keep}
    write_manifest(generated, out)
    return generated


def _own_label(pipe: LandmarkGANPipeline, sample: Sample) -> tuple[str, int]:
    """The label of a real sample as the model names it (intensity 0 when the model has no intensity control)."""
    if not pipe.intensities or sample.expression == "neutral":
        return sample.expression, 0
    return sample.expression, sample.intensity
