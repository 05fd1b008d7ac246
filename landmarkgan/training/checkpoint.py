"""Checkpoints that survive a kill: each is a folder written under a temporary name and renamed.

A checkpoint folder ``step_00001234/`` holds ``model.safetensors`` (every network and the PDM),
``training_state.pt`` (optimiser and grad-scaler states and RNG states, plain tensors loaded with
``weights_only=True``), ``progress.json`` (step, epoch, position in the epoch) and
``config.yaml``, and with ``train.ema`` on, ``ema.safetensors`` (the generators' averaged weights, the ones a
finished run is used with). A ``latest`` file names the newest complete one. The model weights and config
alone are a model folder that ``LandmarkGAN`` loading code can read.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.weights import WEIGHTS_NAME, load_weights, save_weights

STATE_NAME = "training_state.pt"
PROGRESS_NAME = "progress.json"
CONFIG_NAME = "config.yaml"
LATEST_NAME = "latest"
EMA_NAME = "ema.safetensors"


@dataclass
class Progress:
    """Where training stands: optimiser steps done, current epoch and batches done within it."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


def save_checkpoint(
    run_dir: str | os.PathLike,
    progress: Progress,
    weights: dict[str, torch.Tensor],
    training_state: dict,
    config_yaml: str,
    keep: int = 3,
    ema: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (with the ``ema`` weights, if given), point ``latest`` at it and prune
    old ones."""
    ckpt_root = Path(run_dir) / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step_{progress.step:08d}"
    tmp = ckpt_root / f".tmp_{final.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_weights(weights, tmp / WEIGHTS_NAME)
    if ema is not None:
        save_weights(ema, tmp / EMA_NAME)
    torch.save(training_state, tmp / STATE_NAME)
    (tmp / PROGRESS_NAME).write_text(json.dumps(progress.__dict__))
    (tmp / CONFIG_NAME).write_text(config_yaml)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    latest_tmp = ckpt_root / f".{LATEST_NAME}.tmp"
    latest_tmp.write_text(final.name)
    os.replace(latest_tmp, ckpt_root / LATEST_NAME)
    for old in sorted(ckpt_root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of a run folder, or None if it has none."""
    ckpt_root = Path(run_dir) / "checkpoints"
    pointer = ckpt_root / LATEST_NAME
    if pointer.is_file():
        candidate = ckpt_root / pointer.read_text().strip()
        if (candidate / PROGRESS_NAME).is_file():
            return candidate
    complete = [p for p in sorted(ckpt_root.glob("step_*")) if (p / PROGRESS_NAME).is_file()]
    return complete[-1] if complete else None


def load_checkpoint(path: str | os.PathLike) -> tuple[Progress, dict[str, torch.Tensor], dict]:
    """Read a checkpoint folder: (progress, model weights, training state)."""
    path = Path(path)
    return read_progress(path), load_weights(path), load_training_state(path)


def load_ema(path: str | os.PathLike) -> dict[str, torch.Tensor] | None:
    """The averaged weights of a checkpoint folder (see ``training.ema``), or None if it has none."""
    file = Path(path) / EMA_NAME
    return load_weights(file) if file.is_file() else None


def read_progress(path: str | os.PathLike) -> Progress:
    """The progress (step, epoch, batch) of a checkpoint folder."""
    path = Path(path)
    if not path.is_dir():
        raise LandmarkGANError(f"checkpoint folder {path} does not exist")
    try:
        return Progress(**json.loads((path / PROGRESS_NAME).read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise LandmarkGANError(f"checkpoint {path} has no readable {PROGRESS_NAME} ({e}); use an earlier checkpoint") from None


def load_training_state(path: str | os.PathLike) -> dict:
    """The optimiser, grad-scaler and RNG states of a checkpoint folder (plain tensors; nothing is unpickled)."""
    file = Path(path) / STATE_NAME
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # what weights_only=True raises for anything but tensors and plain containers
        raise LandmarkGANError(
            f"{file} holds Python objects other than tensors, so it was not written by landmarkgan and is not "
            "loaded (loading it could run code); use an earlier checkpoint"
        ) from None
    except Exception as e:  # torch raises many types for a damaged file
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LandmarkGANError(f"{file} is truncated or corrupt ({detail}); use an earlier checkpoint") from None
