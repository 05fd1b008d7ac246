"""Evaluate a model the way the paper does, on the test pairs of a data folder.

For every (source, target) test pair the model translates the source to the target's expression;
the generated face is compared with the real target face:

* PSNR and SSIM (Tables III and IV), LPIPS (Table IV) and the Inception Score (Table III) when their
  pretrained weights are on disk, FID when the ``fid`` extra is installed;
* landmark L2 distance (Table VI): dlib's landmarks detected on the generated face against the
  target's true landmarks, in pixels of a 256 x 256 image (faces dlib does not find are counted and
  left out); also the model's own generated landmarks against the true ones;
* face verification (identity): dlib's 128-d descriptors of the generated face and of the real target
  face (both cut into dlib's face chip with the target's true landmarks), verified below dlib's 0.6
  threshold;
* expression accuracy: a CNN expression classifier trained on the real training faces classifies
  the generated faces; its accuracy on the real test faces is the reference.

A metric that cannot be computed here says why in ``notes`` instead of failing the evaluation.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader
from tqdm import tqdm

from landmarkgan.data.dataset import ExpressionPairDataset, to_tensor, to_uint8
from landmarkgan.data.images import save_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.metrics import landmark_l2_distance, psnr, ssim
from landmarkgan.inference.sheets import make_sheet
from landmarkgan.landmarks.drawing import draw_landmarks
from landmarkgan.models.landmarkgan import LandmarkGAN

DETECTION_SIZE = 256  # generated faces are upscaled to at least this side before dlib looks for them
SHEET_PAIRS = 8
# name -> (label in tables, format, higher is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "psnr": ("PSNR (dB)", ".2f", True),
    "ssim": ("SSIM", ".3f", True),
    "lpips": ("LPIPS", ".4f", False),
    "inception_score": ("IS", ".3f", True),
    "fid": ("FID", ".1f", False),
    "landmark_l2_detected": ("landmark L2, dlib (px@256)", ".2f", False),
    "landmark_l2_model": ("landmark L2, model (px@256)", ".2f", False),
    "face_detected": ("faces found by dlib", ".3f", True),
    "verification_rate": ("face verification", ".3f", True),
    "identity_distance": ("identity distance", ".3f", False),
    "expression_accuracy": ("expression accuracy", ".3f", True),
    "real_expression_accuracy": ("expression accuracy, real test faces", ".3f", True),
}


@dataclass
class Evaluation:
    """Metric values (NaN where not computed), why a metric is missing, per-pair values and a picture."""

    metrics: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    pairs: list[dict] = field(default_factory=list)
    sheet: np.ndarray | None = None
    examples: dict[str, list[np.ndarray]] = field(default_factory=dict)  # input/output/target of the first pairs

    def write(self, out: str | os.PathLike, title: str = "") -> Path:
        """``metrics.md``, ``metrics.json``, ``metrics.csv``, ``pairs.csv`` and ``comparison.png`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.md").write_text(markdown_table({title or "model": self}) + "\n" + notes_text(self.notes))
        (out / "metrics.json").write_text(json.dumps({"metrics": self.metrics, "notes": self.notes}, indent=1))
        with open(out / "metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(list(self.metrics))
            writer.writerow([f"{v:.6g}" for v in self.metrics.values()])
        if self.pairs:
            with open(out / "pairs.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(self.pairs[0]))
                writer.writeheader()
                writer.writerows(self.pairs)
        if self.sheet is not None:
            save_image(self.sheet, out / "comparison.png")
        return out


def markdown_table(results: dict[str, Evaluation], metrics: list[str] | None = None) -> str:
    """One row per model, one column per metric (those computed for at least one model)."""
    names = metrics or [m for m in METRICS if any(math.isfinite(r.metrics.get(m, math.nan)) for r in results.values())]
    header = "| model | " + " | ".join(f"{METRICS[m][0]} {'↑' if METRICS[m][2] else '↓'}" for m in names) + " |"
    lines = [header, "|---|" + "---:|" * len(names)]
    for title, result in results.items():
        cells = []
        for m in names:
            value = result.metrics.get(m, math.nan)
            cells.append(format(value, METRICS[m][1]) if math.isfinite(value) else "n/a")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def notes_text(notes: dict[str, str]) -> str:
    return "".join(f"- {METRICS[m][0]}: {why}\n" for m, why in notes.items())


@torch.no_grad()
def evaluate(
    model: LandmarkGAN,
    data: str | os.PathLike,
    split: str = "test",
    num_pairs: int | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    classifier: object | None = None,
    identity: bool = True,
    perceptual: bool = True,
    progress: bool = True,
) -> Evaluation:
    """Evaluate ``model`` on ``split`` pairs of ``data`` (all of them, or a seeded sample of ``num_pairs``).

    ``classifier`` is a trained :class:`~landmarkgan.evaluation.expression_classifier.ExpressionClassifier`
    over the model's expressions, or None to leave expression accuracy out. ``identity=False`` skips
    dlib (detected landmarks and verification); ``perceptual=False`` skips LPIPS, IS and FID.
    """
    device = torch.device(device)
    model = model.to(device).eval()
    size = model.config.image_size
    dataset = ExpressionPairDataset(data, split=split, image_size=size, pairs="sample" if num_pairs else "all",
                                    num_pairs=num_pairs, seed=seed, expressions=model.config.expressions)
    sources, generated, targets, landmark_images, predicted, truth, labels = [], [], [], [], [], [], []
    loader = DataLoader(dataset, batch_size=batch_size, generator=torch.Generator())
    for batch in tqdm(loader, desc="translating test pairs", unit="batch", disable=not progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model.translate_batch(batch)
        generated += list(to_uint8(out["image"]))
        sources += list(to_uint8(batch["x"]))
        targets += list(to_uint8(batch["y"]))
        landmark_images += list(to_uint8(out["landmark_image"])) if out["landmark_image"] is not None else [None] * len(batch["x"])
        predicted += list(out["landmarks"].float().cpu().numpy()) if out["landmarks"] is not None else [None] * len(batch["x"])
        truth += list(batch["target_landmarks"].cpu().numpy())
        labels += batch["target_label"].cpu().tolist()

    metrics = {m: math.nan for m in METRICS}
    notes: dict[str, str] = {}
    pairs = [{"source": dataset.samples[int(i)].image, "target": dataset.samples[int(j)].image,
              "expression": dataset.expressions[labels[k]]} for k, (i, j) in enumerate(dataset.pairs)]
    for k, (g, t) in enumerate(zip(generated, targets)):
        pairs[k]["psnr"], pairs[k]["ssim"] = psnr(g, t), ssim(g, t)
    metrics["psnr"] = float(np.mean([p["psnr"] for p in pairs if math.isfinite(p["psnr"])]))
    metrics["ssim"] = float(np.mean([p["ssim"] for p in pairs]))
    if predicted[0] is not None:
        for k, (p, t) in enumerate(zip(predicted, truth)):
            pairs[k]["landmark_l2_model"] = landmark_l2_distance(p, t, size)
        metrics["landmark_l2_model"] = float(np.mean([p["landmark_l2_model"] for p in pairs]))
    else:
        notes["landmark_l2_model"] = "this model generates no landmarks"

    if identity:
        _identity_metrics(generated, targets, truth, size, metrics, pairs, progress)
    else:
        notes["landmark_l2_detected"] = notes["verification_rate"] = "dlib left out (--no-identity)"
    if classifier is not None:
        _expression_metrics(classifier, generated, labels, dataset, metrics)
    else:
        notes["expression_accuracy"] = "no expression classifier"
    if perceptual:
        _perceptual_metrics(generated, targets, metrics, notes, device, progress)
    else:
        notes["lpips"] = notes["inception_score"] = notes["fid"] = "left out (--no-perceptual)"
    sheet = comparison_sheet(sources, landmark_images, predicted, generated, targets,
                             [p["expression"] for p in pairs])
    n = min(SHEET_PAIRS, len(generated))
    examples = {"input": sources[:n], "output": generated[:n], "target": targets[:n]}
    return Evaluation(metrics, notes, pairs, sheet, examples)


def _identity_metrics(generated, targets, truth, size, metrics, pairs, progress) -> None:
    """Detected-landmark L2 and face verification, both with dlib."""
    from landmarkgan.evaluation.identity_metrics import face_descriptors, identity_report
    from landmarkgan.landmarks.detector import FaceLandmarkDetector

    detector = FaceLandmarkDetector()
    scale = max(1, math.ceil(DETECTION_SIZE / size))
    detected: list[np.ndarray | None] = []
    for image in tqdm(generated, desc="dlib on generated faces", unit="face", disable=not progress):
        big = np.asarray(Image.fromarray(image).resize((size * scale, size * scale), Image.Resampling.BICUBIC))
        found = detector.detect(big)
        detected.append((found[0].landmarks + 0.5) / scale - 0.5 if found else None)
    for k, (d, t) in enumerate(zip(detected, truth)):
        pairs[k]["landmark_l2_detected"] = landmark_l2_distance(d, t, size) if d is not None else math.nan
    found = [p["landmark_l2_detected"] for p in pairs if math.isfinite(p["landmark_l2_detected"])]
    metrics["face_detected"] = len(found) / len(pairs)
    metrics["landmark_l2_detected"] = float(np.mean(found)) if found else math.nan
    # both faces are cut into dlib's chip with the target's true landmarks: a generated face belongs in the
    # target's place, and every pair gets a score (also when dlib cannot find the generated face)
    chips = [t.astype(np.float64) for t in truth]
    fake, real = face_descriptors(generated, chips), face_descriptors(targets, chips)
    report = identity_report(fake, real)
    metrics["verification_rate"] = report.verification_rate
    metrics["identity_distance"] = report.mean_distance
    distances = np.linalg.norm(fake - real, axis=1)
    for k, d in enumerate(distances):
        pairs[k]["identity_distance"] = float(d)


def _expression_metrics(classifier, generated, labels, dataset: ExpressionPairDataset, metrics) -> None:
    from landmarkgan.evaluation.expression_classifier import accuracy

    if list(classifier.classes) != list(dataset.expressions):
        raise LandmarkGANError(
            f"the expression classifier knows {list(classifier.classes)} but the model {list(dataset.expressions)}"
        )
    images = torch.stack([to_tensor(g) for g in generated])
    metrics["expression_accuracy"] = accuracy(classifier, images, torch.tensor(labels))
    test_rows = sorted({int(j) for j in dataset.pairs[:, 1]})
    real = torch.stack([to_tensor(dataset.face(j)[0]) for j in test_rows])
    real_labels = torch.tensor([dataset.expressions.index(dataset.samples[j].expression) for j in test_rows])
    metrics["real_expression_accuracy"] = accuracy(classifier, real, real_labels)


def _perceptual_metrics(generated, targets, metrics, notes, device, progress) -> None:
    """LPIPS, Inception Score and FID where their networks are available; else a note saying what to supply."""
    from landmarkgan.evaluation.inception import frechet_inception_distance, inception_score, load_inception_classifier
    from landmarkgan.evaluation.lpips import load_lpips, lpips_distance

    try:
        metrics["lpips"] = lpips_distance(load_lpips().to(device), generated, targets)
    except LandmarkGANError as e:
        notes["lpips"] = str(e)
    try:
        splits = min(10, len(generated))
        metrics["inception_score"] = inception_score(generated, load_inception_classifier().to(device), splits=splits,
                                                     device=device)[0]
    except LandmarkGANError as e:
        notes["inception_score"] = str(e)
    if len(generated) < 2:
        notes["fid"] = "FID needs at least 2 pairs"
        return
    try:
        metrics["fid"] = frechet_inception_distance(targets, generated, device=device)
    except LandmarkGANError as e:
        notes["fid"] = str(e)


def comparison_sheet(sources, landmark_images, predicted, generated, targets, expressions) -> np.ndarray:
    """input | generated landmarks | output | ground truth, for the first pairs."""
    rows = []
    for k in range(min(SHEET_PAIRS, len(generated))):
        canvas = landmark_images[k] if landmark_images[k] is not None else np.full_like(generated[k], 255)
        marks = draw_landmarks(canvas, predicted[k]) if predicted[k] is not None else canvas
        rows.append([sources[k], marks, generated[k], targets[k]])
    return make_sheet(rows, ["input", "generated landmarks", "output", "ground truth"],
                      expressions[: len(rows)], cell_size=max(128, generated[0].shape[0]))
