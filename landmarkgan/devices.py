"""Turning a device name from the command line or a config into a usable torch.device."""

from __future__ import annotations

import torch

from landmarkgan.errors import LandmarkGANError


def resolve_device(name: str | torch.device, local_rank: int = 0, option: str = "--device") -> torch.device:
    """``"auto"`` (CUDA when visible, else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; a bare ``"cuda"``
    means this process's GPU, ``cuda:<local_rank>``. ``option`` names the setting in error messages."""
    fix = f"{option}=cpu" if "." in option else f"{option} cpu"  # train.device=cpu, --device cpu
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise LandmarkGANError(f"unknown device {name!r} in {option} ({e}); use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LandmarkGANError(f"{option} asks for CUDA but no GPU is visible; use {fix}")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device
