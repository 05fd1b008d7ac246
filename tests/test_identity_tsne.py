"""The identity feature picture: t-SNE of face descriptors, one colour per subject, written by ``evaluate``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import SIZE, tiny_model
from landmarkgan.cli import main
from landmarkgan.data.images import load_image
from landmarkgan.data.synthetic import synthesize_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.evaluate import evaluate
from landmarkgan.evaluation.identity_tsne import identity_tsne_picture, subject_colours, tsne_embedding


def clusters(count: int, centres: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``count`` 128-d points around each of ``centres`` far-apart centres, and their subject names."""
    rng = np.random.default_rng(seed)
    middle = rng.normal(size=(centres, 128))
    points = np.concatenate([c + 0.05 * rng.normal(size=(count, 128)) for c in middle])
    return points, [f"s{k}" for k in range(centres) for _ in range(count)]


def test_tsne_keeps_subjects_apart() -> None:
    points, subjects = clusters(8, 3)
    embedded = tsne_embedding(points)
    assert embedded.shape == (24, 2)
    distances = np.linalg.norm(embedded[:, None] - embedded[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    assert all(subjects[k] == subjects[n] for k, n in enumerate(nearest))
    assert np.allclose(tsne_embedding(points), embedded)  # seeded


def test_tsne_adapts_its_perplexity_to_few_faces_and_refuses_too_few() -> None:
    points, _ = clusters(5, 1)
    assert tsne_embedding(points).shape == (5, 2)  # perplexity 30 would exceed the 5 points
    with pytest.raises(LandmarkGANError, match="at least 5 finite descriptors"):
        tsne_embedding(points[:4])


def test_the_picture_has_a_colour_per_subject_circles_and_crosses() -> None:
    real, subjects = clusters(4, 2)
    generated = real + 0.01
    generated[0] = np.nan  # a face without a descriptor is left out
    picture = identity_tsne_picture(real, subjects, generated, subjects)
    colours = subject_colours(2)
    assert picture.dtype == np.uint8 and picture.shape[0] >= 640 and picture.shape[1] > 640
    for colour in colours:
        assert ((picture[:, :640] == colour).all(axis=2)).sum() > 50  # markers of both subjects in the plot
    with pytest.raises(LandmarkGANError, match="only 4 face"):
        identity_tsne_picture(real[:2], subjects[:2], generated[:3], subjects[:3])
    with pytest.raises(LandmarkGANError, match="got 8 real and 8 generated descriptors for 7 and 8 subjects"):
        identity_tsne_picture(real, subjects[:7], generated, subjects)
    assert len(set(subject_colours(30))) == 30


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    synthesize_dataset(root, num_identities=6, size=SIZE, intensities=(4,), test_fraction=0.34, seed=1)
    return root


def test_evaluate_writes_identity_tsne_png(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tiny_model().eval()
    result = evaluate(model, data, num_pairs=10, perceptual=False, progress=False)
    assert result.identity_tsne is not None and "identity_tsne" not in result.notes
    out = result.write(tmp_path / "eval")
    assert load_image(out / "identity_tsne.png").shape == result.identity_tsne.shape
    # two test subjects: both colours are in the plot
    plot = result.identity_tsne[:, :640]
    assert all(((plot == c).all(axis=2)).sum() > 20 for c in subject_colours(2))

    few = evaluate(model, data, num_pairs=2, perceptual=False, progress=False)  # 2 generated + 2 real faces
    assert few.identity_tsne is None and "the t-SNE picture needs at least 5" in few.notes["identity_tsne"]
    few.write(tmp_path / "few")
    assert not (tmp_path / "few" / "identity_tsne.png").exists()
    assert "identity t-SNE (identity_tsne.png): only" in (tmp_path / "few" / "metrics.md").read_text()

    model.save_pretrained(tmp_path / "model")
    assert main(["evaluate", "--model", str(tmp_path / "model"), "--data", str(data), "--out", str(tmp_path / "cli"),
                 "--pairs", "8", "--classifier-steps", "2", "--no-perceptual"]) == 0
    assert "identity_tsne.png" in capsys.readouterr().out and (tmp_path / "cli" / "identity_tsne.png").is_file()
