"""The first step of an evaluation: the model translates the test pairs, one batch at a time.

Each pair becomes a :class:`PairRecord` (whose faces, which expression, the model's landmark errors; the score
step adds its metrics), and its faces a row of a :class:`CollectedBatch`: the target and, per scored row, the face
compared with it ("copy" the input, "warp" only, the "model"'s output, its stage II on the true landmarks). A
batch's images are dropped once scored, so memory does not grow with the number of pairs; the first
:data:`SHEET_PAIRS` pairs' pictures are kept for the comparison sheet.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from landmarkgan.data.dataset import ExpressionPairDataset, to_uint8
from landmarkgan.evaluation.metrics import landmark_l2_distance
from landmarkgan.evaluation.report import TRUE_LANDMARKS
from landmarkgan.inference.sheets import make_sheet
from landmarkgan.landmarks.drawing import draw_landmarks
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import warp

SHEET_PAIRS = 8


@dataclass
class PairRecord:
    """One evaluated pair: what it is, and every per-pair value of every row (``scores``: row -> metric -> value;
    ``recognised``: row -> classifier name -> the expression index that classifier read)."""

    source: str
    target: str
    target_row: int  # the target's row in the manifest
    subject: str
    expression: str  # the asked (target) expression
    label: int  # its index among the model's expressions
    changed: bool  # whether the source shows another expression
    landmark_l2_model: float = math.nan
    displacement_l2_model: float = math.nan
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    recognised: dict[str, dict[str, int]] = field(default_factory=dict)

    def csv_row(self, expressions: tuple[str, ...], classifier: str | None) -> dict[str, float | str]:
        """The model's values for ``pairs.csv``: the pair, its metrics, what ``classifier`` read, its landmark
        errors."""
        row: dict[str, float | str] = {"source": self.source, "target": self.target, "expression": self.expression,
                                       **self.scores.get("model", {})}
        if classifier is not None and classifier in self.recognised.get("model", {}):
            row["recognised_as"] = expressions[self.recognised["model"][classifier]]
        for key in ("landmark_l2_model", "displacement_l2_model"):
            if math.isfinite(getattr(self, key)):
                row[key] = getattr(self, key)
        return row


@dataclass
class CollectedBatch:
    """A batch of pairs: their records, the inputs and the real targets, and per row the faces scored against the
    targets (uint8 (S, S, 3) each); the model's landmark images and points for the comparison sheet; the inpainting
    holes."""

    records: list[PairRecord]
    sources: list[np.ndarray]
    targets: list[np.ndarray]
    faces: dict[str, list[np.ndarray]]
    truth: np.ndarray  # (B, 68, 2): the targets' true landmarks, pixels of the S x S image
    landmark_images: list[np.ndarray | None]
    landmarks: list[np.ndarray | None]
    holes: list[np.ndarray] | None = None


@torch.no_grad()
def collect(model: LandmarkGAN, dataset: ExpressionPairDataset, batch_size: int, device: torch.device,
            references: bool, refinement: float) -> Iterator[CollectedBatch]:
    """Translate ``dataset``'s pairs with ``model`` (in eval mode, on ``device``), a batch at a time. ``references``
    adds the rows of the do-nothing references ("copy" the input; for an expression model "warp" only) and, for a
    model with a stage I, its stage II on the true landmarks."""
    config = model.config
    warp_row = references and config.task == "expression"
    true_row = warp_row and config.has_stage1
    size = config.image_size
    loader = DataLoader(dataset, batch_size=batch_size, generator=torch.Generator())
    start = 0
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model.translate_batch(batch, refinement)
        n = len(batch["x"])
        sources = list(to_uint8(batch["x"]))
        faces = {"model": list(to_uint8(out["image"]))}
        if references:
            faces["copy"] = sources
        if warp_row:
            faces["warp"] = list(to_uint8(out["warped"] if out["warped"] is not None else warp_only(model, batch, out)))
        if true_row:
            faces[TRUE_LANDMARKS] = list(to_uint8(model.stage2_on_true_landmarks(batch, refinement)))
        truth = batch["target_landmarks"].cpu().numpy()
        landmarks = [None] * n if out["landmarks"] is None else list(out["landmarks"].float().cpu().numpy())
        records = _records(dataset, range(start, start + n), batch, landmarks, out.get("source_landmarks"), size)
        yield CollectedBatch(
            records, sources, list(to_uint8(batch["y"])), faces, truth,
            [None] * n if out["landmark_image"] is None else list(to_uint8(out["landmark_image"])), landmarks,
            [dataset.hole(int(dataset.pairs[k, 1])) for k in range(start, start + n)] if config.task == "inpaint"
            else None)
        start += n


def _records(dataset: ExpressionPairDataset, rows: range, batch: dict[str, torch.Tensor],
             landmarks: list[np.ndarray | None], source_estimates: torch.Tensor | None, size: int) -> list[PairRecord]:
    """The records of a batch of pairs (``rows`` of ``dataset.pairs``), with the model's landmark errors: its target
    landmarks and, for the warp generator, the displacement it moves the face by, against the true ones."""
    labels, changed = batch["target_label"].tolist(), (batch["target_label"] != batch["source_label"]).tolist()
    truth, true_sources = batch["target_landmarks"].cpu().numpy(), batch["source_landmarks"].cpu().numpy()
    estimates = None if source_estimates is None else source_estimates.float().cpu().numpy()
    records = []
    for k, row in enumerate(rows):
        source, target = (int(i) for i in dataset.pairs[row])
        record = PairRecord(dataset.samples[source].image, dataset.samples[target].image, target,
                            dataset.samples[target].subject, dataset.expressions[labels[k]], labels[k], changed[k])
        if landmarks[k] is not None:
            record.landmark_l2_model = landmark_l2_distance(landmarks[k], truth[k], size)
            if estimates is not None:
                record.displacement_l2_model = landmark_l2_distance(landmarks[k] - estimates[k],
                                                                    truth[k] - true_sources[k], size)
        records.append(record)
    return records


def warp_only(model: LandmarkGAN, batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """The "warp only" reference for a model without a warp generator: x warped (our TPS, no refinement) from
    its true landmarks to the target landmarks the model generated (the true target landmarks when it generates
    none)."""
    size = model.config.image_size
    target = out["landmarks"] if out["landmarks"] is not None else batch["target_landmarks"]
    return warp(batch["x"], normalise(batch["source_landmarks"], size), normalise(target.float(), size),
                grid=max(size // 2, 32), regularisation=model.config.warp_regularisation)


class FirstPairs:
    """The pictures of the first :data:`SHEET_PAIRS` pairs: the comparison sheet and the examples a benchmark shows."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {"input": [], "landmarks": [], "warp only": [], "output": [], "target": []}
        self.expressions: list[str] = []

    def add(self, batch: CollectedBatch) -> None:
        for k in range(min(SHEET_PAIRS - len(self.expressions), len(batch.records))):
            output = batch.faces["model"][k]
            self.columns["input"].append(batch.sources[k])
            self.columns["landmarks"].append(landmark_cell(batch.landmark_images[k], batch.landmarks[k],
                                                           output.shape[0]))
            if "warp" in batch.faces:
                self.columns["warp only"].append(batch.faces["warp"][k])
            self.columns["output"].append(output)
            self.columns["target"].append(batch.targets[k])
            self.expressions.append(batch.records[k].expression)

    def examples(self) -> dict[str, list[np.ndarray]]:
        """input, output, target and landmarks of the first pairs, as ``Evaluation.examples`` holds them."""
        return {key: self.columns[key] for key in ("input", "output", "target", "landmarks")}

    def sheet(self) -> np.ndarray:
        """input | generated landmarks | warp only (when scored) | output | ground truth."""
        shown = {"input": "input", "landmarks": "generated landmarks", "warp only": "warp only", "output": "output",
                 "target": "ground truth"}
        keys = [key for key in shown if self.columns[key]]
        rows = [[self.columns[key][k] for key in keys] for k in range(len(self.expressions))]
        size = self.columns["output"][0].shape[0]
        return make_sheet(rows, [shown[key] for key in keys], self.expressions, cell_size=max(128, size))


def landmark_cell(landmark_image: np.ndarray | None, points: np.ndarray | None, size: int) -> np.ndarray:
    """The "generated landmarks" picture of one pair: stage I's landmark image (white for a model without one)
    with its points drawn over it."""
    canvas = landmark_image if landmark_image is not None else np.full((size, size, 3), 255, np.uint8)
    return draw_landmarks(canvas, points) if points is not None else canvas
