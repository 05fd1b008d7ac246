"""Export for deployment: both generators as one TorchScript or ONNX graph, checked against eager PyTorch.

The exported graph maps ``x`` (B, 3, S, S) in [-1, 1] and ``labels`` (B, L), the label vector
``[one-hot expression (K), one-hot intensity (levels, all zero for none)]``, to ``image`` (B, 3, S, S)
in [-1, 1], ``landmarks`` (B, 68, 2) in pixels and ``landmark_image`` (B, 3, S, S). A warp-generator model can be
exported at a refinement strength below 1 (see :func:`~landmarkgan.models.generators.blend_refinement`), fixed in the
graph. A JSON file beside it lists the expressions, the intensity levels, the input size and that strength, so the
graph can be used without this package.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.generators import blend_refinement, check_refinement
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.pdm import to_pixels

FORMATS = ("torchscript", "onnx")
OUTPUT_NAMES = ("image", "landmarks", "landmark_image")


class Translator(nn.Module):
    """Gl then Ge on a precomputed label vector: the whole translation as one graph, at a fixed refinement strength."""

    def __init__(self, model: LandmarkGAN, refinement: float = 1.0) -> None:
        super().__init__()
        check_refinement(model.config, refinement)
        self.gl, self.ge = model.gl, model.ge
        self.image_size = model.config.image_size
        self.refinement = refinement

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        landmarks = self.gl(x, labels)
        out = self.ge(x, landmarks, labels)
        image = blend_refinement(out, self.refinement)
        return image, to_pixels(landmarks.points, self.image_size), out["landmark_image"]


def example_inputs(model: LandmarkGAN, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random face batch and valid label vectors for tracing and checking."""
    g = torch.Generator().manual_seed(seed)
    c = model.config
    x = torch.rand(batch, c.input_nc, c.image_size, c.image_size, generator=g) * 2 - 1
    labels = torch.zeros(batch, c.num_labels)
    labels[torch.arange(batch), torch.arange(batch) % c.num_expressions] = 1
    if c.num_intensities:
        labels[torch.arange(batch), c.num_expressions + torch.arange(batch) % c.num_intensities] = 1
    return x, labels


def export_model(model: LandmarkGAN, path: str | os.PathLike, fmt: str = "torchscript",
                 refinement: float = 1.0) -> tuple[Path, float]:
    """Export ``model`` to ``path`` (plus ``path.json``) with its refinement strength fixed at ``refinement``;
    returns the path and the largest difference from eager PyTorch on a check batch (of another size than the
    traced one). The export is traced on the CPU: a model on a GPU is copied there and stays where it is."""
    if fmt not in FORMATS:
        raise LandmarkGANError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if next(model.parameters()).device.type != "cpu":
        model = copy.deepcopy(model).cpu()
    translator = Translator(model.eval(), refinement).eval()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = example_inputs(model, batch=2)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about the input checks, deprecation notices
        if fmt == "torchscript":
            torch.jit.trace(translator, inputs).save(str(path))
        else:
            try:
                import onnx  # noqa: F401
            except ImportError:
                raise LandmarkGANError("ONNX export needs the onnx package: pip install 'landmarkgan[onnx]'") from None
            torch.onnx.export(translator, inputs, str(path), input_names=["x", "labels"], output_names=list(OUTPUT_NAMES),
                              dynamic_axes={name: {0: "batch"} for name in ("x", "labels", *OUTPUT_NAMES)},
                              dynamo=False)
    c = model.config
    path.with_suffix(path.suffix + ".json").write_text(json.dumps({
        "format": fmt, "inputs": {"x": [None, c.input_nc, c.image_size, c.image_size], "labels": [None, c.num_labels]},
        "outputs": list(OUTPUT_NAMES), "expressions": c.expressions, "intensity_levels": c.num_intensities,
        "labels": "one-hot expression, then one-hot intensity level 1..N (all zero: none)",
        "range": "images in [-1, 1]; landmarks in pixels, pixel centres at integers",
        "refinement": refinement,
    }, indent=1))
    return path, check_export(model, path, fmt, refinement)


def run_exported(path: str | os.PathLike, fmt: str, x: torch.Tensor, labels: torch.Tensor) -> list[np.ndarray]:
    """Run an exported file: TorchScript with torch, ONNX with onnxruntime."""
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [t.numpy() for t in torch.jit.load(str(path))(x, labels)]
    try:
        import onnxruntime
    except ImportError:
        raise LandmarkGANError("running an ONNX file needs onnxruntime: pip install 'landmarkgan[onnx]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.numpy(), "labels": labels.numpy()})


def check_export(model: LandmarkGAN, path: str | os.PathLike, fmt: str, refinement: float = 1.0) -> float:
    """Largest absolute difference between eager PyTorch (at ``refinement``) and the exported file on a batch of 3."""
    x, labels = example_inputs(model, batch=3, seed=1)
    with torch.no_grad():
        reference = Translator(model.cpu().eval(), refinement)(x, labels)
    outputs = run_exported(path, fmt, x, labels)
    return max(float(np.abs(o - r.numpy()).max()) for o, r in zip(outputs, reference))
