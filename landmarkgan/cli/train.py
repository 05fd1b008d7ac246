"""``landmarkgan train``: train LandmarkGAN from a config file (one process, or many under torchrun)."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from landmarkgan.errors import LandmarkGANError, TrainingStopped

if TYPE_CHECKING:
    from landmarkgan.training.config import Config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a LandmarkGAN model",
        description="Train LandmarkGAN end to end (stage I Gl/Dl and stage II Ge/De, alternating). "
        "Multi-GPU: torchrun --nproc_per_node=N -m landmarkgan train ...",
    )
    p.add_argument("--config", help="YAML config with 'model' and 'train' sections (default: the paper's settings)")
    p.add_argument("--data", help="data folder with manifest.jsonl (overrides train.data)")
    p.add_argument("--out", help="run folder for checkpoints, samples and logs (overrides train.out)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest checkpoint, with its saved config; train options "
                   "given too (e.g. --max-steps) change it, and are listed; model options cannot change")
    p.add_argument("--device", help="cpu, cuda, cuda:1 or auto (overrides train.device)")
    p.add_argument("--epochs", type=int, help="overrides train.epochs")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (overrides train.max_steps)")
    p.add_argument("--batch-size", type=int, help="overrides train.batch_size")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="any option, e.g. model.ngf=32 train.lr=1e-4")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.training import distributed
    from landmarkgan.training.config import Config
    from landmarkgan.training.trainer import Trainer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    overrides = list(args.overrides)
    for flag, key in (("data", "data"), ("out", "out"), ("device", "device"), ("epochs", "epochs"),
                      ("max_steps", "max_steps"), ("batch_size", "batch_size")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"train.{key}={value}")
    if args.resume:
        config, changes = _resumed_config(args.out, args.config, overrides)
    else:
        config, changes = (Config.load(args.config) if args.config else Config()).with_overrides(overrides), {}
    trainer = Trainer(config, resume=args.resume)
    if changes and trainer.dist.is_main:
        print(f"resuming {args.out} with changed settings (its config.yaml records them from the next checkpoint on): "
              + ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items()))
    try:
        progress = trainer.train()
    finally:
        distributed.shutdown(trainer.dist)
    if trainer.stopped_early:
        raise TrainingStopped(f"stopped at step {progress.step}, its checkpoint saved; continue with: "
                              f"landmarkgan train --out {config.train.out} --resume")
    if trainer.dist.is_main:
        print(f"trained {progress.step} steps; run folder: {config.train.out}")
    return 0


def _resumed_config(out: str | None, config_file: str | None,
                    overrides: list[str]) -> tuple[Config, dict[str, tuple[object, object]]]:
    """The config of the run in ``out`` with ``overrides`` applied, and what they change (``"section.key" -> (old,
    new)``, the run folder itself left out); a change to the model, which its checkpoints fix, is refused."""
    from pathlib import Path

    from landmarkgan.training.config import Config

    if config_file:
        raise LandmarkGANError("--resume continues with the config saved in the run folder; drop --config")
    if not out:
        raise LandmarkGANError("--resume needs --out RUN_FOLDER, the folder of the run to continue")
    saved_file = Path(out) / "config.yaml"
    if not saved_file.is_file():
        raise LandmarkGANError(f"--resume: {out} holds no config.yaml; is it a landmarkgan run folder?")
    saved = Config.load(saved_file)
    config = saved.with_overrides(overrides)
    changes = {key: values for key, values in saved.changes_to(config).items() if key != "train.out"}
    fixed = [f"{key} {old!r} -> {new!r}" for key, (old, new) in changes.items() if key.startswith("model.")]
    if fixed:
        raise LandmarkGANError(
            f"--resume continues the model in {out}'s checkpoints, which cannot change: {', '.join(fixed)}; drop "
            "those options, or train that model as a new run (another --out)")
    return config, changes
