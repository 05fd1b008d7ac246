"""Evaluate a model the way the paper does, on the test pairs of a data folder.

For every (source, target) test pair the model translates the source to the target's expression;
the generated face is compared with the real target face:

* PSNR and SSIM (Tables III and IV), LPIPS (Table IV) and the Inception Score (Table III) when their
  pretrained weights are on disk, FID when the ``fid`` extra is installed;
* landmark L2 distance (Table VI): dlib's landmarks detected on the generated face against the
  target's true landmarks, in pixels of a 256 x 256 image (faces dlib does not find are counted and
  left out); also the model's own generated landmarks against the true ones and, for the warp generator, the
  displacement it moves the face by (its target landmarks minus its estimate of the source's) against the true one;
* face verification (identity): dlib's 128-d descriptors of the generated face and of the real target
  face (both cut into dlib's face chip with the target's true landmarks), verified below dlib's 0.6
  threshold;
* expression accuracy: a CNN expression classifier trained on the real training faces classifies
  the generated faces; its accuracy on the real test faces is the reference; also on the pairs whose
  expression changes alone, and per asked expression (which expressions a model fails to render);
* the identity feature picture (the paper's Fig. 3): a t-SNE of dlib's descriptors of the real test faces
  and the generated faces, one colour per subject (``identity_tsne.png``).

A model of a restoration task (``model.task``: colorize, inpaint, sketch) is evaluated on its own pairs:
each test image restored from its degraded version; "copy the input" is then the degraded image, and the
"warp only" reference (which needs a change of expression) is left out. Inpainting is also scored by the PSNR
over the hole's pixels alone, the part the model had to draw.

Three steps: :func:`~landmarkgan.evaluation.collect.collect` translates the pairs a batch at a time, a
:class:`~landmarkgan.evaluation.scoring.Scorer` scores each batch into one record per pair and drops its images,
and :func:`report` turns the records into an :class:`~landmarkgan.evaluation.report.Evaluation`. Memory does not
grow with the number of pairs beyond those records and a few numbers per pair. A metric that cannot be computed
here says why in ``notes`` instead of failing the evaluation.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from landmarkgan.data.dataset import ExpressionPairDataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.collect import FirstPairs, PairRecord, collect
from landmarkgan.evaluation.identity_metrics import VERIFICATION_THRESHOLD
from landmarkgan.evaluation.report import (  # noqa: F401  (the names benchmark and CLI code import from here)
    METRICS,
    REAL_FACES,
    REFERENCES,
    TRUE_LANDMARKS,
    Evaluation,
    by_expression_table,
    markdown_table,
)
from landmarkgan.evaluation.scoring import Scorer, real_accuracy
from landmarkgan.models.landmarkgan import LandmarkGAN

CACHE_MB = 64  # decoded test images kept for the pairs that share them: a bound, not the whole split
ROWS = ("copy", "warp", "model", TRUE_LANDMARKS)  # the order of the table's rows


@torch.no_grad()
def evaluate(
    model: LandmarkGAN,
    data: str | os.PathLike,
    split: str = "test",
    num_pairs: int | None = None,
    seed: int = 0,
    batch_size: int = 16,
    device: str | torch.device = "cpu",
    classifier: nn.Module | None = None,
    identity: bool = True,
    perceptual: bool = True,
    references: bool = True,
    progress: bool = True,
    refinement: float = 1.0,
    classifier_label: str = "classifier",
    more_classifiers: dict[str, nn.Module] | None = None,
) -> Evaluation:
    """Evaluate ``model`` on ``split`` pairs of ``data`` (all of them, or a seeded sample of ``num_pairs``).

    ``classifier`` is a trained :class:`~landmarkgan.evaluation.expression_classifier.ExpressionClassifier`
    over the model's expressions, or None to leave expression accuracy out. ``identity=False`` skips
    dlib (detected landmarks and verification); ``perceptual=False`` skips LPIPS, IS and FID.
    ``references`` also scores the do-nothing references of :data:`REFERENCES` on the same pairs ("copy the
    input" only, for a restoration task) and, for a model with a stage I, its stage II on the true landmarks
    (without the perceptual metrics): the gap between that row and the model's is what stage I's errors cost.
    ``refinement`` scores the warp generator with its refinement scaled (see ``LandmarkGAN.translate``).
    ``more_classifiers`` (name -> classifier) score the expression accuracy of every row again: the result's
    ``by_classifier`` holds each one's (and ``classifier``'s, as ``classifier_label``) and every row gets the mean
    over all of them (``expression_accuracy_mean``, ``expression_accuracy_changed_mean``), since one classifier's
    instance moves these accuracies by a few hundredths.
    """
    if more_classifiers and classifier is None:
        raise LandmarkGANError("more classifiers are scored besides the first one: give that classifier too")
    device = torch.device(device)
    model = model.to(device).eval()
    config = model.config
    dataset = ExpressionPairDataset(data, split=split, image_size=config.image_size,
                                    pairs="sample" if num_pairs else "all", num_pairs=num_pairs, seed=seed,
                                    expressions=config.expressions, cache_mb=CACHE_MB, task=config.task)
    classifiers = {classifier_label: classifier, **(more_classifiers or {})} if classifier is not None else {}
    scorer = Scorer(dataset.expressions, classifiers, identity, perceptual, device)
    records: list[PairRecord] = []
    first = FirstPairs()
    batches = collect(model, dataset, batch_size, device, references, refinement)
    for batch in tqdm(batches, desc="evaluating test pairs", unit="batch", total=math.ceil(len(dataset) / batch_size),
                      disable=not progress):
        scorer.add(batch)
        first.add(batch)
        records += batch.records
    evaluation = report(records, scorer, dataset, classifier_label if classifiers else None)
    evaluation.sheet, evaluation.examples = first.sheet(), first.examples()
    if identity:
        evaluation.identity_tsne = scorer.identity_picture(records)
    evaluation.notes |= _left_out(identity, perceptual, classifier is not None) | scorer.notes
    return evaluation


def report(records: list[PairRecord], scorer: Scorer, dataset: ExpressionPairDataset,
           main_classifier: str | None) -> Evaluation:
    """The evaluation of the scored records: each row's metrics, the expression accuracy per asked expression and,
    with several classifiers, per classifier with their mean."""
    rows = {row: _row_metrics(records, row, main_classifier) | scorer.set_metrics(row)
            for row in ROWS if row in records[0].scores}
    model, notes = rows["model"], _model_notes(records)
    for key in ("landmark_l2_model", "displacement_l2_model"):
        model[key] = _mean([getattr(r, key) for r in records]) if key not in notes else math.nan
    by_expression, by_classifier = {}, {}
    if main_classifier is not None:
        model["real_expression_accuracy"] = real_accuracy(scorer.classifiers[main_classifier], dataset)
        by_expression = {row: _by_expression(records, row, main_classifier, dataset.expressions) for row in rows}
    if len(scorer.classifiers) > 1:
        by_classifier = {name: {row: _accuracies(records, row, name) for row in rows}
                         | {REAL_FACES: {"expression_accuracy": real_accuracy(classifier, dataset)}}
                         for name, classifier in scorer.classifiers.items()}
        for row, metrics in rows.items():
            for m in ("expression_accuracy", "expression_accuracy_changed"):
                metrics[f"{m}_mean"] = float(np.mean([by_classifier[name][row][m] for name in by_classifier]))
    return Evaluation(model, notes, [r.csv_row(dataset.expressions, main_classifier) for r in records],
                      references={row: rows[row] for row in REFERENCES if row in rows}, by_expression=by_expression,
                      true_landmarks=rows.get(TRUE_LANDMARKS, {}), by_classifier=by_classifier)


def _row_metrics(records: list[PairRecord], row: str, classifier: str | None) -> dict[str, float]:
    """A row's metrics that are means over its pairs (NaN for those not scored)."""
    metrics = {m: math.nan for m in METRICS}

    def values(key: str) -> np.ndarray:
        return np.array([r.scores[row].get(key, math.nan) for r in records], dtype=np.float64)

    scored = records[0].scores[row]
    for key in ("psnr", "ssim", "psnr_hole", "lpips"):
        if key in scored:
            metrics[key] = _mean(values(key))
    if "landmark_l2_detected" in scored:
        detected, distances = values("landmark_l2_detected"), values("identity_distance")
        metrics["face_detected"] = float(np.isfinite(detected).mean())
        metrics["landmark_l2_detected"] = _mean(detected)
        verified = distances[np.isfinite(distances)]
        metrics["verification_rate"] = float(np.mean(verified < VERIFICATION_THRESHOLD)) if verified.size else math.nan
        metrics["identity_distance"] = _mean(distances)
    if classifier is not None:
        metrics |= _accuracies(records, row, classifier)
    return metrics


def _accuracies(records: list[PairRecord], row: str, classifier: str) -> dict[str, float]:
    """How often ``classifier`` read the asked expression in the row's faces: overall and on the pairs whose
    expression changes (NaN when none does)."""
    right = np.array([r.recognised[row][classifier] == r.label for r in records])
    changed = np.array([r.changed for r in records])
    return {"expression_accuracy": float(right.mean()),
            "expression_accuracy_changed": float(right[changed].mean()) if changed.any() else math.nan}


def _by_expression(records: list[PairRecord], row: str, classifier: str,
                   expressions: tuple[str, ...]) -> dict[str, float]:
    """Asked expression -> how often ``classifier`` read it in the row's faces (expressions never asked left out)."""
    by_label: dict[int, list[bool]] = {}
    for r in records:
        by_label.setdefault(r.label, []).append(r.recognised[row][classifier] == r.label)
    return {expressions[k]: float(np.mean(by_label[k])) for k in sorted(by_label)}


def _model_notes(records: list[PairRecord]) -> dict[str, str]:
    """Why the model's own landmark errors are missing, where they are."""
    notes = {}
    if not math.isfinite(records[0].landmark_l2_model):
        notes["landmark_l2_model"] = "this model generates no landmarks"
    if not math.isfinite(records[0].displacement_l2_model):
        notes["displacement_l2_model"] = "only the warp generator moves the face by a displacement of its landmarks"
    return notes


def _left_out(identity: bool, perceptual: bool, classified: bool) -> dict[str, str]:
    """The notes of the metrics the caller switched off."""
    notes = {}
    if not identity:
        notes |= dict.fromkeys(("landmark_l2_detected", "verification_rate", "identity_tsne"),
                               "dlib left out (--no-identity)")
    if not classified:
        notes["expression_accuracy"] = "no expression classifier"
    if not perceptual:
        notes |= dict.fromkeys(("lpips", "inception_score", "fid"), "left out (--no-perceptual)")
    return notes


def _mean(values) -> float:
    """The mean of the finite values (NaN when there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else math.nan
