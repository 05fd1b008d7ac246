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

A metric that cannot be computed here says why in ``notes`` instead of failing the evaluation.
"""

from __future__ import annotations

import csv
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from landmarkgan.data.dataset import ExpressionPairDataset, to_tensor, to_uint8
from landmarkgan.data.images import save_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.metrics import landmark_l2_distance, psnr, ssim
from landmarkgan.inference.sheets import make_sheet
from landmarkgan.landmarks.drawing import draw_landmarks
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import warp

SHEET_PAIRS = 8
# the do-nothing references every table shows: a model that does not beat them has learned nothing useful
REFERENCES = {"copy": "copy the input (reference)", "warp": "warp only, no refinement (reference)"}
# the model's stage II alone, given the true landmarks: how much of the model's error is stage I's
TRUE_LANDMARKS = "true_landmarks"
TRUE_LANDMARKS_ROW = "stage II on the true landmarks (a perfect stage I)"
# the classifiers' own accuracy on the real test faces, a row of the table of several classifiers
REAL_FACES, REAL_FACES_ROW = "real_faces", "real test faces (the classifier itself)"
# name -> (label in tables, format, higher is better)
METRICS: dict[str, tuple[str, str, bool]] = {
    "psnr": ("PSNR (dB)", ".2f", True),
    "ssim": ("SSIM", ".3f", True),
    "psnr_hole": ("PSNR in the hole (dB)", ".2f", True),
    "lpips": ("LPIPS", ".4f", False),
    "inception_score": ("IS", ".3f", True),
    "fid": ("FID", ".1f", False),
    "landmark_l2_detected": ("landmark L2, dlib (px@256)", ".2f", False),
    "landmark_l2_model": ("landmark L2, model (px@256)", ".2f", False),
    "displacement_l2_model": ("landmark displacement L2, model (px@256)", ".2f", False),
    "face_detected": ("faces found by dlib", ".3f", True),
    "verification_rate": ("face verification", ".3f", True),
    "identity_distance": ("identity distance", ".3f", False),
    "expression_accuracy": ("expression accuracy", ".3f", True),
    "expression_accuracy_changed": ("expression accuracy, changed expression", ".3f", True),
    "expression_accuracy_mean": ("expression accuracy, mean over the classifiers", ".3f", True),
    "expression_accuracy_changed_mean": ("expression accuracy, changed expression, mean over the classifiers", ".3f",
                                         True),
    "real_expression_accuracy": ("expression accuracy, real test faces", ".3f", True),
}
PICTURES = {"identity_tsne": "identity t-SNE (identity_tsne.png)"}  # pictures that may be missing, with a note


@dataclass
class Evaluation:
    """Metric values (NaN where not computed), why a metric is missing, per-pair values and a picture."""

    metrics: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)
    pairs: list[dict] = field(default_factory=list)
    sheet: np.ndarray | None = None
    examples: dict[str, list[np.ndarray]] = field(default_factory=dict)  # input/output/target/landmarks, first pairs
    references: dict[str, dict[str, float]] = field(default_factory=dict)  # REFERENCES key -> their metrics
    # expression accuracy per asked expression: "model" and the REFERENCES keys -> expression -> accuracy
    by_expression: dict[str, dict[str, float]] = field(default_factory=dict)
    identity_tsne: np.ndarray | None = None  # the identity feature picture
    true_landmarks: dict[str, float] = field(default_factory=dict)  # the model's stage II on the true landmarks
    # with several classifiers: classifier name -> row key ("model", REFERENCES keys, TRUE_LANDMARKS, REAL_FACES)
    # -> {"expression_accuracy", "expression_accuracy_changed"}
    by_classifier: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def rows(self, title: str = "model") -> dict[str, dict[str, float]]:
        """Table rows: the do-nothing references first (when scored), then the model, then its stage II on the true
        landmarks (when scored)."""
        rows = {**{REFERENCES[k]: m for k, m in self.references.items()}, title: self.metrics}
        return rows | ({TRUE_LANDMARKS_ROW: self.true_landmarks} if self.true_landmarks else {})

    def by_expression_table(self, title: str = "model") -> str:
        """The expression accuracy per asked expression as a markdown table (rows as in :meth:`rows`), or ""."""
        labels = {**REFERENCES, TRUE_LANDMARKS: TRUE_LANDMARKS_ROW}
        return by_expression_table({labels.get(key, title): v for key, v in self.by_expression.items()})

    def by_classifier_table(self, title: str = "model") -> str:
        """The expression accuracy under each classifier and their mean, overall and (in brackets) on the pairs
        whose expression changes, as a markdown table, or "" when one classifier scored."""
        if not self.by_classifier:
            return ""
        names = list(self.by_classifier)
        labels = {**REFERENCES, TRUE_LANDMARKS: TRUE_LANDMARKS_ROW, "model": title, REAL_FACES: REAL_FACES_ROW}
        keys = list(dict.fromkeys(k for rows in self.by_classifier.values() for k in rows))
        lines = ["| expression accuracy (changed expression) by classifier | " + " | ".join(names) + " | mean |",
                 "|---|" + "---:|" * (len(names) + 1)]
        for key in keys:
            cells = [[self.by_classifier[n][key].get(m, math.nan) for n in names]
                     for m in ("expression_accuracy", "expression_accuracy_changed")]
            text = [_accuracy_cell(a, c) for a, c in zip(*cells)]
            text.append(_accuracy_cell(float(np.mean(cells[0])), float(np.mean(cells[1]))))
            lines.append(f"| {labels.get(key, key)} | " + " | ".join(text) + " |")
        return "\n" + "\n".join(lines) + "\n"

    def write(self, out: str | os.PathLike, title: str = "") -> Path:
        """``metrics.md``, ``metrics.json``, ``metrics.csv``, ``pairs.csv``, ``examples.npz`` (the first pairs'
        images, see :meth:`read`), ``comparison.png`` and ``identity_tsne.png`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.md").write_text(markdown_table(self.rows(title or "model")) + "\n" + notes_text(self.notes)
                                        + self.by_expression_table(title or "model")
                                        + self.by_classifier_table(title or "model"))
        (out / "metrics.json").write_text(json.dumps(
            {"metrics": self.metrics, "notes": self.notes, "references": self.references,
             "true_landmarks": self.true_landmarks, "expression_accuracy_by_expression": self.by_expression,
             "expression_accuracy_by_classifier": self.by_classifier}, indent=1))
        with open(out / "metrics.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(list(self.metrics))
            writer.writerow([f"{v:.6g}" for v in self.metrics.values()])
        if self.pairs:
            with open(out / "pairs.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(self.pairs[0]))
                writer.writeheader()
                writer.writerows(self.pairs)
        if self.examples:
            np.savez_compressed(out / "examples.npz", **{k: np.stack(v) for k, v in self.examples.items() if v})
        if self.sheet is not None:
            save_image(self.sheet, out / "comparison.png")
        if self.identity_tsne is not None:
            save_image(self.identity_tsne, out / "identity_tsne.png")
        return out

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "Evaluation":
        """An evaluation as :meth:`write` left it in ``folder``: the metrics, notes, reference rows, per-expression
        accuracies, per-pair values (numbers where they parse as numbers) and the first pairs' images; the
        pictures are not read back."""
        folder = Path(folder)
        try:
            saved = json.loads((folder / "metrics.json").read_text())
            with open(folder / "pairs.csv", newline="") as f:
                pairs = [{k: _number_or_text(v) for k, v in row.items()} for row in csv.DictReader(f)]
            with np.load(folder / "examples.npz") as stored:
                examples = {k: list(stored[k]) for k in stored.files}
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise LandmarkGANError(f"{folder} holds no complete evaluation ({error}); evaluate the model again") from None
        return cls(saved["metrics"], saved["notes"], pairs, examples=examples, references=saved["references"],
                   by_expression=saved["expression_accuracy_by_expression"], true_landmarks=saved["true_landmarks"],
                   by_classifier=saved.get("expression_accuracy_by_classifier", {}))


def _accuracy_cell(overall: float, changed: float) -> str:
    if not math.isfinite(overall):
        return "n/a"
    return f"{overall:.3f}" + (f" ({changed:.3f})" if math.isfinite(changed) else "")


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def markdown_table(rows: dict[str, dict[str, float]], metrics: list[str] | None = None) -> str:
    """One row per model (title -> its metrics), one column per metric (those computed for at least one row)."""
    names = metrics or [m for m in METRICS if any(math.isfinite(r.get(m, math.nan)) for r in rows.values())]
    header = "| model | " + " | ".join(f"{METRICS[m][0]} {'↑' if METRICS[m][2] else '↓'}" for m in names) + " |"
    lines = [header, "|---|" + "---:|" * len(names)]
    for title, result in rows.items():
        cells = []
        for m in names:
            value = result.get(m, math.nan)
            cells.append(format(value, METRICS[m][1]) if math.isfinite(value) else "n/a")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def by_expression_table(rows: dict[str, dict[str, float]]) -> str:
    """Row title -> {asked expression: expression accuracy} as a markdown table after a blank line, or "" for none."""
    if not rows:
        return ""
    expressions = list(dict.fromkeys(e for accuracies in rows.values() for e in accuracies))
    lines = ["| expression accuracy by asked expression | " + " | ".join(expressions) + " |",
             "|---|" + "---:|" * len(expressions)]
    for title, accuracies in rows.items():
        cells = [f"{accuracies[e]:.3f}" if e in accuracies else "n/a" for e in expressions]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n" + "\n".join(lines) + "\n"


def notes_text(notes: dict[str, str]) -> str:
    return "".join(f"- {METRICS[m][0] if m in METRICS else PICTURES[m]}: {why}\n" for m, why in notes.items())


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
    references: bool = True,
    progress: bool = True,
    refinement: float = 1.0,
    classifier_label: str = "classifier",
    more_classifiers: dict[str, object] | None = None,
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
    size = model.config.image_size
    task = model.config.task
    dataset = ExpressionPairDataset(data, split=split, image_size=size, pairs="sample" if num_pairs else "all",
                                    num_pairs=num_pairs, seed=seed, expressions=model.config.expressions, task=task)
    warp_reference = references and task == "expression"
    true_reference = warp_reference and model.config.has_stage1
    sources, generated, warped, targets, landmark_images, predicted, truth, labels, changed = ([] for _ in range(9))
    on_true_landmarks, source_estimates, true_sources = [], [], []
    loader = DataLoader(dataset, batch_size=batch_size, generator=torch.Generator())
    for batch in tqdm(loader, desc="translating test pairs", unit="batch", disable=not progress):
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model.translate_batch(batch, refinement)
        n = len(batch["x"])
        generated += list(to_uint8(out["image"]))
        sources += list(to_uint8(batch["x"]))
        targets += list(to_uint8(batch["y"]))
        if warp_reference:
            warped += list(to_uint8(out["warped"] if out["warped"] is not None else warp_only(model, batch, out)))
        if true_reference:
            on_true_landmarks += list(to_uint8(model.stage2_on_true_landmarks(batch, refinement)))
        landmark_images += list(to_uint8(out["landmark_image"])) if out["landmark_image"] is not None else [None] * n
        predicted += list(out["landmarks"].float().cpu().numpy()) if out["landmarks"] is not None else [None] * n
        truth += list(batch["target_landmarks"].cpu().numpy())
        true_sources += list(batch["source_landmarks"].cpu().numpy())
        source_estimates += list(out["source_landmarks"].float().cpu().numpy()) \
            if out.get("source_landmarks") is not None else [None] * n
        labels += batch["target_label"].cpu().tolist()
        changed += (batch["target_label"] != batch["source_label"]).cpu().tolist()

    notes: dict[str, str] = {}
    pairs = [{"source": dataset.samples[int(i)].image, "target": dataset.samples[int(j)].image,
              "expression": dataset.expressions[labels[k]]} for k, (i, j) in enumerate(dataset.pairs)]
    holes = [dataset.hole(int(j)) for j in dataset.pairs[:, 1]] if task == "inpaint" else None
    scorer = _Scorer(targets, truth, labels, changed, size, dataset, classifier, identity, perceptual, device, progress,
                     holes)
    metrics = scorer.score(generated, notes, pairs)
    if predicted[0] is not None:
        for k, (p, t) in enumerate(zip(predicted, truth)):
            pairs[k]["landmark_l2_model"] = landmark_l2_distance(p, t, size)
        metrics["landmark_l2_model"] = float(np.mean([p["landmark_l2_model"] for p in pairs]))
    else:
        notes["landmark_l2_model"] = "this model generates no landmarks"
    if predicted[0] is not None and source_estimates[0] is not None:
        for k, (p, t, ps, ts) in enumerate(zip(predicted, truth, source_estimates, true_sources)):
            pairs[k]["displacement_l2_model"] = landmark_l2_distance(p - ps, t - ts, size)
        metrics["displacement_l2_model"] = float(np.mean([p["displacement_l2_model"] for p in pairs]))
    else:
        notes["displacement_l2_model"] = "only the warp generator moves the face by a displacement of its landmarks"
    if classifier is not None:
        metrics["real_expression_accuracy"] = scorer.real_accuracy()
    reference_metrics = {}
    if references:
        for key, images in (("copy", sources), ("warp", warped)):
            if images:
                reference_metrics[key] = scorer.score(images, {}, None, row=key)
    true_metrics = scorer.score(on_true_landmarks, {}, None, row=TRUE_LANDMARKS, perceptual=False) \
        if on_true_landmarks else {}
    by_classifier = {}
    if more_classifiers:
        rows = {key: (images, row) for key, images, row in (
            ("copy", sources, reference_metrics.get("copy")), ("warp", warped, reference_metrics.get("warp")),
            ("model", generated, metrics), (TRUE_LANDMARKS, on_true_landmarks, true_metrics)) if images and row}
        by_classifier = {name: {key: scorer.accuracies(c, images) for key, (images, _) in rows.items()}
                         | {REAL_FACES: {"expression_accuracy": scorer.real_accuracy(c)}}
                         for name, c in {classifier_label: classifier, **more_classifiers}.items()}
        for key, (_, row) in rows.items():
            for m in ("expression_accuracy", "expression_accuracy_changed"):
                row[f"{m}_mean"] = float(np.mean([by_classifier[n][key][m] for n in by_classifier]))
    if identity:
        tsne = _identity_tsne(dataset, *scorer.descriptors, notes)
    else:
        tsne, notes["identity_tsne"] = None, "dlib left out (--no-identity)"
    sheet = comparison_sheet(sources, landmark_images, predicted, warped or None, generated, targets,
                             [p["expression"] for p in pairs])
    n = min(SHEET_PAIRS, len(generated))
    examples = {"input": sources[:n], "output": generated[:n], "target": targets[:n],
                "landmarks": [landmark_cell(landmark_images[k], predicted[k], size) for k in range(n)]}
    by_expression = {key: scorer.by_expression[key] for key in ("copy", "warp", "model", TRUE_LANDMARKS)
                     if key in scorer.by_expression}
    return Evaluation(metrics, notes, pairs, sheet, examples, references=reference_metrics, by_expression=by_expression,
                      identity_tsne=tsne, true_landmarks=true_metrics, by_classifier=by_classifier)


def _identity_tsne(dataset: ExpressionPairDataset, generated: np.ndarray, real: np.ndarray,
                   notes: dict[str, str]) -> np.ndarray | None:
    """The identity t-SNE picture of the evaluated pairs: each real test face once (its descriptor from its first
    pair) and every generated face; None, with a note why, when there are too few faces."""
    from landmarkgan.evaluation.identity_tsne import identity_tsne_picture

    targets = [int(j) for j in dataset.pairs[:, 1]]
    first = sorted({row: k for k, row in reversed(list(enumerate(targets)))}.values())
    subjects = [dataset.samples[j].subject for j in targets]
    try:
        return identity_tsne_picture(real[first], [subjects[k] for k in first], generated, subjects)
    except LandmarkGANError as e:
        notes["identity_tsne"] = str(e)
        return None


def warp_only(model: LandmarkGAN, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """The "warp only" reference for a model without a warp generator: x warped (our TPS, no refinement) from
    its true landmarks to the target landmarks the model generated (the true target landmarks when it generates
    none)."""
    size = model.config.image_size
    target = out["landmarks"] if out["landmarks"] is not None else batch["target_landmarks"]
    return warp(batch["x"], normalise(batch["source_landmarks"], size), normalise(target.float(), size),
                grid=max(size // 2, 32), regularisation=model.config.warp_regularisation)


class _Scorer:
    """The image metrics of one set of generated faces against the real targets of the evaluated pairs."""

    def __init__(self, targets, truth, labels, changed, size, dataset, classifier, identity, perceptual, device,
                 progress, holes=None) -> None:
        self.targets, self.truth, self.size, self.dataset, self.holes = targets, truth, size, dataset, holes
        self.labels, self.changed = torch.tensor(labels), torch.tensor(changed, dtype=torch.bool)
        self.classifier, self.identity, self.perceptual = classifier, identity, perceptual
        self.device, self.progress = device, progress
        self.descriptors: tuple[np.ndarray, np.ndarray] | None = None  # (generated, real) of the model's own faces
        self.by_expression: dict[str, dict[str, float]] = {}  # row -> asked expression -> accuracy (of those asked)
        self._check(classifier)

    def _check(self, classifier) -> None:
        if classifier is not None and list(classifier.classes) != list(self.dataset.expressions):
            raise LandmarkGANError(
                f"the expression classifier knows {list(classifier.classes)} but the model "
                f"{list(self.dataset.expressions)}")

    def _predict(self, classifier, generated: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """The expressions ``classifier`` reads in ``generated`` and whether each is the asked one."""
        from landmarkgan.evaluation.expression_classifier import predict

        predicted = predict(classifier, torch.stack([to_tensor(g) for g in generated])).cpu()
        return predicted, predicted == self.labels

    def accuracies(self, classifier, generated: list[np.ndarray]) -> dict[str, float]:
        """``classifier``'s expression accuracy on ``generated``, overall and on the pairs whose expression changes."""
        self._check(classifier)
        _, right = self._predict(classifier, generated)
        changed = right[self.changed].double().mean().item() if self.changed.any() else math.nan
        return {"expression_accuracy": right.double().mean().item(), "expression_accuracy_changed": changed}

    def score(self, generated: list[np.ndarray], notes: dict[str, str], pairs: list[dict] | None,
              row: str = "model", perceptual: bool = True) -> dict[str, float]:
        """Metrics of ``generated`` (NaN where not computed, with a note why; the perceptual ones only when both
        ``perceptual`` and the scorer's own switch say so); per-pair values go into ``pairs``, the expression
        accuracy per asked expression into ``self.by_expression[row]``."""
        metrics = {m: math.nan for m in METRICS}
        values = [(psnr(g, t), ssim(g, t)) for g, t in zip(generated, self.targets)]
        metrics["psnr"] = float(np.mean([v[0] for v in values if math.isfinite(v[0])]))
        metrics["ssim"] = float(np.mean([v[1] for v in values]))
        for k, (p, q) in enumerate(values if pairs is not None else []):
            pairs[k]["psnr"], pairs[k]["ssim"] = p, q
        if self.holes is not None:  # inpainting: how well the missing part was drawn
            in_hole = [psnr(g, t, h) for g, t, h in zip(generated, self.targets, self.holes)]
            metrics["psnr_hole"] = float(np.mean([v for v in in_hole if math.isfinite(v)]))
            for k, v in enumerate(in_hole if pairs is not None else []):
                pairs[k]["psnr_hole"] = v
        if self.identity:
            descriptors = _identity_metrics(generated, self.targets, self.truth, self.size, metrics, pairs,
                                            self.progress)
            if pairs is not None:
                self.descriptors = descriptors
        else:
            notes["landmark_l2_detected"] = notes["verification_rate"] = "dlib left out (--no-identity)"
        if self.classifier is not None:
            predicted, right = self._predict(self.classifier, generated)
            metrics["expression_accuracy"] = right.double().mean().item()
            if self.changed.any():
                metrics["expression_accuracy_changed"] = right[self.changed].double().mean().item()
            expressions = self.dataset.expressions
            self.by_expression[row] = {e: right[self.labels == k].double().mean().item()
                                       for k, e in enumerate(expressions) if (self.labels == k).any()}
            for k, label in enumerate(predicted.tolist() if pairs is not None else []):
                pairs[k]["recognised_as"] = expressions[label]
        else:
            notes["expression_accuracy"] = "no expression classifier"
        if self.perceptual and perceptual:
            _perceptual_metrics(generated, self.targets, metrics, notes, self.device, self.progress)
        else:
            notes["lpips"] = notes["inception_score"] = notes["fid"] = "left out (--no-perceptual)"
        return metrics

    def real_accuracy(self, classifier=None) -> float:
        """The classifier's (or ``classifier``'s) accuracy on the real test faces of the evaluated pairs (the
        reference)."""
        from landmarkgan.evaluation.expression_classifier import accuracy

        dataset = self.dataset
        test_rows = sorted({int(j) for j in dataset.pairs[:, 1]})
        real = torch.stack([to_tensor(dataset.face(j)[0]) for j in test_rows])
        real_labels = torch.tensor([dataset.expressions.index(dataset.samples[j].expression) for j in test_rows])
        return accuracy(self.classifier if classifier is None else classifier, real, real_labels)


def _identity_metrics(generated, targets, truth, size, metrics, pairs, progress) -> tuple[np.ndarray, np.ndarray]:
    """Detected-landmark L2 and face verification, both with dlib (per-pair values into ``pairs`` unless None);
    returns the descriptors of the generated and the real faces, (N, 128) each."""
    from landmarkgan.evaluation.identity_metrics import face_descriptors, identity_report
    from landmarkgan.landmarks.detector import FaceLandmarkDetector

    detector = FaceLandmarkDetector()
    detected = [detector.small_face_landmarks(image)
                for image in tqdm(generated, desc="dlib on generated faces", unit="face", disable=not progress)]
    distances = [landmark_l2_distance(d, t, size) if d is not None else math.nan for d, t in zip(detected, truth)]
    found = [d for d in distances if math.isfinite(d)]
    metrics["face_detected"] = len(found) / len(distances)
    metrics["landmark_l2_detected"] = float(np.mean(found)) if found else math.nan
    # both faces are cut into dlib's chip with the target's true landmarks: a generated face belongs in the
    # target's place, and every pair gets a score (also when dlib cannot find the generated face)
    chips = [t.astype(np.float64) for t in truth]
    fake, real = face_descriptors(generated, chips), face_descriptors(targets, chips)
    report = identity_report(fake, real)
    metrics["verification_rate"] = report.verification_rate
    metrics["identity_distance"] = report.mean_distance
    if pairs is not None:
        for k, (d, i) in enumerate(zip(distances, np.linalg.norm(fake - real, axis=1))):
            pairs[k]["landmark_l2_detected"], pairs[k]["identity_distance"] = d, float(i)
    return fake, real


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


def landmark_cell(landmark_image: np.ndarray | None, points: np.ndarray | None, size: int) -> np.ndarray:
    """The "generated landmarks" picture of one pair: stage I's landmark image (white for a model without one)
    with its points drawn over it."""
    canvas = landmark_image if landmark_image is not None else np.full((size, size, 3), 255, np.uint8)
    return draw_landmarks(canvas, points) if points is not None else canvas


def comparison_sheet(sources, landmark_images, predicted, warped, generated, targets, expressions) -> np.ndarray:
    """input | generated landmarks | warp only (when given) | output | ground truth, for the first pairs."""
    rows = []
    for k in range(min(SHEET_PAIRS, len(generated))):
        marks = landmark_cell(landmark_images[k], predicted[k], generated[k].shape[0])
        rows.append([sources[k], marks, *([warped[k]] if warped else []), generated[k], targets[k]])
    columns = ["input", "generated landmarks", *(["warp only"] if warped else []), "output", "ground truth"]
    return make_sheet(rows, columns, expressions[: len(rows)], cell_size=max(128, generated[0].shape[0]))
