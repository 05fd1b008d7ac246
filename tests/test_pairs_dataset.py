"""Pairing rules and the ExpressionPairDataset items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from landmarkgan.data.dataset import ExpressionPairDataset, to_tensor
from landmarkgan.data.images import save_image
from landmarkgan.data.manifest import Sample, write_manifest
from landmarkgan.data.pairs import balanced_targets, make_pairs, pair_array
from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.encoding import landmark_image

# (subject, view, expression, intensity, split): subject A has two images labelled happy/2
ROWS = [
    ("A", "", "neutral", 0, "train"), ("A", "", "happy", 1, "train"), ("A", "", "happy", 2, "train"),
    ("A", "", "happy", 2, "train"), ("A", "", "sad", 0, "train"),
    ("B", "v1", "neutral", 0, "train"), ("B", "v1", "happy", 0, "train"), ("B", "v2", "neutral", 0, "train"),
    ("C", "", "neutral", 0, "test"), ("C", "", "surprise", 0, "test"), ("D", "", "angry", 0, "test"),
]


def sample_rows(rows=ROWS) -> list[Sample]:
    rng = np.random.default_rng(0)
    return [Sample(image=f"images/{k}.png", subject=s, view=v, expression=e, intensity=i, split=sp,
                   landmarks=rng.uniform(4, 28, size=(68, 2)))
            for k, (s, v, e, i, sp) in enumerate(rows)]


# ------------------------------------------------------------------------------------------ pairs
def test_all_pairs_hand_counted() -> None:
    samples = sample_rows()
    pairs = make_pairs(samples, "train")
    # subject A: 5 images, 5 * 4 ordered pairs minus the two happy/2 <-> happy/2 pairs = 18;
    # subject B: view v1 gives 2, view v2 has a single image
    assert len(pairs) == 18 + 2 and len(set(pairs)) == 20
    assert (2, 3) not in pairs and (3, 2) not in pairs and (1, 2) in pairs and (6, 5) in pairs
    for i, j in pairs:
        a, b = samples[i], samples[j]
        assert (a.subject, a.view, a.split) == (b.subject, b.view, "train") == (b.subject, b.view, b.split)
        assert (a.expression, a.intensity) != (b.expression, b.intensity)
    assert make_pairs(samples, "test") == [(8, 9), (9, 8)]


def test_source_expression_filter() -> None:
    pairs = make_pairs(sample_rows(), "train", source_expression="NE")
    assert pairs == [(0, 1), (0, 2), (0, 3), (0, 4), (5, 6)]


def test_balanced_targets_repeat_the_rarely_asked_expressions() -> None:
    """Training pairs of subject A (5 images: neutral, happy/1, happy/2 twice, sad): targets neutral 4, happy 10, sad
    4 (B's v1 adds a neutral and a happy target), so neutral (5) and sad (4) pairs are repeated round(11/5) = 2 and
    round(11/4) = 3 times, in place."""
    samples = sample_rows()
    pairs = pair_array(samples, "train")
    balanced = balanced_targets(pairs, samples)
    asked = lambda p: [samples[int(j)].expression for j in p[:, 1]]  # noqa: E731
    counts = {e: asked(pairs).count(e) for e in ("neutral", "happy", "sad")}
    assert counts == {"neutral": 5, "happy": 11, "sad": 4}
    repeats = {"neutral": 2, "happy": 1, "sad": 3}
    assert {e: asked(balanced).count(e) for e in counts} == {e: counts[e] * repeats[e] for e in counts}
    expected = [tuple(p) for p in pairs for _ in range(repeats[samples[int(p[1])].expression])]
    assert [tuple(p) for p in balanced] == expected


def test_sampled_pairs_are_seeded() -> None:
    samples = sample_rows()
    every = set(make_pairs(samples))
    first = make_pairs(samples, mode="sample", num=7, seed=5)
    assert len(first) == 7 == len(set(first)) and set(first) <= every
    assert make_pairs(samples, mode="sample", num=7, seed=5) == first
    assert any(make_pairs(samples, mode="sample", num=7, seed=s) != first for s in range(6, 10))
    assert sorted(make_pairs(samples, mode="sample", num=500)) == sorted(every)


def test_pair_errors() -> None:
    samples = sample_rows()
    with pytest.raises(LandmarkGANError, match="test split has no pairs with source expression 'sad'"):
        make_pairs(samples, "test", source_expression="sad")
    lonely = sample_rows([("A", "", "happy", 0, "train"), ("A", "", "happy", 0, "train"), ("B", "", "sad", 0, "train")])
    with pytest.raises(LandmarkGANError, match="train split has no pairs.*3 train image"):
        make_pairs(lonely)
    with pytest.raises(LandmarkGANError, match="needs a number"):
        make_pairs(samples, mode="sample")
    with pytest.raises(LandmarkGANError, match="only applies"):
        make_pairs(samples, num=3)
    with pytest.raises(LandmarkGANError, match="split must be"):
        make_pairs(samples, "val")
    with pytest.raises(LandmarkGANError, match="pair mode"):
        make_pairs(samples, mode="some")


# ---------------------------------------------------------------------------------------- Dataset
SIZE = 64


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    samples = sample_rows()
    rng = np.random.default_rng(1)
    for s in samples:
        save_image(rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8), tmp_path / s.image)
    write_manifest(samples, tmp_path)
    return tmp_path


def test_item_contents(data_root: Path) -> None:
    ds = ExpressionPairDataset(data_root)
    samples = ds.samples
    assert len(ds) == 20 and ds.num_intensities == 4
    assert ds.expressions == ("neutral", "happy", "sad", "angry", "surprise")  # EXPRESSIONS order
    k = [tuple(p) for p in ds.pairs.tolist()].index((0, 2))  # neutral -> happy at intensity 2
    item = ds[k]
    for key in ("x", "y", "target_landmark_image"):
        assert item[key].shape == (3, SIZE, SIZE) and item[key].dtype == torch.float32
        assert item[key].min() >= -1 and item[key].max() <= 1
    assert item["source_label"].item() == 0 and item["target_label"].item() == 1
    assert item["source_label"].dtype == torch.long and item["target_intensity"].item() == 2
    assert (item["source_index"].item(), item["target_index"].item()) == (0, 2)
    y = np.asarray(Image.open(data_root / "images/2.png"))
    assert torch.equal(item["y"], torch.tensor(y).permute(2, 0, 1).float() / 127.5 - 1)
    assert torch.allclose(item["target_landmarks"], torch.from_numpy(samples[2].landmarks))
    assert item["source_landmarks"].shape == (68, 2) and item["source_landmarks"].dtype == torch.float32
    encoded = landmark_image(y, samples[2].landmarks)
    assert torch.equal(item["target_landmark_image"], to_tensor(encoded))
    # the encoding of y: y's colour at a landmark, white away from every landmark
    px, py = np.round(samples[2].landmarks[0]).astype(int)
    assert torch.equal(item["target_landmark_image"][:, py, px], item["y"][:, py, px])
    assert (encoded == 255).all(axis=2).any()


def test_resize_scales_landmarks(data_root: Path) -> None:
    ds = ExpressionPairDataset(data_root, image_size=32, pairs="sample", num_pairs=3, seed=2)
    item = ds[0]
    assert item["x"].shape == item["y"].shape == item["target_landmark_image"].shape == (3, 32, 32)
    j = item["target_index"].item()
    expected = (ds.samples[j].landmarks + 0.5) * 0.5 - 0.5  # pixel centres, half size
    assert torch.allclose(item["target_landmarks"], torch.from_numpy(expected.astype(np.float32)))
    assert len(ds) == 3


def test_expression_list_cache_and_split(data_root: Path) -> None:
    labels = ("contempt", "surprise", "angry", "sad", "happy", "neutral", "fear")
    ds = ExpressionPairDataset(data_root, split="test", expressions=labels, cache_mb=0)
    assert len(ds) == 2
    item = ds[0]
    assert (item["source_label"].item(), item["target_label"].item()) == (5, 1)  # neutral -> surprise
    assert ds._faces == {}
    cached = ExpressionPairDataset(data_root, split="test")
    cached[0]
    assert set(cached._faces) == {8, 9} and set(cached._landmark_images) == {9}
    batch = next(iter(DataLoader(cached, batch_size=2)))
    assert batch["x"].shape == (2, 3, SIZE, SIZE) and batch["target_label"].tolist() == [4, 0]


def test_the_image_cache_keeps_to_its_memory_budget(data_root: Path) -> None:
    one_face = (SIZE * SIZE * 3 + 68 * 2 * 4) / 2**20  # MiB of one decoded face and its landmarks
    ds = ExpressionPairDataset(data_root, split="test", cache_mb=one_face)
    first, again = ds[0], ds[0]
    assert set(ds._faces) == {8} and ds._landmark_images == {}  # the source fits, the target is read again
    reference = ExpressionPairDataset(data_root, split="test", cache_mb=0)[0]
    for item in (first, again):
        assert all(torch.equal(item[k], reference[k]) for k in reference)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(LandmarkGANError, match="cache size"):
            ExpressionPairDataset(data_root, split="test", cache_mb=bad)


def test_no_intensities(tmp_path: Path) -> None:
    rows = [("A", "", "neutral", 0, "train"), ("A", "", "happy", 0, "train")]
    samples = sample_rows(rows)
    for s in samples:
        save_image(np.zeros((48, 48, 3), np.uint8), tmp_path / s.image)
    write_manifest(samples, tmp_path)
    ds = ExpressionPairDataset(tmp_path)
    assert ds.num_intensities == 0 and ds.expressions == ("neutral", "happy") and ds.image_size == 48
    assert ds[1]["x"].shape == (3, 48, 48) and ds[1]["target_label"].item() == 0


def test_dataset_errors(data_root: Path, tmp_path: Path) -> None:
    with pytest.raises(LandmarkGANError, match="sad.*not among"):
        ExpressionPairDataset(data_root, expressions=("neutral", "happy", "angry", "surprise"))
    with pytest.raises(LandmarkGANError, match="does not exist"):
        ExpressionPairDataset(tmp_path / "nowhere")
    with pytest.raises(LandmarkGANError, match="image size"):
        ExpressionPairDataset(data_root, image_size=0)
    (data_root / "images/2.png").write_bytes(b"\x89PNG broken")
    ds = ExpressionPairDataset(data_root)
    k = [tuple(p) for p in ds.pairs.tolist()].index((0, 2))
    with pytest.raises(LandmarkGANError, match="2.png"):
        ds[k]
    save_image(np.zeros((SIZE, SIZE // 2, 3), np.uint8), data_root / "images/0.png")
    with pytest.raises(LandmarkGANError, match="0.png is 32x64, not square"):
        ExpressionPairDataset(data_root)


def test_train_landmarks_are_the_training_images_at_the_dataset_size(data_root: Path) -> None:
    ds = ExpressionPairDataset(data_root, image_size=32)
    shapes = ds.train_landmarks()
    train = [s for s in ds.samples if s.split == "train"]
    assert shapes.shape == (len(train), 68, 2)
    assert np.allclose(shapes, [(s.landmarks + 0.5) * 0.5 - 0.5 for s in train])  # 64 -> 32 pixels
