"""Training pairs: a source image x and a target image y of the same subject, seen from the same
view, with a different expression (or intensity). The model learns x -> y given y's labels.

Pairs are (source index, target index) into a manifest's sample list. Images with the same
expression and intensity (JAFFE's repeated takes) are never paired with each other. The restoration
tasks (colourisation, inpainting, sketch-to-face) pair every image with itself (:func:`own_pairs`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from landmarkgan.data.manifest import SPLITS, Sample
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import canonical_expression

PAIR_MODES = ("all", "sample")


def _group_pairs(indices: np.ndarray, labels: np.ndarray, sources_ok: np.ndarray) -> np.ndarray:
    """All (source, target) pairs within one subject/view group whose labels differ."""
    differ = labels[:, None] != labels[None, :]
    differ &= sources_ok[:, None]
    src, tgt = np.nonzero(differ)
    return np.stack([indices[src], indices[tgt]], axis=1)


def pair_array(
    samples: list[Sample],
    split: str = "train",
    mode: str = "all",
    num: int | None = None,
    seed: int = 0,
    source_expression: str | None = None,
) -> np.ndarray:
    """The pairs of :func:`make_pairs` as an int64 array of shape (N, 2), for large data sets."""
    _check_mode(split, mode, num)
    wanted_source = canonical_expression(source_expression) if source_expression else None

    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        if s.split == split:
            groups[(s.subject, s.view)].append(i)
    chunks = []
    for key in sorted(groups):
        idx = np.asarray(groups[key], dtype=np.int64)
        labels = np.asarray([f"{samples[i].expression}/{samples[i].intensity}" for i in idx])
        sources_ok = np.asarray([wanted_source in (None, samples[i].expression) for i in idx])
        chunks.append(_group_pairs(idx, labels, sources_ok))
    pairs = np.concatenate(chunks) if chunks else np.zeros((0, 2), dtype=np.int64)
    if len(pairs) == 0:
        restriction = f" with source expression {wanted_source!r}" if wanted_source else ""
        raise LandmarkGANError(
            f"the {split} split has no pairs{restriction}: a pair needs two images of the same subject "
            f"(and view) with different expressions ({sum(s.split == split for s in samples)} {split} image(s) found)"
        )
    return _sampled(pairs, mode, num, seed)


def own_pairs(samples: list[Sample], split: str = "train", mode: str = "all", num: int | None = None,
              seed: int = 0) -> np.ndarray:
    """Every image of ``split`` paired with itself, (N, 2) int64 in manifest order (or a seeded sample of ``num``):
    the pairs of the restoration tasks, whose source is the target degraded (see ``landmarkgan.data.degradations``)."""
    _check_mode(split, mode, num)
    rows = np.asarray([i for i, s in enumerate(samples) if s.split == split], dtype=np.int64)
    if len(rows) == 0:
        raise LandmarkGANError(f"the {split} split has no images")
    return _sampled(np.stack([rows, rows], axis=1), mode, num, seed)


def _check_mode(split: str, mode: str, num: int | None) -> None:
    if split not in SPLITS:
        raise LandmarkGANError(f"split must be one of {SPLITS}, got {split!r}")
    if mode not in PAIR_MODES:
        raise LandmarkGANError(f"pair mode must be one of {PAIR_MODES}, got {mode!r}")
    if mode == "sample" and (num is None or num < 1):
        raise LandmarkGANError("pair mode 'sample' needs a number of pairs (num >= 1)")
    if mode == "all" and num is not None:
        raise LandmarkGANError("a number of pairs only applies to pair mode 'sample'; use mode 'sample' or drop it")


def _sampled(pairs: np.ndarray, mode: str, num: int | None, seed: int) -> np.ndarray:
    """A seeded sample of ``num`` of ``pairs`` in mode "sample" (all of them when fewer exist); all in mode "all"."""
    if mode == "sample" and num < len(pairs):
        chosen = np.random.default_rng(seed).choice(len(pairs), size=num, replace=False)
        pairs = pairs[chosen]
    return pairs


def make_pairs(
    samples: list[Sample],
    split: str = "train",
    mode: str = "all",
    num: int | None = None,
    seed: int = 0,
    source_expression: str | None = None,
) -> list[tuple[int, int]]:
    """(source index, target index) pairs of ``split``: same subject, same view, different
    (expression, intensity). ``mode="all"`` gives every such pair (ordered by subject, view, then
    index); ``mode="sample"`` a seeded random ``num`` of them (all of them when fewer exist).
    ``source_expression`` keeps only pairs whose source has that expression (e.g. "neutral")."""
    return [(int(a), int(b)) for a, b in pair_array(samples, split, mode, num, seed, source_expression)]


def balanced_targets(pairs: np.ndarray, samples: list[Sample]) -> np.ndarray:
    """``pairs`` (N, 2) with each pair repeated so that every target expression is asked about as often as the most
    asked one (to the nearest whole repeat), in the original order, each pair's repeats together.

    A data set with one neutral face per subject and four intensities of every other expression (the built-in
    synthetic set, BU-3DFE) asks for neutral in 1 pair of 25; balanced, its neutral targets are repeated 4 times,
    and neutral is asked as often as happy or sad.
    """
    targets = np.asarray([samples[int(j)].expression for j in pairs[:, 1]])
    names, counts = np.unique(targets, return_counts=True)
    repeats = dict(zip(names, np.maximum(1, np.round(counts.max() / counts)).astype(np.int64)))
    return np.repeat(pairs, [repeats[t] for t in targets], axis=0)
