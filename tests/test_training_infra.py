"""Config files, atomic checkpoints and the resumable sampler (no model needed)."""

from __future__ import annotations

import pytest
import torch

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.weights import load_weights
from landmarkgan.training.checkpoint import Progress, latest_checkpoint, load_checkpoint, save_checkpoint
from landmarkgan.training.config import Config
from landmarkgan.training.sampler import ResumableSampler


def test_config_defaults_are_the_papers():
    c = Config()
    assert (c.train.lr, c.train.beta1, c.train.beta2, c.train.batch_size, c.train.epochs) == (2e-4, 0.5, 0.999, 1, 200)
    assert (c.model.lambda1, c.model.lambda2, c.model.lambda3) == (2.0, 100.0, 0.1)
    assert c.model.image_size == 256 and c.model.ngf == 64 and c.model.ndf == 64


def test_yaml_words_that_look_like_booleans_or_strings(tmp_path):
    c = Config().with_overrides(["train.amp=off", "train.lr=1e-4", "train.beta1=0"])
    assert c.train.amp == "off" and c.train.lr == 1e-4 and c.train.beta1 == 0.0
    (tmp_path / "c.yaml").write_text("train:\n  amp: off\n  lr: 2e-4\n")
    assert Config.load(tmp_path / "c.yaml").train.amp == "off"


def test_config_round_trip_and_overrides(tmp_path):
    c = Config().with_overrides(["train.lr=1e-4", "model.ngf=16", "train.max_steps=7", "model.recon_loss=l1"])
    assert c.train.lr == 1e-4 and c.model.ngf == 16 and c.train.max_steps == 7 and c.model.recon_loss == "l1"
    path = c.save(tmp_path / "c.yaml")
    assert Config.load(path).to_dict() == c.to_dict()


@pytest.mark.parametrize(
    "override, words",
    [("train.nope=1", "unknown option"), ("lr=1", "model.KEY=VALUE"), ("train.amp=fp8", "amp"), ("train.batch_size=0", "batch_size"), ("train.cache_mb=-1", "cache_mb")],
)
def test_bad_overrides_are_named(override, words):
    with pytest.raises(LandmarkGANError, match=words):
        Config().with_overrides([override])


def test_a_run_config_of_an_earlier_version_loads_without_its_removed_options(tmp_path):
    """train.image_size was never read: a saved run config holding it unset loads; one that set it is refused."""
    saved = Config().to_dict()
    saved["train"]["image_size"] = None
    assert Config.from_dict(saved).to_dict() == Config().to_dict()
    saved["train"]["image_size"] = 128
    with pytest.raises(LandmarkGANError, match="train.image_size=128: landmarkgan no longer has this option"):
        Config.from_dict(saved)


def test_num_pairs_without_a_sample_is_refused():
    with pytest.raises(LandmarkGANError, match="train.num_pairs=10 would do nothing"):
        Config().with_overrides(["train.num_pairs=10"])
    assert Config().with_overrides(["train.pairs=sample", "train.num_pairs=10"]).train.num_pairs == 10


def test_bad_config_files(tmp_path):
    with pytest.raises(LandmarkGANError, match="does not exist"):
        Config.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed")
    with pytest.raises(LandmarkGANError, match="not valid YAML"):
        Config.load(bad)
    bad.write_text("optim: {}\n")
    with pytest.raises(LandmarkGANError, match="unknown config section"):
        Config.load(bad)


def _save(tmp_path, step, keep=2):
    weights = {"a.weight": torch.full((2, 3), float(step)), "b": torch.arange(4)}
    state = {"optimizers": {"gl": {"state": {}, "param_groups": []}}, "rng_cpu": torch.get_rng_state()}
    return save_checkpoint(tmp_path, Progress(step=step, epoch=1, batch_in_epoch=step % 5), weights, state, "model: {}\n", keep=keep)


def test_checkpoint_round_trip_latest_and_pruning(tmp_path):
    for step in (10, 20, 30):
        _save(tmp_path, step)
    ckpts = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*"))
    assert ckpts == ["step_00000020", "step_00000030"]
    latest = latest_checkpoint(tmp_path)
    assert latest.name == "step_00000030"
    progress, weights, state = load_checkpoint(latest)
    assert progress == Progress(step=30, epoch=1, batch_in_epoch=0)
    assert torch.equal(weights["a.weight"], torch.full((2, 3), 30.0)) and torch.equal(weights["b"], torch.arange(4))
    assert torch.equal(state["rng_cpu"], torch.get_rng_state())
    assert not list((tmp_path / "checkpoints").glob(".tmp_*"))


def test_half_written_checkpoint_is_ignored(tmp_path):
    _save(tmp_path, 10)
    # A run killed while writing step 20 leaves only a temporary folder behind.
    (tmp_path / "checkpoints" / ".tmp_step_00000020").mkdir()
    assert latest_checkpoint(tmp_path).name == "step_00000010"
    assert latest_checkpoint(tmp_path / "nothing-here") is None


def test_truncated_checkpoint_gives_clear_error(tmp_path):
    path = _save(tmp_path, 10)
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(LandmarkGANError, match="truncated or corrupt"):
        load_weights(path)
    with pytest.raises(LandmarkGANError, match="no weights file"):
        load_weights(tmp_path)
    path = _save(tmp_path, 20)
    state = path / "training_state.pt"
    state.write_bytes(state.read_bytes()[:30])
    with pytest.raises(LandmarkGANError, match="training_state.pt"):
        load_checkpoint(path)


def test_sampler_resumes_where_it_stopped_and_shards_ranks():
    full = list(ResumableSampler(10, batch_size=2, seed=3))
    assert sorted(full) == list(range(10))
    resumed = ResumableSampler(10, batch_size=2, seed=3)
    resumed.set_position(0, start_batch=2)
    assert list(resumed) == full[4:] and len(resumed) == 6
    other_epoch = ResumableSampler(10, batch_size=2, seed=3)
    other_epoch.set_position(1, 0)
    assert list(other_epoch) != full
    r0, r1 = (list(ResumableSampler(9, batch_size=1, seed=0, rank=r, world_size=2)) for r in (0, 1))
    assert len(r0) == len(r1) == 5 and set(r0) | set(r1) == set(range(9))
