"""Start a run from another model's weights (``train.init``): fine-tuning, or a new stage II on a trained stage I.

Every tensor whose name and shape match is copied. A convolution that reads more input channels than the one it
starts from (a refinement given extra inputs) gets the old channels' weights and zeros for the new ones, so it first
computes what the old network did. Everything else (another output, the discriminators a model folder does not hold)
keeps its fresh initialisation, and the log says how much was carried over.
"""

from __future__ import annotations

import logging
import os

import torch
from torch import nn

from landmarkgan.models.weights import load_weights

log = logging.getLogger(__name__)


def _widened(new: torch.Tensor, old: torch.Tensor) -> bool:
    """Whether the Conv2d weight ``new`` is ``old`` with more input channels (dim 1), every other size equal."""
    return (old.dim() == 4 and new.shape[1] > old.shape[1] and new.shape[0] == old.shape[0]
            and new.shape[2:] == old.shape[2:])


@torch.no_grad()
def init_from(module: nn.Module, path: str | os.PathLike) -> dict[str, list[str]]:
    """Copy the weights at ``path`` (a model or checkpoint folder, or a .safetensors file) into ``module``.

    Returns {"copied", "widened", "fresh"}: the names of the module's tensors copied whole, copied into a wider
    convolution (new input channels zero) and left as initialised.
    """
    old = load_weights(path)
    report: dict[str, list[str]] = {"copied": [], "widened": [], "fresh": []}
    convolutions = {f"{name}.weight" for name, m in module.named_modules() if type(m) is nn.Conv2d}
    for name, tensor in module.state_dict(keep_vars=True).items():
        source = old.get(name)
        if source is not None and source.shape == tensor.shape:
            tensor.copy_(source.to(tensor.dtype))
            report["copied"].append(name)
        elif source is not None and name in convolutions and _widened(tensor, source):
            tensor.zero_()
            tensor[:, : source.shape[1]].copy_(source.to(tensor.dtype))
            report["widened"].append(name)
        else:
            report["fresh"].append(name)
    log.info("initialised from %s: %d tensors copied, %d widened (new input channels zero), %d fresh",
             path, len(report["copied"]), len(report["widened"]), len(report["fresh"]))
    return report
