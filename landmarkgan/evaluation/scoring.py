"""The second step of an evaluation: score each collected batch as it comes, pair by pair.

For every pair and row (the model, its do-nothing references, its stage II on the true landmarks) the scorer writes
into the pair's record: PSNR and SSIM (for inpainting also the PSNR over the hole), dlib's landmark distance and the
identity distance, LPIPS, and the expression each classifier reads. What a metric of the whole set needs is kept in
a size that does not grow with the pairs (FID's running feature statistics) or is small per pair (the Inception
Score's logits, the 128-d identity descriptors of the t-SNE picture).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from landmarkgan.data.dataset import ExpressionPairDataset, to_tensor
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.collect import CollectedBatch, PairRecord
from landmarkgan.evaluation.metrics import landmark_l2_distance, psnr, ssim

PERCEPTUAL_ROWS = ("copy", "warp", "model")  # the true-landmark row is scored without LPIPS, IS and FID
IS_SPLITS = 10
REAL_BATCH = 64  # real test faces read at once for the classifiers' own accuracy


class Scorer:
    """Scores collected batches (:meth:`add`), then gives the metrics of whole rows (:meth:`set_metrics`).

    ``classifiers``: name -> expression classifier over ``expressions`` (none: no expression accuracy);
    ``identity``: dlib's detected landmarks and identity descriptors; ``perceptual``: LPIPS, IS and FID, each where
    its network is available (else ``notes`` says what to supply).
    """

    def __init__(self, expressions: tuple[str, ...], classifiers: dict[str, nn.Module], identity: bool,
                 perceptual: bool, device: torch.device) -> None:
        for classifier in classifiers.values():
            if list(classifier.classes) != list(expressions):
                raise LandmarkGANError(
                    f"the expression classifier knows {list(classifier.classes)} but the model {list(expressions)}")
        self.classifiers, self.device = classifiers, device
        self.notes: dict[str, str] = {}
        self.detector = _detector() if identity else None
        self.model_descriptors: list[np.ndarray] = []  # the model's faces, pair by pair
        self.real_descriptors: dict[int, np.ndarray] = {}  # each real target (manifest row), the first time it is seen
        self.lpips = self.inception = self.features = None
        if perceptual:
            self.lpips, self.inception, self.features = self._perceptual_networks()
        self.fid: dict[str, object] = {}  # "target" and each perceptual row -> RunningStatistics of its features
        self.logits: dict[str, list[torch.Tensor]] = {}  # each perceptual row -> the Inception classifier's logits

    def _perceptual_networks(self) -> tuple[nn.Module | None, nn.Module | None, nn.Module | None]:
        """LPIPS, the Inception classifier (IS) and the FID feature extractor; None, with a note, for a missing one."""
        from landmarkgan.evaluation.inception import load_fid_feature_extractor, load_inception_classifier
        from landmarkgan.evaluation.lpips import load_lpips

        networks = []
        for metric, load in (("lpips", load_lpips), ("inception_score", load_inception_classifier),
                             ("fid", load_fid_feature_extractor)):
            try:
                networks.append(load().to(self.device))
            except LandmarkGANError as e:
                self.notes[metric] = str(e)
                networks.append(None)
        return networks[0], networks[1], networks[2]

    def add(self, batch: CollectedBatch) -> None:
        """Score every row of ``batch`` into its records (``record.scores[row]``, ``record.recognised[row]``)."""
        real = self._real_descriptors(batch) if self.detector is not None else None
        if self.features is not None:
            self._fid_statistics("target").add(self._inception_features(batch.targets))
        for row, faces in batch.faces.items():
            scores = [record.scores.setdefault(row, {}) for record in batch.records]
            for k, (face, target) in enumerate(zip(faces, batch.targets)):
                scores[k]["psnr"], scores[k]["ssim"] = psnr(face, target), ssim(face, target)
                if batch.holes is not None:  # inpainting: how well the missing part was drawn
                    scores[k]["psnr_hole"] = psnr(face, target, batch.holes[k])
            if real is not None:
                self._identity(row, faces, batch, real, scores)
            self._expressions(row, faces, batch.records)
            if row in PERCEPTUAL_ROWS:
                self._perceptual(row, faces, batch.targets, scores)

    def _real_descriptors(self, batch: CollectedBatch) -> np.ndarray:
        """dlib's descriptors of the batch's real targets, cut into dlib's face chip with their true landmarks."""
        from landmarkgan.evaluation.identity_metrics import face_descriptors

        real = face_descriptors(batch.targets, list(batch.truth.astype(np.float64)))
        for record, descriptor in zip(batch.records, real):
            self.real_descriptors.setdefault(record.target_row, descriptor)
        return real

    def _identity(self, row: str, faces: list[np.ndarray], batch: CollectedBatch, real: np.ndarray,
                  scores: list[dict[str, float]]) -> None:
        """dlib's landmarks of each face against the target's true ones (NaN where dlib finds no face), and the
        distance of its descriptor from the real target's, both faces cut with the target's true landmarks (a
        generated face belongs in the target's place, and every pair gets a score)."""
        from landmarkgan.evaluation.identity_metrics import face_descriptors

        size = faces[0].shape[0]
        for k, face in enumerate(faces):
            found = self.detector.small_face_landmarks(face)
            scores[k]["landmark_l2_detected"] = math.nan if found is None else landmark_l2_distance(
                found, batch.truth[k], size)
        generated = face_descriptors(faces, list(batch.truth.astype(np.float64)))
        for k, distance in enumerate(np.linalg.norm(generated - real, axis=1)):
            scores[k]["identity_distance"] = float(distance)
        if row == "model":
            self.model_descriptors += list(generated)

    def _expressions(self, row: str, faces: list[np.ndarray], records: list[PairRecord]) -> None:
        """What each classifier reads in each face."""
        from landmarkgan.evaluation.expression_classifier import predict

        if not self.classifiers:
            return
        images = torch.stack([to_tensor(face) for face in faces])
        for name, classifier in self.classifiers.items():
            for record, label in zip(records, predict(classifier, images).tolist()):
                record.recognised.setdefault(row, {})[name] = label

    def _perceptual(self, row: str, faces: list[np.ndarray], targets: list[np.ndarray],
                    scores: list[dict[str, float]]) -> None:
        from landmarkgan.evaluation.inception import inception_logits
        from landmarkgan.evaluation.lpips import lpips_distances

        if self.lpips is not None:
            for k, value in enumerate(lpips_distances(self.lpips, faces, targets)):
                scores[k]["lpips"] = float(value)
        if self.inception is not None:
            self.logits.setdefault(row, []).append(inception_logits(faces, self.inception, device=self.device).float())
        if self.features is not None:
            self._fid_statistics(row).add(self._inception_features(faces))

    def _inception_features(self, images: list[np.ndarray]) -> np.ndarray:
        from landmarkgan.evaluation.inception import inception_features

        return inception_features(images, self.features, device=self.device)

    def _fid_statistics(self, key: str):
        from landmarkgan.evaluation.inception import RunningStatistics

        return self.fid.setdefault(key, RunningStatistics())

    def set_metrics(self, row: str) -> dict[str, float]:
        """The metrics of a whole row that no pair has alone: the Inception Score and FID (where scored)."""
        from landmarkgan.evaluation.inception import frechet_distance, inception_score_from_logits

        metrics: dict[str, float] = {}
        if row in self.logits:
            logits = torch.cat(self.logits[row])
            metrics["inception_score"] = inception_score_from_logits(logits, min(IS_SPLITS, len(logits)))[0]
        if row in self.fid:
            if self.fid[row].count < 2:
                self.notes["fid"] = "FID needs at least 2 pairs"
            else:
                metrics["fid"] = frechet_distance(*self.fid["target"].statistics(), *self.fid[row].statistics())
        return metrics

    def identity_picture(self, records: list[PairRecord]) -> np.ndarray | None:
        """The identity t-SNE picture: each real test face once and every face the model made; None, with a note
        why, when there are too few faces."""
        from landmarkgan.evaluation.identity_tsne import identity_tsne_picture

        subjects = {record.target_row: record.subject for record in records}
        try:
            return identity_tsne_picture(np.array(list(self.real_descriptors.values())),
                                         [subjects[row] for row in self.real_descriptors],
                                         np.array(self.model_descriptors), [r.subject for r in records])
        except LandmarkGANError as e:
            self.notes["identity_tsne"] = str(e)
            return None


def real_accuracy(classifier: nn.Module, dataset: ExpressionPairDataset) -> float:
    """The classifier's accuracy on the real test faces of the evaluated pairs (each once), read a few at a time."""
    from landmarkgan.evaluation.expression_classifier import predict

    rows = sorted({int(j) for j in dataset.pairs[:, 1]})
    right = 0
    for start in range(0, len(rows), REAL_BATCH):
        chunk = rows[start:start + REAL_BATCH]
        faces = torch.stack([to_tensor(dataset.face(j)[0]) for j in chunk])
        labels = torch.tensor([dataset.expressions.index(dataset.samples[j].expression) for j in chunk])
        right += int((predict(classifier, faces) == labels).sum())
    return right / len(rows)


def _detector():
    from landmarkgan.landmarks.detector import FaceLandmarkDetector

    return FaceLandmarkDetector()
