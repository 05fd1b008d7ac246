"""The paper's other applications: colourisation, inpainting and sketch-to-face with the same model.

The degradations by hand, the (degraded y, y) pairs, each task trained, resumed and evaluated end to end,
model folders that refuse another task, the pipeline and ``landmarkgan translate --task``, and
``landmarkgan benchmark --task``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from skimage import data as skimage_data

from helpers import SIZE, tiny_model
from landmarkgan.cli import main
from landmarkgan.data.dataset import ExpressionPairDataset, to_uint8
from landmarkgan.data.degradations import FACE_PARTS, degrade, fill_hole, greyscale, hole_mask, hole_side, sketch
from landmarkgan.data.images import load_image, save_image
from landmarkgan.data.manifest import read_manifest
from landmarkgan.data.pairs import own_pairs
from landmarkgan.data.synthetic import render_face, sample_identity, synthesize_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.evaluate import evaluate
from landmarkgan.evaluation.metrics import psnr
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.loading import load_model
from landmarkgan.landmarks.align import apply_transform, invert_transform
from landmarkgan.models import ModelConfig
from landmarkgan.training.checkpoint import latest_checkpoint
from landmarkgan.training.config import Config
from landmarkgan.training.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent
RESTORATIONS = ("colorize", "inpaint", "sketch")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    synthesize_dataset(root, num_identities=6, size=SIZE, intensities=(4,), test_fraction=0.34, seed=1)
    return root


def face(size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return render_face(sample_identity(np.random.default_rng(seed)), "happy", 3, size)


# -- the degradations --------------------------------------------------------------------------------
def test_greyscale_is_itu_601_luma_in_three_equal_channels() -> None:
    image = np.array([[[200, 100, 50], [0, 0, 255]]], np.uint8)
    grey = greyscale(image)
    # Pillow's L: (299 R + 587 G + 114 B) / 1000, rounded
    assert grey.shape == (1, 2, 3) and grey[0, 0].tolist() == [124] * 3 and grey[0, 1].tolist() == [29] * 3
    assert np.array_equal(greyscale(grey), grey)  # a grey image stays as it is


def test_sketch_is_white_on_flat_areas_and_dark_along_edges() -> None:
    flat = np.full((64, 64, 3), (90, 140, 60), np.uint8)
    assert (sketch(flat) == 255).all()  # 255 g / (255 - (255 - g)) = 255
    step = flat.copy()
    step[:, 32:] = 20
    drawn = sketch(step)
    assert (drawn[..., 0] == drawn[..., 2]).all()
    assert drawn[:, 33].max() < 200 and (drawn[:, 10] == 255).all() and (drawn[:, 60] == 255).all()
    assert np.array_equal(sketch(step), drawn)  # deterministic


def test_the_hole_is_the_papers_size_and_hides_a_whole_face_part() -> None:
    assert (hole_side(256), hole_side(64), hole_side(32)) == (96, 24, 12)
    image, landmarks = face(64)
    covered = set()
    for seed in range(30):
        mask = hole_mask(64, landmarks, seed)
        rows, cols = np.nonzero(mask)
        assert mask.sum() == 24 * 24 and np.ptp(rows) == np.ptp(cols) == 23  # one 24 x 24 square inside the image
        pixels = np.floor(landmarks + 0.5).astype(int)
        hidden = [name for name, part in FACE_PARTS.items() if mask[pixels[list(part), 1], pixels[list(part), 0]].all()]
        assert hidden, seed  # an eye, the nose or the mouth is wholly missing
        covered |= set(hidden)
        assert np.array_equal(mask, hole_mask(64, landmarks, seed))  # seeded
    assert {"right eye", "left eye", "mouth"} <= covered  # the seed chooses among the parts
    holed = fill_hole(image, mask)
    assert (holed[mask] == 255).all() and np.array_equal(holed[~mask], image[~mask])
    with pytest.raises(LandmarkGANError, match="the inpainting mask is 3x2 but the image 64x64"):
        fill_hole(image, np.ones((2, 3), bool))


def test_degrade_by_task() -> None:
    image, landmarks = face(32)
    assert degrade("expression", image, landmarks, 0) is image
    assert np.array_equal(degrade("colorize", image, landmarks, 0), greyscale(image))
    assert np.array_equal(degrade("sketch", image, landmarks, 0), sketch(image))
    assert np.array_equal(degrade("inpaint", image, landmarks, 5), fill_hole(image, hole_mask(32, landmarks, 5)))
    with pytest.raises(LandmarkGANError, match="unknown task 'paint'"):
        degrade("paint", image, landmarks, 0)
    with pytest.raises(LandmarkGANError, match="model.task must be one of expression, colorize, inpaint, sketch"):
        ModelConfig(task="paint")


def test_psnr_over_the_hole_by_hand() -> None:
    target = np.zeros((4, 4, 3), np.uint8)
    generated = target.copy()
    generated[:2, :2] = 10
    hole = np.zeros((4, 4), bool)
    hole[:2, :2] = True
    assert psnr(generated, target, hole) == pytest.approx(10 * math.log10(255**2 / 100))  # MSE 100 in the hole
    assert psnr(generated, target) == pytest.approx(10 * math.log10(255**2 / 25))  # 4 of 16 pixels off by 10
    with pytest.raises(LandmarkGANError, match="non-empty"):
        psnr(generated, target, np.zeros((4, 4), bool))


# -- pairs and the data set --------------------------------------------------------------------------
def test_restoration_pairs_are_every_image_with_itself(data: Path) -> None:
    samples = read_manifest(data)
    pairs = own_pairs(samples, "test")
    test_rows = [i for i, s in enumerate(samples) if s.split == "test"]
    assert pairs.tolist() == [[i, i] for i in test_rows]
    sampled = own_pairs(samples, "test", "sample", 5, seed=3)
    assert len(sampled) == 5 and (sampled[:, 0] == sampled[:, 1]).all()
    assert np.array_equal(sampled, own_pairs(samples, "test", "sample", 5, seed=3))


@pytest.mark.parametrize("task", RESTORATIONS)
def test_the_data_set_gives_degraded_y_and_y_with_ys_labels(data: Path, task: str) -> None:
    dataset = ExpressionPairDataset(data, "test", SIZE, task=task)
    item = dataset[3]
    row = int(item["target_index"])
    y, landmarks = dataset.face(row)
    assert int(item["source_index"]) == row and torch.equal(item["source_label"], item["target_label"])
    assert torch.equal(item["source_landmarks"], item["target_landmarks"])
    assert np.array_equal(to_uint8(item["y"][None])[0], y)
    x = to_uint8(item["x"][None])[0]
    if task == "inpaint":
        assert not np.array_equal(x, y) and (x == 255).all(axis=2).sum() >= hole_side(SIZE) ** 2
    else:
        assert np.array_equal(x, degrade(task, y, landmarks, 0))
    assert dataset.source_image(row) is dataset.source_image(row)  # made once, then cached
    # the hole belongs to the image: another data set of the same images, sampled otherwise, has the same one
    other = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=4, seed=9, task=task)
    assert np.array_equal(other.source_image(row), dataset.source_image(row))
    uncached = ExpressionPairDataset(data, "test", SIZE, task=task, cache_mb=0)
    assert np.array_equal(uncached.source_image(row), x)
    assert uncached.source_image(row) is not uncached.source_image(row)  # made again every time


# -- training, resuming, evaluating ------------------------------------------------------------------
def tiny(data: Path, out: Path, task: str, *overrides: str) -> Config:
    return Config.load(REPO / "configs" / "tiny.yaml").with_overrides(
        [f"train.data={data}", f"train.out={out}", f"model.task={task}", "train.sample_every=3",
         "train.checkpoint_every=3", "train.heldout_pairs=4", "model.identity_loss=false", *overrides])


@pytest.mark.parametrize("task", RESTORATIONS)
def test_each_task_trains_resumes_and_evaluates(data: Path, tmp_path: Path, task: str) -> None:
    Trainer(tiny(data, tmp_path / "straight", task, "train.max_steps=5"), progress_bar=False).train()
    Trainer(tiny(data, tmp_path / "stopped", task, "train.max_steps=3"), progress_bar=False).train()
    resumed = Trainer(tiny(data, tmp_path / "stopped", task, "train.max_steps=5"), resume=True, progress_bar=False)
    assert resumed.progress.step == 3 and resumed.dataset.task == task
    resumed.train()
    straight = load_file(latest_checkpoint(tmp_path / "straight") / "model.safetensors")
    again = load_file(latest_checkpoint(tmp_path / "stopped") / "model.safetensors")
    assert all(torch.equal(straight[k], again[k]) for k in straight)  # resumed bit for bit
    assert Config.load(tmp_path / "stopped" / "config.yaml").model.task == task

    model = load_model(tmp_path / "stopped")
    assert model.config.task == task
    result = evaluate(model, data, num_pairs=6, identity=False, perceptual=False, progress=False)
    assert math.isfinite(result.metrics["psnr"]) and math.isfinite(result.metrics["landmark_l2_model"])
    assert set(result.references) == {"copy"}  # no "warp only" without a change of expression
    dataset = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=6, task=task)
    row = int(dataset.pairs[0, 0])
    assert result.pairs[0]["source"] == result.pairs[0]["target"] == dataset.samples[row].image
    # "copy the input" is the degraded image against the real one
    copied = np.mean([psnr(dataset.source_image(int(i)), dataset.face(int(i))[0]) for i, _ in dataset.pairs])
    assert result.references["copy"]["psnr"] == pytest.approx(copied)
    if task == "inpaint":  # the PSNR of the hole's pixels alone
        k = 2
        row = int(dataset.pairs[k, 0])
        generated = to_uint8(model.translate_batch(
            {key: v[None] for key, v in dataset[k].items()})["image"].detach())[0]
        hole = dataset.hole(row)
        assert (dataset.source_image(row)[hole] == 255).all()
        assert result.pairs[k]["psnr_hole"] == pytest.approx(psnr(generated, dataset.face(row)[0], hole))
        assert math.isfinite(result.metrics["psnr_hole"]) and math.isfinite(result.references["copy"]["psnr_hole"])
    else:
        assert math.isnan(result.metrics["psnr_hole"])
    out = result.write(tmp_path / "evaluation", title=task)
    assert (out / "comparison.png").is_file() and "identity t-SNE (identity_tsne.png): dlib left out" in (
        out / "metrics.md").read_text()


# -- model folders, the pipeline and translate ---------------------------------------------------------
@pytest.fixture(scope="module")
def task_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folders = {}
    for task in RESTORATIONS:
        folders[task] = tmp_path_factory.mktemp(task)
        tiny_model(task=task).save_pretrained(folders[task])
    return folders


def test_a_model_folder_records_its_task_and_refuses_another(task_models: dict[str, Path], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    folder = task_models["colorize"]
    assert json.loads((folder / "config.json").read_text())["model"]["task"] == "colorize"
    assert LandmarkGANPipeline.from_pretrained(folder).task == "colorize"
    with pytest.raises(LandmarkGANError, match="trained for the colorize task, not sketch: use it with --task colo"):
        LandmarkGANPipeline.from_pretrained(folder, task="sketch")
    with pytest.raises(LandmarkGANError, match="unknown task 'paint'"):
        LandmarkGANPipeline.from_pretrained(folder, task="paint")
    photo = tmp_path / "face.png"
    save_image(face(SIZE)[0], photo)
    assert main(["translate", str(photo), "-e", "happy", "--model", str(folder), "--no-align"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "trained for the colorize task, not expression" in error
    assert main(["serve", "--model", str(folder), "--port", "0"]) == 2  # the page translates expressions
    assert "not expression" in capsys.readouterr().err


def test_pipeline_restores_what_it_was_trained_on(task_models: dict[str, Path]) -> None:
    image, _ = face(SIZE)
    colorize = LandmarkGANPipeline.from_pretrained(task_models["colorize"], task="colorize")
    result = colorize.restore(image, align=False)
    assert result.expression == "neutral" and result.intensity == 0  # the face's own label, by default
    assert np.array_equal(result.source, greyscale(image)) and result.image.shape == (SIZE, SIZE, 3)
    assert result.landmarks.shape == (68, 2)
    assert colorize.restore(image, "happy", 2, align=False).label == "happy 2"

    sketcher = LandmarkGANPipeline.from_pretrained(task_models["sketch"])
    drawn = sketch(image)
    assert np.array_equal(sketcher.restore(drawn, align=False).source, drawn)  # a sketch is read as it is
    assert np.array_equal(sketcher.restore(image, align=False, degrade=True).source, drawn)

    inpaint = LandmarkGANPipeline.from_pretrained(task_models["inpaint"])
    mask = np.zeros((SIZE, SIZE), bool)
    mask[4:14, 6:20] = True
    holed = inpaint.restore(image, align=False, mask=mask).source
    assert (holed[mask] == 255).all() and np.array_equal(holed[~mask], image[~mask])
    assert np.array_equal(inpaint.restore(image, align=False, mask=mask.astype(np.uint8) * 255).source, holed)
    with pytest.raises(LandmarkGANError, match="the mask is 8x8 but the image 32x32"):
        inpaint.restore(image, align=False, mask=np.ones((8, 8), bool))
    with pytest.raises(LandmarkGANError, match="marks nothing as missing"):
        inpaint.restore(image, align=False, mask=np.zeros((SIZE, SIZE), bool))
    with pytest.raises(LandmarkGANError, match="placed from the face's landmarks"):
        inpaint.restore(image, align=False, degrade=True)
    with pytest.raises(LandmarkGANError, match="not both"):
        inpaint.restore(image, align=False, degrade=True, mask=mask)
    with pytest.raises(LandmarkGANError, match="a mask is for an inpainting model"):
        colorize.restore(image, align=False, mask=mask)
    with pytest.raises(LandmarkGANError, match=r"restores faces \(colorize\) and keeps their expression: call "
                       r"pipe.restore\(image\)"):
        colorize.translate_all(image, align=False)
    with pytest.raises(LandmarkGANError, match="restores faces"):
        colorize(image, "happy", align=False)
    with pytest.raises(LandmarkGANError, match="this model translates expressions; call pipe"):
        LandmarkGANPipeline(tiny_model()).restore(image, align=False)


def test_a_photo_gets_the_seeded_hole_and_its_mask_moves_with_the_face(task_models: dict[str, Path]) -> None:
    """A photo is aligned first: the seeded hole is placed from dlib's landmarks; a mask of the photo is moved
    into the aligned frame with the face."""
    photo = skimage_data.astronaut()
    inpaint = LandmarkGANPipeline.from_pretrained(task_models["inpaint"], task="inpaint")
    seeded = inpaint.restore(photo, degrade=True)
    white = (seeded.source == 255).all(axis=2)
    assert white.sum() >= hole_side(SIZE) ** 2 and seeded.source_landmarks is not None
    whole = inpaint.prepare(photo).face
    # a round mask over the nose tip in the photo: white around the aligned nose tip, the rest as it was
    nose = apply_transform(invert_transform(seeded.matrix), seeded.source_landmarks[30:31])[0]
    rows, cols = np.mgrid[: photo.shape[0], : photo.shape[1]]
    holed = inpaint.restore(photo, mask=(cols - nose[0]) ** 2 + (rows - nose[1]) ** 2 <= 40**2).source
    x, y = np.round(seeded.source_landmarks[30]).astype(int)
    assert (holed[y, x] == 255).all()
    changed = (holed != whole).any(axis=2)
    assert 4 < changed.sum() < 0.2 * SIZE**2 and not changed[0, 0]
    assert (inpaint.restore(photo, mask=np.ones(photo.shape[:2], bool)).source == 255).all()


def test_cli_translate_with_a_task(task_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    image, _ = face(SIZE)
    photo, hole = tmp_path / "face.png", tmp_path / "hole.png"
    save_image(image, photo)
    mask = np.zeros((SIZE, SIZE, 3), np.uint8)
    mask[10:20, 8:24] = 255
    save_image(mask, hole)
    out = tmp_path / "out"
    assert main(["translate", str(photo), "--task", "inpaint", "--model", str(task_models["inpaint"]), "--mask",
                 str(hole), "--no-align", "-o", str(out)]) == 0
    assert (load_image(out / "face_inpaint_input.png")[10:20, 8:24] == 255).all()
    assert load_image(out / "face_inpaint.png").shape == (SIZE, SIZE, 3)
    record = json.loads((out / "face_inpaint_landmarks.json").read_text())
    assert record["expression"] == "neutral" and len(record["landmarks"]) == 68
    assert (out / "face_inpaint_overlay.png").is_file()
    for args, message in ((["--all"], "restores each face once"),
                          (["--mask", str(hole)], "a mask is for an inpainting"),
                          (["-e", "sad", "--intensity", "9"], "intensity must be one of")):
        assert main(["translate", str(photo), "--task", "colorize", "--model", str(task_models["colorize"]),
                     "--no-align", "-o", str(out), *args]) == 2
        assert message in capsys.readouterr().err
    assert main(["translate", str(photo), "--no-align", "--degrade", "-e", "happy"]) == 2
    assert "--degrade go with --task" in capsys.readouterr().err
    assert main(["translate", str(photo), "--no-align"]) == 2
    assert "give the target expression" in capsys.readouterr().err


# -- the benchmark -------------------------------------------------------------------------------------
def test_cli_benchmark_per_task(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["benchmark", "--task", "inpaint", "sketch", "--data", str(data), "--out", str(tmp_path), "--pairs", "4",
            "--classifier-steps", "3", "--no-identity", "--no-perceptual", "--set", "model.image_size=32",
            "model.ngf=8", "model.ndf=8", "model.n_layers_D=2", "train.max_steps=2", "model.identity_loss=false"]
    assert main(args) == 0
    assert capsys.readouterr().out.count("== training") == 4  # 2 tasks x (label-only, LandmarkGAN)
    table = (tmp_path / "applications.md").read_text()
    assert table.index("### inpaint") < table.index("### sketch")
    for task in ("inpaint", "sketch"):
        section = (tmp_path / task / "benchmark.md").read_text()
        assert "| copy the input (reference) |" in section and "warp only" not in section
        assert "| (1) pix2pix-style, labels only (no landmarks) |" in section and "| (2) LandmarkGAN |" in section
        assert f"Task {task};" in section
        assert load_model(tmp_path / task / "runs" / "landmarkgan").config.task == task
    sheet = load_image(tmp_path / "applications.png")
    assert sheet.shape[0] > 6 * 96 and sheet.shape[1] > 5 * 96  # 2 tasks x 3 pairs; 5 columns
    assert (tmp_path / "expression_classifier.safetensors").is_file()  # one classifier for every task
    smaller = [a if a != "train.max_steps=2" else "train.max_steps=1" for a in args]
    assert main(smaller) == 0
    assert "== training" not in capsys.readouterr().out  # finished runs are reused...
    assert "batch 8, 2 steps," in (tmp_path / "sketch" / "benchmark.md").read_text()  # ...and their steps told
