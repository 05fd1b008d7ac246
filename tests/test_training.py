"""The trainer end to end on synthetic faces: it learns, resumes exactly, stops cleanly, and runs under DDP."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

from landmarkgan.cli import main
from landmarkgan.data.images import load_image
from landmarkgan.data.synthetic import synthesize_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.loading import load_model
from landmarkgan.models.config import ModelConfig
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.training import distributed
from landmarkgan.training.checkpoint import latest_checkpoint, load_checkpoint, load_ema
from landmarkgan.training.config import Config
from landmarkgan.training.ema import WeightAverage
from landmarkgan.training.jitter import similarity_jitter
from landmarkgan.training.photometric import gaussian_blur, photometric_augment
from landmarkgan.training.trainer import NonFiniteLoss, Trainer, lr_factor
from landmarkgan.training.validation import heldout_metrics

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "configs" / "tiny.yaml"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    synthesize_dataset(root, num_identities=30, size=32, intensities=(2, 4), seed=0)
    return root


def tiny(data: Path, out: Path, *overrides: str) -> Config:
    return Config.load(TINY).with_overrides([f"train.data={data}", f"train.out={out}", *overrides])


def test_training_lowers_the_heldout_landmark_and_reconstruction_errors(data: Path, tmp_path: Path) -> None:
    config = tiny(data, tmp_path / "run", "train.max_steps=300", "model.identity_loss=false", "train.heldout_pairs=64")
    trainer = Trainer(config, progress_bar=False)
    before = heldout_metrics(trainer.model, trainer.heldout, trainer.device, max_pairs=64)
    trainer.train()
    after = heldout_metrics(trainer.model, trainer.heldout, trainer.device, max_pairs=64)
    # the untrained Gl predicts the PDM's mean shape; Ge outputs noise around grey
    assert after["landmark_error_px"] < 0.8 * before["landmark_error_px"], (before, after)
    assert after["l1"] < 0.5 * before["l1"], (before, after)
    assert after["psnr"] > before["psnr"] + 6, (before, after)

    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    losses = [r["losses"] for r in records if "losses" in r]
    assert len(losses) == 30 and {"gl/landmark", "ge/reconstruction", "dl/total", "de/total"} <= set(losses[0])
    assert np.mean([r["ge/reconstruction"] for r in losses[-5:]]) < 0.5 * losses[0]["ge/reconstruction"]
    heldout = [r["heldout"] for r in records if "heldout" in r]
    assert len(heldout) == 3  # steps 100, 200, 300
    grid = load_image(run / "samples" / "step_00000300.png")
    assert grid.shape == (4 * 34 + 2, 4 * 34 + 2, 3)  # 4 pairs x (source | landmarks | output | target)
    assert (run / "config.yaml").is_file() and latest_checkpoint(run).name == "step_00000300"


WARP = ("model.generator=warp", "model.stage2_landmark_image=drawn")


def test_the_warp_generator_learns_to_refine_the_warp(data: Path, tmp_path: Path) -> None:
    config = tiny(data, tmp_path / "run", "train.max_steps=300", "model.identity_loss=false",
                  "train.heldout_pairs=64", *WARP)
    trainer = Trainer(config, progress_bar=False)
    before = heldout_metrics(trainer.model, trainer.heldout, trainer.device, max_pairs=64)
    trainer.train()
    after = heldout_metrics(trainer.model, trainer.heldout, trainer.device, max_pairs=64)
    assert after["landmark_error_px"] < 0.8 * before["landmark_error_px"], (before, after)
    assert after["l1"] < 0.6 * before["l1"], (before, after)  # the untrained mask blends in a grey colour image
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    losses = [r["losses"] for r in records if "losses" in r]
    assert {"gl/source_landmark", "ge/colour", "ge/mask"} <= set(losses[0])
    assert np.mean([r["gl/source_landmark"] for r in losses[-5:]]) < 0.7 * losses[0]["gl/source_landmark"]
    grid = load_image(run / "samples" / "step_00000300.png")
    assert grid.shape == (4 * 34 + 2, 5 * 34 + 2, 3)  # source | landmarks | warped | output | target
    # the refinement is used where the warp is wrong, not everywhere and not nowhere
    batch = next(iter(torch.utils.data.DataLoader(trainer.heldout, batch_size=16)))
    trainer.model.eval()
    with torch.no_grad():
        mask = trainer.model.translate_batch(batch)["mask"]
    assert 0.01 < mask.mean() < 0.9


def test_the_palette_refinement_learns(data: Path, tmp_path: Path) -> None:
    """model.refinement_colours=palette trains with the trainer as it is. An untrained palette refinement keeps the
    warped face, so (unlike the free one) its reconstruction loss starts low; what it learns is the part the warp
    gets wrong: the change-weighted loss falls by half in 300 steps (the free refinement's by a tenth, here), and
    it uses its shading and palette layers."""
    config = tiny(data, tmp_path / "run", "train.max_steps=300", "model.identity_loss=false", "train.heldout_pairs=64",
                  *WARP, "model.refinement_colours=palette", "model.lambda_change=10", "train.balance_targets=true")
    trainer = Trainer(config, progress_bar=False)
    trainer.train()
    records = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["losses"] for r in records if "losses" in r]
    assert not {"ge/colour", "ge/mask"} & set(losses[0])
    change = [r["ge/change"] for r in losses]
    assert np.mean(change[-5:]) < 0.7 * np.mean(change[:3]), change
    batch = next(iter(torch.utils.data.DataLoader(trainer.heldout, batch_size=64)))
    trainer.model.eval()
    with torch.no_grad():
        layers = trainer.model.stage2_forward(batch)
    assert (layers["shading"] - 1).abs().amax() > 0.05 and layers["mask"].amax() > 0.2


def test_a_palette_refinement_starts_from_a_trained_model(data: Path, tmp_path: Path) -> None:
    """train.init: a palette run takes a trained free-refinement run's stage I whole and stage II's U-Net where it
    fits; it is saved, so a --resume of it does not read the init folder again."""
    first = tiny(data, tmp_path / "free", "train.max_steps=2", "model.identity_loss=false", *WARP)
    Trainer(first, progress_bar=False).train()
    source = weights_of(tmp_path / "free")
    config = tiny(data, tmp_path / "palette", "train.max_steps=1", "model.identity_loss=false", *WARP,
                  "model.refinement_colours=palette", "model.colour_residual=false",
                  f"train.init={latest_checkpoint(tmp_path / 'free')}")
    trainer = Trainer(config, progress_bar=False)
    state = trainer.model.state_dict()
    gl = [k for k in source if k.startswith("gl.")]
    assert gl and all(torch.equal(state[k], source[k]) for k in gl)
    first_conv = "ge.unet.blocks.0.down.0.weight"
    old = source[first_conv]
    assert torch.equal(state[first_conv][:, : old.shape[1]], old) and not state[first_conv][:, old.shape[1]:].any()
    trainer.train()
    assert Config.load(tmp_path / "palette" / "config.yaml").train.init == config.train.init


def weights_of(run: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run) / "model.safetensors")


@pytest.mark.parametrize("generator", [(), (*WARP, "model.lambda_cls=1", "train.ema=0.9",
                                       "train.stage1_jitter=0.1", "model.refinement_region=features",
                                       "model.refinement_head=4", "train.photometric=0.5")],
                         ids=["unet", "warp-with-classifier-and-weight-average"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(data: Path, tmp_path: Path, generator: tuple) -> None:
    """12 steps straight vs 7 steps, stop, resume to 12: every weight and buffer is bit-identical.
    An epoch has 9 batches here, so the stop falls mid-epoch and the resumed part crosses an epoch."""
    common = ("train.pairs=sample", "train.num_pairs=72", "train.sample_every=5", "train.checkpoint_every=5",
              *generator)
    Trainer(tiny(data, tmp_path / "straight", "train.max_steps=12", *common), progress_bar=False).train()
    Trainer(tiny(data, tmp_path / "stopped", "train.max_steps=7", *common), progress_bar=False).train()
    resumed = Trainer(tiny(data, tmp_path / "stopped", "train.max_steps=12", *common), resume=True, progress_bar=False)
    assert resumed.progress.step == 7 and resumed.progress.epoch == 0 and resumed.progress.batch_in_epoch == 7
    resumed.train()
    straight, again = weights_of(tmp_path / "straight"), weights_of(tmp_path / "stopped")
    assert straight.keys() == again.keys()
    for name in straight:
        assert torch.equal(straight[name], again[name]), name
    # and the optimiser states agree too
    _, _, state_a = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    _, _, state_b = load_checkpoint(latest_checkpoint(tmp_path / "stopped"))
    exp_avg = lambda s: s["optimizers"]["ge"]["state"][0]["exp_avg"]  # noqa: E731
    assert torch.equal(exp_avg(state_a), exp_avg(state_b))
    # and so do the generators' weight averages, which are what the run is used with
    if "train.ema=0.9" in generator:
        average_a, average_b = (load_ema(latest_checkpoint(tmp_path / run)) for run in ("straight", "stopped"))
        assert average_a.keys() == average_b.keys() and int(average_a["ema.updates"]) == 12
        assert all(torch.equal(average_a[k], average_b[k]) for k in average_a)
        used = load_model(tmp_path / "stopped").state_dict()
        assert used.keys() == straight.keys()
        assert all(torch.equal(used[k], average_b[k] if k in average_b else straight[k]) for k in used)
        assert any(not torch.equal(average_b[k], straight[k]) for k in average_b if k.startswith("ge."))


def test_the_weight_average_follows_the_generators_and_can_be_swapped_in() -> None:
    """a <- d a + (1 - d) w with d = min(decay, (1 + t) / (10 + t)); integer buffers are copied; the discriminators
    are not averaged; inside ``applied()`` the model runs with the average and gets its own weights back after."""
    model = LandmarkGAN(ModelConfig(image_size=32, ngf=4, ndf=4, n_layers_D=2, num_intensities=0))
    average = WeightAverage(model, decay=0.99)
    assert {k.split(".")[0] for k in average.average} == {"gl", "ge"}
    name = "ge.unet.blocks.0.down.0.weight"
    start = model.state_dict()[name].clone()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model.ge.unet.blocks[1].down[2].num_batches_tracked.fill_(7)
    average.update()  # t = 0: d = 1 / 10
    assert torch.allclose(average.average[name], 0.1 * start + 0.9 * (start + 1))
    assert int(average.average["ge.unet.blocks.1.down.2.num_batches_tracked"]) == 7
    for _ in range(200):
        average.update()  # d rises to 0.99; the average closes in on the weights, which no longer move
    assert torch.allclose(average.average[name], start + 1, atol=1e-3)
    with torch.no_grad():
        model.ge.unet.blocks[0].down[0].weight.add_(5.0)
    live = model.state_dict()[name].clone()
    with average.applied():
        assert torch.equal(model.state_dict()[name], average.average[name])
    assert torch.equal(model.state_dict()[name], live)


def test_the_learning_rate_falls_linearly_over_the_last_steps(data: Path, tmp_path: Path) -> None:
    assert [lr_factor(s, 10, 4) for s in range(10)] == [1, 1, 1, 1, 1, 1, 1, 0.75, 0.5, 0.25]
    assert lr_factor(3, 10, 0) == 1 and lr_factor(0, 10, 50) == pytest.approx(0.2)
    trainer = Trainer(tiny(data, tmp_path / "run", "train.max_steps=6", "train.lr_decay_steps=4",
                           "model.identity_loss=false", "train.sample_every=6"), progress_bar=False)
    seen = []
    step = trainer.train_step
    trainer.train_step = lambda batch: (seen.append({g["lr"] for o in trainer.optimizers.values() for g in o.param_groups}),
                                        step(batch))[1]
    trainer.train()
    lr = trainer.config.train.lr
    assert seen == [{lr}, {lr}, {lr}, {0.75 * lr}, {0.5 * lr}, {0.25 * lr}]


def test_stage_one_jitter_moves_the_images_and_their_landmarks_together() -> None:
    size, n = 64, 6
    torch.manual_seed(0)
    points = torch.rand(n, 68, 2) * 24 + 20  # pixel coordinates, well inside the image
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")

    def dot(at: torch.Tensor) -> torch.Tensor:  # one bright Gaussian dot at a point, as a (1, 3, S, S) image
        return torch.exp(-((xs - at[0]) ** 2 + (ys - at[1]) ** 2) / 8.0).expand(1, 3, size, size)

    x = torch.cat([dot(p[0]) for p in points])
    batch = {"x": x, "target_landmark_image": x.clone(), "source_landmarks": points, "target_landmarks": points.flip(1),
             "y": torch.zeros(n, 3, size, size), "target_label": torch.arange(n)}
    moved = similarity_jitter(batch, 0.25)
    for k in range(n):  # the dot is drawn where its point went (its intensity-weighted centre)
        w = moved["x"][k, 0]
        centre = torch.stack([(w * xs).sum(), (w * ys).sum()]) / w.sum()
        assert torch.allclose(centre, moved["source_landmarks"][k, 0], atol=0.25), k
    assert (moved["source_landmarks"] - points).norm(dim=-1).mean() > 1.0  # it did move them
    assert torch.equal(moved["target_landmark_image"], moved["x"]) and torch.equal(moved["y"], batch["y"])
    assert torch.allclose(moved["target_landmarks"], moved["source_landmarks"].flip(1), atol=1e-4)  # one move per pair
    still = similarity_jitter(batch, 0.0)
    assert torch.allclose(still["x"], x, atol=1e-5) and torch.allclose(still["source_landmarks"], points, atol=1e-4)


def _photometric_batch(n: int = 4, size: int = 32) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    points = torch.rand(n, 68, 2) * (size / 2) + size / 4
    x = torch.rand(n, 3, size, size) * 1.6 - 0.8
    return {"x": x, "y": x.clone(), "source_landmarks": points, "target_landmarks": points.clone(),
            "target_label": torch.arange(n)}


def test_photometric_augmentation_changes_source_and_target_alike() -> None:
    batch = _photometric_batch()
    torch.manual_seed(1)
    out = photometric_augment(batch, 1.0)
    assert out["x"].shape == batch["x"].shape and out["x"].dtype == batch["x"].dtype
    assert out["x"].abs().max() <= 1 and out["target_label"] is batch["target_label"]
    assert (out["x"] - batch["x"]).abs().mean(dim=(1, 2, 3)).min() > 0.01  # every pair changed
    # where the landmarks do not move (here: anywhere), x and y are changed identically, grain included
    assert torch.allclose(out["x"], out["y"], atol=2e-3)
    kept = photometric_augment(batch, 0.0)
    assert torch.allclose(kept["x"], batch["x"], atol=1e-5) and torch.allclose(kept["y"], batch["y"], atol=1e-5)


def test_photometric_grain_moves_with_the_face() -> None:
    """The target's grain is the source's grain warped along the landmarks: a target whose landmarks are the source's
    shifted right by 3 px carries the same grain shifted by 3 px inside the face."""
    batch = _photometric_batch(n=2, size=64)
    batch["x"] = batch["y"] = torch.zeros(2, 3, 64, 64)
    batch["target_landmarks"] = batch["source_landmarks"] + torch.tensor([3.0, 0.0])
    torch.manual_seed(3)
    out = photometric_augment(batch, 1.0)
    inside = (slice(None), slice(None), slice(26, 38), slice(26, 38))
    shifted = (slice(None), slice(None), slice(26, 38), slice(29, 41))
    grain_x, grain_y = out["x"] - out["x"].mean(dim=(2, 3), keepdim=True), out["y"] - out["y"].mean(dim=(2, 3), keepdim=True)
    moved, unmoved = (grain_y[shifted] - grain_x[inside]).abs().mean(), (grain_y[inside] - grain_x[inside]).abs().mean()
    assert moved < 0.5 * unmoved


def test_gaussian_blur_keeps_a_flat_image_and_spreads_a_dot() -> None:
    flat = torch.full((2, 3, 16, 16), 0.3)
    assert torch.allclose(gaussian_blur(flat, torch.tensor([0.0, 1.5])), flat, atol=1e-6)
    dot = torch.zeros(2, 1, 15, 15)
    dot[:, :, 7, 7] = 1
    blurred = gaussian_blur(dot, torch.tensor([0.0, 1.0]))
    assert torch.allclose(blurred[0], dot[0], atol=1e-6)
    assert torch.isclose(blurred[1].sum(), torch.tensor(1.0), atol=1e-4)
    expected = math.exp(-0.5) / (2 * math.pi)  # the 2-D unit Gaussian, one pixel from the centre (sampled, normalised)
    assert abs(float(blurred[1, 0, 7, 8]) - expected) < 0.02


def test_loader_processes_give_the_same_run(data: Path, tmp_path: Path) -> None:
    """Two persistent loader workers over 12 steps (crossing an epoch) train the same weights as none."""
    common = ("train.pairs=sample", "train.num_pairs=72", "train.max_steps=12", "train.sample_every=12",
              "model.identity_loss=false")
    Trainer(tiny(data, tmp_path / "main", *common), progress_bar=False).train()
    Trainer(tiny(data, tmp_path / "workers", *common, "train.num_workers=2"), progress_bar=False).train()
    main_process, workers = weights_of(tmp_path / "main"), weights_of(tmp_path / "workers")
    assert all(torch.equal(main_process[name], workers[name]) for name in main_process)


def test_each_generator_runs_once_per_iteration(data: Path, tmp_path: Path) -> None:
    """pix2pix's order: one forward pass of Gl and of Ge, judged detached by their discriminators' steps, then
    through the updated discriminators; Gl runs once more, without gradients, for stage II's landmarks (after
    its own update, as stage II trains with Gl fixed)."""
    trainer = Trainer(tiny(data, tmp_path / "run", "model.identity_loss=false"), progress_bar=False)
    calls = {"gl": [], "ge": []}
    for name in calls:
        getattr(trainer.model, name).register_forward_hook(
            lambda module, args, output, name=name: calls[name].append(torch.is_grad_enabled()))
    batch = trainer._to_device(next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=4))))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    logs = trainer.train_step(batch)
    assert calls == {"gl": [True, False], "ge": [True]}
    assert {"dl/total", "gl/total", "de/total", "ge/total"} <= set(logs)
    changed = {k.split(".")[0] for k, v in trainer.model.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])}
    assert {"gl", "dl", "ge", "de"} <= changed  # all four networks took their step


def test_compile_reaches_every_discriminator(data: Path, tmp_path: Path) -> None:
    """train.compile compiles the members of the discriminator lists (a ModuleList has no forward to compile)."""
    from landmarkgan.training.trainer import compiled_modules

    trainer = Trainer(tiny(data, tmp_path / "run", "model.identity_loss=false", "model.lambda_cls=1"), progress_bar=False)
    modules = list(compiled_modules(trainer.networks.values()))
    m = trainer.model
    assert [id(x) for x in modules] == [id(x) for x in (m.gl, *m.dl, m.ge, *m.de, m.dc)]
    assert not any(isinstance(x, torch.nn.ModuleList) for x in modules)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(tiny(data, tmp_path / "run", "train.checkpoint_every=2", "model.identity_loss=false"),
                      progress_bar=False)
    real_loss = trainer.model.stage2_generator_loss
    calls = {"n": 0}

    def poisoned(batch, identity_net=None, out=None):
        calls["n"] += 1
        loss, parts = real_loss(batch, identity_net, out)
        return (loss * float("nan"), parts) if calls["n"] == 5 else (loss, parts)

    trainer.model.stage2_generator_loss = poisoned
    with pytest.raises(NonFiniteLoss, match="the ge loss became nan at step 4"):
        trainer.train()
    assert latest_checkpoint(tmp_path / "run").name == "step_00000004"
    weights = weights_of(tmp_path / "run")
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


def test_cli_train_resume_and_run_folder_guards(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    args = ["train", "--config", str(TINY), "--data", str(data), "--out", str(out), "--max-steps", "3",
            "model.identity_loss=false", "train.log_every=1"]
    assert main(args) == 0
    assert "trained 3 steps" in capsys.readouterr().out
    assert main(args) == 2
    assert "already holds checkpoints; continue it with --resume" in capsys.readouterr().err
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "5", "train.log_every=1"]) == 0
    printed = capsys.readouterr().out  # the options that change the resumed run are listed; one that does not is not
    assert f"resuming {out} with changed settings" in printed and "train.max_steps 3 -> 5" in printed
    assert "log_every" not in printed and "trained 5 steps" in printed
    assert Config.load(out / "config.yaml").train.max_steps == 5
    assert main(["train", "--out", str(out), "--resume", "--max-steps", "6", "model.ngf=16"]) == 2
    assert "cannot change: model.ngf 8 -> 16; drop those options" in capsys.readouterr().err
    assert latest_checkpoint(out).name == "step_00000005"
    assert main(["train", "--resume", "--config", str(TINY), "--out", str(out)]) == 2
    assert "drop --config" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "nothing")]) == 2
    assert "holds no config.yaml" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(data), "--out", str(tmp_path / "r3"), "train.lr=abc"]) == 2
    assert "train.lr must be a number" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(data), "--out", str(tmp_path / "r4"), "train.ema=1"]) == 2
    assert "train.ema is the weight average's decay, in [0, 1)" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(data), "--out", str(tmp_path / "r5"),
                 "train.lr_decay_steps=-5"]) == 2
    assert "train.lr_decay_steps must be 0" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(data), "--out", str(tmp_path / "r6"),
                 "train.stage1_jitter=0.5"]) == 2
    assert "train.stage1_jitter is the size of stage I's random moves" in capsys.readouterr().err
    assert main(["train", "--config", str(TINY), "--data", str(data), "--out", str(tmp_path / "r7"),
                 "train.photometric=1.5"]) == 2
    assert "train.photometric is the share of stage II's pairs" in capsys.readouterr().err


def test_sigterm_saves_a_checkpoint_and_the_run_resumes(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "landmarkgan", "train", "--config", str(TINY), "--data", str(data),
               "--out", str(out), "--max-steps", "100000", "model.identity_loss=false", "train.log_every=1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (out / "train_log.jsonl").is_file() and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output
    assert "stopped early" in output
    assert f"continue with: landmarkgan train --out {out} --resume" in output
    progress, _, _ = load_checkpoint(latest_checkpoint(out))
    assert 0 < progress.step < 100000
    resumed = Trainer(Config.load(out / "config.yaml").with_overrides([f"train.max_steps={progress.step + 2}"]),
                      resume=True, progress_bar=False)
    assert resumed.train().step == progress.step + 2


DDP_WORKER = '''
import sys, torch
from safetensors.torch import save_file
from landmarkgan.training.config import Config
from landmarkgan.training.trainer import Trainer
config = Config.load(sys.argv[1]).with_overrides(sys.argv[3:])
trainer = Trainer(config, progress_bar=False)
before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
trainer.train()
rank = trainer.dist.rank
grads = {f"grad.{n}": p.grad for n, p in trainer.model.ge.named_parameters() if p.grad is not None}
save_file({**{k: v.contiguous() for k, v in trainer.model.state_dict().items()},
           **{f"before.{k}": v.contiguous() for k, v in before.items()}, **grads}, f"{sys.argv[2]}/rank{rank}.safetensors")
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_keeps_ranks_identical(data: Path, tmp_path: Path) -> None:
    """torchrun, gloo, 2 CPU processes: after training, every weight (the expression classifier Dc's too), buffer
    and Ge gradient is the same on both."""
    worker = tmp_path / "worker.py"
    worker.write_text(DDP_WORKER)
    config = tmp_path / "config.yaml"
    tiny(data, tmp_path / "run", "train.max_steps=4", "model.identity_loss=false", "model.lambda_cls=1",
         "train.device=cpu").save(config)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", str(worker),
         str(config), str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert r0.keys() == r1.keys()
    for name in r0:
        if not name.startswith("before."):
            assert torch.equal(r0[name], r1[name]), name
    assert any(k.startswith("grad.") for k in r0) and any(k.startswith("dc.") for k in r0)
    moved = [k for k in r0 if not k.startswith(("before.", "grad.")) and r0[k].is_floating_point()
             and not torch.equal(r0[k], r0[f"before.{k}"])]
    assert moved, "training changed no weight"
    assert latest_checkpoint(tmp_path / "run").name == "step_00000004"  # rank 0 wrote the checkpoint


def test_one_process_under_torchrun_still_runs_ddp(data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torchrun --nproc_per_node=1 (a machine with one GPU) sets WORLD_SIZE=1: the process group and DDP are used all
    the same, so one GPU runs the NCCL path; the CLI leaves the process group when training ends."""
    environment = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                   "MASTER_PORT": str(free_port())}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "run"
    trainer = Trainer(tiny(data, out, "train.max_steps=2", "model.identity_loss=false", "train.device=cpu"),
                      progress_bar=False)
    try:
        assert trainer.dist.enabled and trainer.dist.world_size == 1
        assert torch.distributed.get_backend() == "gloo"
        assert all(isinstance(step, DistributedDataParallel) for step in trainer.steps.values())
    finally:
        distributed.shutdown(trainer.dist)
    assert not torch.distributed.is_initialized()
    config = tmp_path / "config.yaml"
    tiny(data, out, "model.identity_loss=false").save(config)
    assert main(["train", "--config", str(config), "--max-steps", "2", "--device", "cpu"]) == 0
    assert not torch.distributed.is_initialized()
    assert latest_checkpoint(out).name == "step_00000002"


def test_bad_training_set_ups_are_named(data: Path, tmp_path: Path) -> None:
    with pytest.raises(LandmarkGANError, match="no training data"):
        Trainer(Config.load(TINY))
    with pytest.raises(LandmarkGANError, match="fewer than one batch"):
        Trainer(tiny(data, tmp_path / "r", "train.batch_size=100000"))
    with pytest.raises(LandmarkGANError, match="no GPU is visible") if not torch.cuda.is_available() else _nothing():
        Trainer(tiny(data, tmp_path / "r2", "train.device=cuda"))


class _nothing:
    def __enter__(self) -> None: ...
    def __exit__(self, *exc: object) -> None: ...


@pytest.mark.parametrize("source", ["none", "ground_truth"])
def test_baselines_train_with_the_same_trainer(data: Path, tmp_path: Path, source: str) -> None:
    trainer = Trainer(tiny(data, tmp_path / source, "train.max_steps=3", f"model.landmark_source={source}",
                           "model.identity_loss=false", "train.sample_every=3"), progress_bar=False)
    assert set(trainer.optimizers) == {"ge", "de"}
    before = {k: v.clone() for k, v in trainer.model.ge.state_dict().items()}
    trainer.train()
    assert any(not torch.equal(v, trainer.model.ge.state_dict()[k]) for k, v in before.items())
    assert (tmp_path / source / "samples" / "step_00000003.png").is_file()


def test_cached_target_identity_equals_a_fresh_one(data: Path, tmp_path: Path) -> None:
    """F(y) is computed once per image and reused: the cached features and the Ge loss are those of a fresh F(y)."""
    trainer = Trainer(tiny(data, tmp_path / "run", "train.max_steps=1"), progress_bar=False)
    loader = torch.utils.data.DataLoader(trainer.dataset, batch_size=4, shuffle=False)
    batch = trainer._to_device(next(iter(loader)))
    cached = trainer._target_identity(batch)
    assert set(trainer._identity_cache) == set(batch["target_index"].tolist())
    with torch.no_grad():
        fresh = trainer.identity_net(batch["y"])
        assert torch.allclose(cached, fresh, atol=1e-6)
        assert torch.equal(trainer._target_identity(batch), cached)  # the second call reads the cache
        torch.manual_seed(0)
        with_cache, _ = trainer.model.stage2_generator_loss({**batch, "target_identity": cached}, trainer.identity_net)
        torch.manual_seed(0)
        without, _ = trainer.model.stage2_generator_loss(batch, trainer.identity_net)
    assert torch.allclose(with_cache, without, atol=1e-6)
