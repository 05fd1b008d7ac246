"""The report of an evaluation: the metrics' names, the do-nothing reference rows, the tables, and the
:class:`Evaluation` a folder holds (``metrics.md``, ``metrics.json``, ``pairs.csv``, the pictures)."""

from __future__ import annotations

import csv
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from landmarkgan.data.images import save_image
from landmarkgan.errors import LandmarkGANError

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

