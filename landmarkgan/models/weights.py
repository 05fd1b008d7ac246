"""Weights on disk: safetensors files, written atomically and read without unpickling anything."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from landmarkgan.errors import LandmarkGANError

WEIGHTS_NAME = "model.safetensors"


def save_weights(tensors: dict[str, torch.Tensor], path: str | os.PathLike) -> Path:
    """Write ``tensors`` to a safetensors file under a temporary name, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(partial))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(partial, 0o666 & ~umask)  # safetensors creates files private; give them the usual permissions
    os.replace(partial, path)
    return path


def load_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a safetensors weights file, or the ``model.safetensors`` inside a model or checkpoint folder."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_NAME
    if not path.is_file():
        raise LandmarkGANError(f"no weights file {path}; is this a landmarkgan model or checkpoint folder?")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise LandmarkGANError(f"weights file {path} is truncated or corrupt ({e}); use an earlier checkpoint") from None


def load_into(module: nn.Module, state: dict[str, torch.Tensor], source: str | os.PathLike,
              optional: tuple[str, ...] = ()) -> None:
    """Load ``state`` into ``module``; keys starting with an ``optional`` prefix may be absent.

    Weights of another architecture or size give a clear error naming ``source``, never a torch traceback.
    """
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches
        detail = str(e).strip().splitlines()[-1].strip()
        raise LandmarkGANError(
            f"the weights in {source} do not fit this model's config ({detail}); the folder is damaged or mixes two models"
        ) from None
    missing = [k for k in missing if not k.startswith(optional)] if optional else missing
    if missing or unexpected:
        raise LandmarkGANError(
            f"the weights in {source} do not fit this model's config (missing {missing[:3]}, unexpected "
            f"{unexpected[:3]}); the folder is damaged or mixes two models"
        )
