"""``landmarkgan evaluate``, ``study`` and ``benchmark`` end to end on tiny models and synthetic faces."""

from __future__ import annotations

import hashlib
import json
import math
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from helpers import SIZE, tiny_model
from landmarkgan.cli import main
from landmarkgan.data.dataset import ExpressionPairDataset, to_uint8
from landmarkgan.data.images import load_image
from landmarkgan.data.synthetic import synthesize_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.evaluate import Evaluation, evaluate
from landmarkgan.evaluation.expression_classifier import save_classifier, train_on_folder
from landmarkgan.evaluation.metrics import landmark_l2_distance, psnr, ssim
from landmarkgan.training.checkpoint import latest_checkpoint, load_checkpoint
from landmarkgan.training.trainer import Trainer


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    synthesize_dataset(root, num_identities=6, size=SIZE, intensities=(4,), test_fraction=0.34, seed=1)
    return root


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def classifier_file(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from landmarkgan.evaluation.benchmark import data_expressions

    classifier = train_on_folder(data, data_expressions(data), size=32, steps=10, progress=False)
    return save_classifier(classifier, tmp_path_factory.mktemp("clf") / "classifier.safetensors")


def test_evaluate_computes_the_papers_metrics_pair_by_pair(data: Path, classifier_file: Path, tmp_path: Path) -> None:
    from landmarkgan.evaluation.expression_classifier import load_classifier

    model = tiny_model().eval()
    result = evaluate(model, data, num_pairs=12, batch_size=5, classifier=load_classifier(classifier_file),
                      progress=False)
    assert len(result.pairs) == 12
    # pair 0 by hand: the same test pair, translated and scored directly
    dataset = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=12, expressions=model.config.expressions)
    batch = next(iter(DataLoader(dataset, batch_size=1)))
    with torch.no_grad():
        out = model.translate_batch(batch)
    generated, target = to_uint8(out["image"])[0], to_uint8(batch["y"])[0]
    assert result.pairs[0]["psnr"] == pytest.approx(psnr(generated, target))
    assert result.pairs[0]["ssim"] == pytest.approx(ssim(generated, target))
    assert result.pairs[0]["landmark_l2_model"] == pytest.approx(
        landmark_l2_distance(out["landmarks"][0].numpy(), batch["target_landmarks"][0].numpy(), SIZE), rel=1e-5)
    m = result.metrics
    assert m["psnr"] == pytest.approx(np.mean([p["psnr"] for p in result.pairs]))
    for key in ("ssim", "landmark_l2_model", "verification_rate", "identity_distance", "expression_accuracy",
                "real_expression_accuracy", "face_detected", "fid"):
        assert math.isfinite(m[key]), key
    assert 0 <= m["verification_rate"] <= 1 and 0 <= m["expression_accuracy"] <= 1
    # no pretrained LPIPS / Inception weights here: the notes name the file to supply
    assert "alexnet-owt-7be5be79.pth" in result.notes["lpips"]
    assert "pt_inception-2015-12-05.pt" in result.notes["inception_score"]
    assert math.isnan(m["lpips"]) and math.isnan(m["inception_score"])

    out_dir = result.write(tmp_path / "eval", title="tiny")
    table = (out_dir / "metrics.md").read_text()
    assert "| tiny |" in table and "PSNR (dB) ↑" in table and "LPIPS: LPIPS (alex) needs" in table
    assert json.loads((out_dir / "metrics.json").read_text())["metrics"]["psnr"] == pytest.approx(m["psnr"])
    assert len((out_dir / "pairs.csv").read_text().splitlines()) == 13
    sheet = load_image(out_dir / "comparison.png")
    assert sheet.shape[0] > 8 * 128  # 8 pairs of 4 columns, 128-pixel cells

    again = Evaluation.read(out_dir)  # what the benchmark reuses
    assert again.metrics.keys() == m.keys()
    assert all(again.metrics[k] == m[k] or (math.isnan(again.metrics[k]) and math.isnan(m[k])) for k in m)
    assert again.notes == result.notes and again.by_expression == result.by_expression
    assert [p["expression"] for p in again.pairs] == [p["expression"] for p in result.pairs]
    assert again.pairs[0]["psnr"] == pytest.approx(result.pairs[0]["psnr"], rel=1e-5)
    assert again.examples.keys() == result.examples.keys()
    assert all(np.array_equal(a, b) for k in result.examples for a, b in zip(again.examples[k], result.examples[k]))
    stored = (out_dir / "examples.npz").read_bytes()
    (out_dir / "examples.npz").write_bytes(stored[: len(stored) // 2])  # cut short
    with pytest.raises(LandmarkGANError, match="holds no complete evaluation"):
        Evaluation.read(out_dir)


def test_evaluate_lets_go_of_each_batch_of_faces_once_it_is_scored(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory does not grow with the number of pairs: while evaluate scores a batch, no face of the batches before the
    last one is alive any more (only those of the first pairs, which the comparison sheet shows)."""
    import gc
    import weakref

    from landmarkgan.evaluation import evaluate as module
    from landmarkgan.evaluation.collect import SHEET_PAIRS

    collect = module.collect
    seen: list[list[weakref.ref]] = []  # per batch, its faces

    def watched(*args, **kwargs):
        for index, batch in enumerate(collect(*args, **kwargs)):
            gc.collect()
            assert all(ref() is None for refs in seen[:-1] for ref in refs), "an earlier batch's faces are kept"
            faces = [*batch.sources, *batch.targets, *[face for row in batch.faces.values() for face in row]]
            seen.append([] if index == 0 else [weakref.ref(face) for face in faces])  # batch 0: the sheet's pairs
            yield batch

    monkeypatch.setattr(module, "collect", watched)
    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    result = evaluate(model, data, num_pairs=40, batch_size=SHEET_PAIRS, identity=False, perceptual=False,
                      progress=False)
    assert len(seen) == 5 and len(result.pairs) == 40 and len(result.examples["output"]) == SHEET_PAIRS


def test_reference_rows_score_doing_nothing_on_the_same_pairs(data: Path, tmp_path: Path) -> None:
    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    result = evaluate(model, data, num_pairs=6, identity=False, perceptual=False, progress=False)
    dataset = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=6, expressions=model.config.expressions)
    batch = next(iter(DataLoader(dataset, batch_size=6)))
    with torch.no_grad():
        out = model.translate_batch(batch)
    # the displacement the warp follows, against the true one, in pixels at 256 x 256
    moved = (out["landmarks"] - out["source_landmarks"]) - (batch["target_landmarks"] - batch["source_landmarks"])
    assert result.pairs[0]["displacement_l2_model"] == pytest.approx(moved[0].norm(dim=-1).mean().item() * 256 / SIZE,
                                                                     rel=1e-4)
    assert result.metrics["displacement_l2_model"] == pytest.approx(moved.norm(dim=-1).mean().item() * 256 / SIZE,
                                                                    rel=1e-4)
    sources, warped, targets = to_uint8(batch["x"]), to_uint8(out["warped"]), to_uint8(batch["y"])
    copy, warp_only = result.references["copy"], result.references["warp"]
    assert copy["psnr"] == pytest.approx(np.mean([psnr(a, b) for a, b in zip(sources, targets)]))
    assert warp_only["psnr"] == pytest.approx(np.mean([psnr(a, b) for a, b in zip(warped, targets)]))
    with torch.no_grad():
        on_truth = to_uint8(model.stage2_on_true_landmarks(batch))
    assert result.true_landmarks["psnr"] == pytest.approx(np.mean([psnr(a, b) for a, b in zip(on_truth, targets)]))
    table = (result.write(tmp_path, title="tiny warp") / "metrics.md").read_text().splitlines()
    assert [line.split(" |")[0] for line in table[2:6]] == [
        "| copy the input (reference)", "| warp only, no refinement (reference)", "| tiny warp",
        "| stage II on the true landmarks (a perfect stage I)"]
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert set(written["references"]) == {"copy", "warp"}
    assert written["true_landmarks"]["psnr"] == pytest.approx(result.true_landmarks["psnr"])
    # the paper's generator has no warp of its own: its reference warps x from its true to its generated landmarks
    paper = evaluate(tiny_model().eval(), data, num_pairs=6, identity=False, perceptual=False, progress=False)
    assert math.isnan(paper.metrics["displacement_l2_model"]) and "only the warp generator" in \
        paper.notes["displacement_l2_model"]
    assert math.isfinite(paper.references["warp"]["psnr"]) and paper.references["copy"]["psnr"] == copy["psnr"]


def test_stage_two_on_the_true_landmarks_reads_them_and_not_stage_one(data: Path) -> None:
    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    dataset = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=4, expressions=model.config.expressions)
    batch = next(iter(DataLoader(dataset, batch_size=4)))
    with torch.no_grad():
        before = model.stage2_on_true_landmarks(batch)
        for p in model.gl.parameters():  # a different stage I changes nothing here
            p.add_(torch.randn_like(p))
        assert torch.equal(model.stage2_on_true_landmarks(batch), before)
        moved = dict(batch, target_landmarks=batch["target_landmarks"] + torch.tensor([4.0, -3.0]))
        assert (model.stage2_on_true_landmarks(moved) - before).abs().amax() > 0.1  # but the landmarks do
    with pytest.raises(LandmarkGANError, match="needs stage I"):
        tiny_model(landmark_source="none").eval().stage2_on_true_landmarks(batch)
    baseline = evaluate(tiny_model(landmark_source="none").eval(), data, num_pairs=4, identity=False, perceptual=False,
                        progress=False)
    assert baseline.true_landmarks == {}  # a model without stage I has no such row


class _ByBrightness(torch.nn.Module):
    """A stand-in expression classifier: class = round(mean brightness * 10) of the face (images in [-1, 1])."""

    classes = ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust")

    def __init__(self) -> None:
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        index = ((images.mean(dim=(1, 2, 3)) + 1) * 5).round().long().clamp(0, 6)
        return torch.nn.functional.one_hot(index, 7).float()


def test_expression_accuracy_on_changed_pairs_is_its_own_number(data: Path) -> None:
    """Scored and reported by hand-made records: the accuracy over all pairs, over the pairs whose expression changes,
    per asked expression, and what each face was read as in pairs.csv."""
    from landmarkgan.evaluation.collect import CollectedBatch, PairRecord
    from landmarkgan.evaluation.evaluate import report
    from landmarkgan.evaluation.scoring import Scorer

    dataset = ExpressionPairDataset(data, "test", SIZE, pairs="sample", num_pairs=4)
    labels, changed = [1, 2, 3, 4], [True, False, True, True]
    records = [PairRecord("s.png", "t.png", int(dataset.pairs[k, 1]), "A", dataset.expressions[label], label, change)
               for k, (label, change) in enumerate(zip(labels, changed))]
    faces = [np.full((SIZE, SIZE, 3), round((c / 5) * 127.5), np.uint8) for c in (1, 2, 0, 0)]  # classes 1, 2, 0, 0
    targets = [np.zeros((SIZE, SIZE, 3), np.uint8)] * 4
    scorer = Scorer(dataset.expressions, {"bright": _ByBrightness()}, identity=False, perceptual=False,
                    device=torch.device("cpu"))
    scorer.add(CollectedBatch(records, targets, targets, {"model": targets, "warp": faces}, np.zeros((4, 68, 2)),
                              [None] * 4, [None] * 4))
    result = report(records, scorer, dataset, "bright")
    warp = result.references["warp"]
    assert warp["expression_accuracy"] == pytest.approx(2 / 4)  # pairs 0 and 1 are right
    assert warp["expression_accuracy_changed"] == pytest.approx(1 / 3)  # of the changed pairs 0, 2, 3: pair 0
    assert result.metrics["expression_accuracy"] == 0  # the black faces are read as neutral, never asked
    # per asked expression: happy and sad were rendered, angry and surprise were not; unasked ones are left out
    assert result.by_expression["warp"] == {"happy": 1.0, "sad": 1.0, "angry": 0.0, "surprise": 0.0}
    assert [r.recognised["warp"]["bright"] for r in records] == [1, 2, 0, 0]
    assert [p["recognised_as"] for p in result.pairs] == ["neutral"] * 4  # pairs.csv holds the model's row
    table = result.by_expression_table().splitlines()
    assert table[1].startswith("| expression accuracy by asked expression | happy | sad | angry | surprise |")
    assert table[3] == "| warp only, no refinement (reference) | 1.000 | 1.000 | 0.000 | 0.000 |"


def test_baselines_are_evaluated_by_the_same_harness(data: Path) -> None:
    label_only = tiny_model(landmark_source="none").eval()
    result = evaluate(label_only, data, num_pairs=4, identity=False, perceptual=False, progress=False)
    assert math.isfinite(result.metrics["psnr"]) and math.isnan(result.metrics["landmark_l2_model"])
    assert "generates no landmarks" in result.notes["landmark_l2_model"]
    oracle = tiny_model(landmark_source="ground_truth").eval()
    result = evaluate(oracle, data, num_pairs=4, identity=False, perceptual=False, progress=False)
    assert result.metrics["landmark_l2_model"] < 1e-3  # it is given the true landmarks


def test_evaluate_scores_the_refinement_strength_asked(data: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """refinement 0 scores the warp alone: the model's row equals the warp-only reference; the CLI names the strength
    in the table and refuses it for the paper's generator before any work."""
    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    none = evaluate(model, data, num_pairs=6, identity=False, perceptual=False, progress=False, refinement=0)
    own = evaluate(model, data, num_pairs=6, identity=False, perceptual=False, progress=False)
    assert none.metrics["psnr"] == pytest.approx(none.references["warp"]["psnr"])
    assert abs(own.metrics["psnr"] - none.metrics["psnr"]) > 0.01  # the untrained refinement does change the faces
    assert none.references["warp"]["psnr"] == pytest.approx(own.references["warp"]["psnr"])
    folder = model.save_pretrained(tmp_path / "warp")
    assert main(["evaluate", "--model", str(folder), "--data", str(data), "--out", str(tmp_path / "e"), "--pairs",
                 "4", "--classifier-steps", "3", "--no-identity", "--no-perceptual", "--refinement", "0.5"]) == 0
    assert f"| {folder}, refinement 0.5 |" in (tmp_path / "e" / "metrics.md").read_text()
    assert main(["evaluate", "--data", str(data), "--out", str(tmp_path / "p"), "--model",
                 str(tiny_model().save_pretrained(tmp_path / "paper")), "--refinement", "0.5"]) == 2
    assert "needs the warp generator" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_cli_evaluate(model_dir: Path, data: Path, classifier_file: Path, tmp_path: Path,
                      capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--model", str(model_dir), "--data", str(data), "--out", str(tmp_path), "--pairs", "6",
                 "--classifier", str(classifier_file), "--no-perceptual"]) == 0
    printed = capsys.readouterr().out
    assert "expression accuracy" in printed and "comparison.png" in printed
    assert "expression accuracy by asked expression" in printed  # and which expressions the model fails
    assert (tmp_path / "metrics.csv").is_file()
    digest = hashlib.sha256(classifier_file.read_bytes()).hexdigest()[:16]
    assert f"scored by the classifier {classifier_file} (SHA-256 {digest}" in (tmp_path / "metrics.md").read_text()
    assert main(["evaluate", "--model", str(model_dir), "--data", str(tmp_path / "none"), "--pairs", "6",
                 "--classifier", str(classifier_file)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_evaluate_trains_its_classifier_with_the_seed_asked(model_dir: Path, data: Path, tmp_path: Path) -> None:
    def trained(seed: int, out: str) -> bytes:
        assert main(["evaluate", "--model", str(model_dir), "--data", str(data), "--out", str(tmp_path / out),
                     "--pairs", "4", "--classifier-steps", "3", "--classifier-seed", str(seed), "--no-identity",
                     "--no-perceptual"]) == 0
        return (tmp_path / out / f"expression_classifier_seed{seed}.safetensors").read_bytes()

    assert trained(1, "a") == trained(1, "b") != trained(2, "c")


def test_evaluate_under_several_classifiers_reports_each_and_their_mean(data: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """--classifier-seed 0 1 2: the main table is the first classifier's; every row gets the mean accuracy over
    the three, and a last table each one's, which are what each classifier alone reports."""
    from landmarkgan.evaluation.expression_classifier import load_classifier

    model = tiny_model(generator="warp", stage2_landmark_image="drawn").eval()
    folder = model.save_pretrained(tmp_path / "warp")
    out = tmp_path / "e"
    assert main(["evaluate", "--model", str(folder), "--data", str(data), "--out", str(out), "--pairs", "6",
                 "--classifier-steps", "20", "--classifier-seed", "0", "1", "2", "--no-identity",
                 "--no-perceptual"]) == 0
    files = [out / name for name in ("expression_classifier.safetensors", "expression_classifier_seed1.safetensors",
                                     "expression_classifier_seed2.safetensors")]
    alone = [evaluate(model, data, num_pairs=6, identity=False, perceptual=False, progress=False,
                      classifier=load_classifier(f)) for f in files]
    saved = json.loads((out / "metrics.json").read_text())
    by_classifier = saved["expression_accuracy_by_classifier"]
    assert list(by_classifier) == ["seed 0", "seed 1", "seed 2"]
    for name, single in zip(by_classifier, alone):
        assert by_classifier[name]["model"]["expression_accuracy"] == pytest.approx(
            single.metrics["expression_accuracy"])
        assert by_classifier[name]["warp"]["expression_accuracy_changed"] == pytest.approx(
            single.references["warp"]["expression_accuracy_changed"])
        assert by_classifier[name]["real_faces"]["expression_accuracy"] == pytest.approx(
            single.metrics["real_expression_accuracy"])
    assert saved["metrics"]["expression_accuracy"] == pytest.approx(alone[0].metrics["expression_accuracy"])
    mean = np.mean([single.metrics["expression_accuracy"] for single in alone])
    assert saved["metrics"]["expression_accuracy_mean"] == pytest.approx(mean)
    assert saved["references"]["copy"]["expression_accuracy_mean"] == pytest.approx(
        np.mean([single.references["copy"]["expression_accuracy"] for single in alone]))
    table = (out / "metrics.md").read_text()
    assert "| expression accuracy (changed expression) by classifier | seed 0 | seed 1 | seed 2 | mean |" in table
    row = next(line for line in table.splitlines() if line.startswith(f"| {folder} |") and "(" in line)
    assert row.split(" | ")[-1].startswith(f"{mean:.3f} (")
    assert "expression accuracy, mean over the classifiers" in table
    assert Evaluation.read(out).by_classifier == by_classifier


def test_cli_study_gives_table_ii(model_dir: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["study", "--model", str(model_dir), "--data", str(data), "--out", str(tmp_path), "--epochs", "1",
                 "--size", "32"]) == 0
    results = json.loads((tmp_path / "table2.json").read_text())["accuracy"]
    assert set(results) == {"Real/Real", "Real/Syn.", "Real+Normal-aug./Real", "Real+Syn./Real"}
    assert all(0 <= v <= 1 for v in results.values())
    assert "| Real+Syn./Real |" in (tmp_path / "table2.md").read_text()


def tiny_benchmark(data: Path, out: Path, *variants: str, steps: int = 3) -> list[str]:
    """The arguments of a benchmark of tiny variants trained for ``steps`` steps."""
    return ["benchmark", "--data", str(data), "--out", str(out), "--pairs", "4", "--classifier-steps", "3",
            "--no-identity", "--no-perceptual", "--variants", *variants, "--set",
            "model.image_size=32", "model.ngf=8", "model.ndf=8", "model.n_layers_D=2", f"train.max_steps={steps}",
            "model.identity_loss=false"]


def test_cli_benchmark_trains_evaluates_and_reuses_runs(data: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    args = tiny_benchmark(data, tmp_path, "landmarkgan", "pix2pix")
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert printed.count("== training") == 2
    table = (tmp_path / "benchmark.md").read_text()
    assert "| (1) LandmarkGAN |" in table and "| (2) pix2pix-style, labels only (no landmarks) |" in table
    lines = table.splitlines()
    assert lines[2].startswith("| copy the input (reference) |") and lines[3].startswith("| warp only")
    per_expression = lines[lines.index(next(x for x in lines if x.startswith("| expression accuracy by asked"))):]
    assert [x.split(" |")[0] for x in per_expression[2:6]] == [
        "| copy the input (reference)", "| warp only, no refinement (reference)", "| (1) LandmarkGAN",
        "| (2) pix2pix-style, labels only (no landmarks)"]
    sheet = load_image(tmp_path / "benchmark.png")
    assert sheet.shape[1] > 4 * 96
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "== training" not in printed  # finished runs are reused
    assert "== evaluating" not in printed and printed.count("== reusing the evaluation") == 2  # and so are their scores
    assert (tmp_path / "benchmark.md").read_text() == table
    assert np.array_equal(load_image(tmp_path / "benchmark.png"), sheet)
    assert main([*args, "--pairs", "3"]) == 0  # other test pairs: scored again
    assert capsys.readouterr().out.count("== evaluating") == 2
    assert main([*args, "--classifier-seed", "1"]) == 0  # another classifier: its own file, the runs scored again
    printed = capsys.readouterr().out
    assert "== training" not in printed and printed.count("== evaluating") == 2
    seeded = tmp_path / "expression_classifier_seed1.safetensors"  # the benchmark's classifier for seed 1
    assert seeded.read_bytes() != (tmp_path / "expression_classifier.safetensors").read_bytes()
    assert main(["benchmark", "--data", str(data), "--out", str(tmp_path), "--variants", "nope"]) == 2
    assert "unknown benchmark variant" in capsys.readouterr().err


def test_the_default_benchmark_is_the_baselines_table_i_and_the_built_in_recipe(capsys: pytest.CaptureFixture) -> None:
    """Unless told otherwise the benchmark trains the two baselines, LandmarkGAN and its eight Table I ablations, and
    the built-in model's recipe (configs/default_model.yaml's switches at the benchmark's size and schedule); its help
    says so, names the other variants, and its --config help names no file that does not exist."""
    from landmarkgan.cli.benchmark import BENCHMARK_DEFAULTS
    from landmarkgan.evaluation.benchmark import DEFAULT_VARIANTS, VARIANTS
    from landmarkgan.training.config import Config

    assert DEFAULT_VARIANTS == ["pix2pix", "c2gan", "landmarkgan", "no-dual-d", "no-identity", "no-landmark-loss", "l1",
                                "l2", "labels-gl", "labels-ge", "no-soft-crops", "default-model"]
    with pytest.raises(SystemExit):
        main(["benchmark", "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps the lines, at hyphens too
    assert "Bydefaultittrainsandevaluates" + ",".join(DEFAULT_VARIANTS) + ":" in text
    assert "for3000steps" in text and "warp-head=warp-and-refinewithafull-resolutionhead" in text
    assert "yaml's" not in text
    recipe = Config.from_dict(BENCHMARK_DEFAULTS).with_overrides(VARIANTS["default-model"][1])
    shipped = Config.load(Path(__file__).resolve().parent.parent / "configs" / "default_model.yaml")
    size = {"image_size": recipe.model.image_size}
    assert recipe.model.to_dict() == shipped.model.to_dict() | size
    for key in ("batch_size", "ema", "stage1_jitter", "photometric"):
        assert getattr(recipe.train, key) == getattr(shipped.train, key), key
    palette = Config.from_dict(BENCHMARK_DEFAULTS).with_overrides(VARIANTS["palette"][1])
    changed = {k for k, v in palette.model.to_dict().items() if v != getattr(recipe.model, k)}
    assert changed == {"refinement_colours", "colour_residual"} and palette.model.refinement_colours == "palette"


def test_a_benchmark_stopped_in_training_scores_nothing_and_continues(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped (SIGTERM, Ctrl-C) while a variant trains, the benchmark exits with 130 and evaluates nothing,
    rather than put the half-trained variant in its table; run again, it continues that variant's training."""
    after_step = Trainer._after_step

    def sigterm_at_step_two(self: Trainer, logs: dict, bar: object) -> None:
        after_step(self, logs, bar)
        if self.progress.step == 2:
            self._request_stop(signal.SIGTERM, None)

    monkeypatch.setattr(Trainer, "_after_step", sigterm_at_step_two)
    args = tiny_benchmark(data, tmp_path, "landmarkgan", steps=4)
    assert main(args) == 130
    captured = capsys.readouterr()
    assert "was stopped while training LandmarkGAN, at step 2 of 4" in captured.err
    assert "run the same command again" in captured.err
    assert "== evaluating" not in captured.out and not (tmp_path / "benchmark.md").exists()
    monkeypatch.undo()
    assert main(args) == 0
    assert "== evaluating LandmarkGAN" in capsys.readouterr().out
    assert load_checkpoint(latest_checkpoint(tmp_path / "runs" / "landmarkgan"))[0].step == 4
