"""A Keras 2 functional model saved as HDF5, read with h5py and run in PyTorch (no TensorFlow).

Keras stores the graph as JSON (the file's ``model_config`` attribute: each layer's class, config and the
layers feeding it) and the weights per layer under ``model_weights/<layer>/``, listed in the layer group's
``weight_names`` attribute. :func:`read_keras_model` rebuilds the graph from those, for the layers an
Xception-style image classifier uses, with Keras's own semantics:

* images are channels-last in Keras and NCHW here: kernels (kh, kw, in, out) become (out, in, kh, kw);
* ``padding="same"`` pads as TensorFlow does, the odd pixel after (right, bottom), and max pooling's padding
  never wins the maximum; ``"valid"`` pads nothing;
* ``SeparableConv2D`` is a depthwise convolution (kernel (kh, kw, in, multiplier), output channel
  ``c * multiplier + m``) followed by a 1 x 1 pointwise one, then the bias and the activation;
* ``BatchNormalization`` at inference: ``(x - moving_mean) / sqrt(moving_variance + epsilon) * gamma + beta``,
  ``gamma`` / ``beta`` absent when the layer was saved with ``scale`` / ``center`` off;
* ``GlobalAveragePooling2D`` averages over the image; softmax is taken over the channels.

Any other layer, or a feature of these it does not implement (dilation, channels-first data), is refused with
its name, never run wrongly. h5py is an optional dependency (``pip install landmarkgan[photos]``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.errors import LandmarkGANError

ACTIVATIONS = ("linear", "relu", "softmax")


@dataclass(frozen=True)
class KerasLayer:
    """One layer of the saved graph: its name, Keras class, config and the names of the layers feeding it."""

    name: str
    kind: str
    config: dict
    inputs: tuple[str, ...]


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of one spatial axis: (before, after), the odd pixel after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad(x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], padding: str,
         value: float = 0.0) -> torch.Tensor:
    if padding == "valid":
        return x
    top, bottom = _same_padding(x.shape[2], kernel[0], stride[0])
    left, right = _same_padding(x.shape[3], kernel[1], stride[1])
    return F.pad(x, (left, right, top, bottom), value=value)


def _activate(x: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "relu":
        return torch.relu(x)
    if activation == "softmax":
        return torch.softmax(x, dim=1)  # Keras's last axis: the channels (NCHW's 1, or a (N, C) vector's)
    return x


def _kernel(array: np.ndarray) -> torch.Tensor:
    """A Keras kernel (kh, kw, in, out) as PyTorch's (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(3, 2, 0, 1)))


def _depthwise_kernel(array: np.ndarray) -> torch.Tensor:
    """A Keras depthwise kernel (kh, kw, in, multiplier) as PyTorch's grouped (in * multiplier, 1, kh, kw)."""
    kh, kw, channels, multiplier = array.shape
    return torch.from_numpy(np.ascontiguousarray(array.reshape(kh, kw, channels * multiplier).transpose(2, 0, 1)))[
        :, None]


class _Conv(nn.Module):
    """Conv2D, or SeparableConv2D when given a depthwise kernel (then ``weight`` is the pointwise one)."""

    def __init__(self, config: dict, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.stride = tuple(config["strides"])
        self.padding = config["padding"]
        self.activation = config["activation"]
        separable = "depthwise_kernel" in weights
        self.kernel_size = tuple(config["kernel_size"])
        self.register_buffer("depthwise", _depthwise_kernel(weights["depthwise_kernel"]) if separable else None)
        self.register_buffer("weight", _kernel(weights["pointwise_kernel" if separable else "kernel"]))
        self.register_buffer("bias", torch.from_numpy(weights["bias"]) if "bias" in weights else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad(x, self.kernel_size, self.stride, self.padding)
        if self.depthwise is not None:
            x = F.conv2d(x, self.depthwise, stride=self.stride, groups=x.shape[1])
            x = F.conv2d(x, self.weight)
        else:
            x = F.conv2d(x, self.weight, stride=self.stride)
        if self.bias is not None:
            x = x + self.bias[:, None, None]
        return _activate(x, self.activation)


class _BatchNorm(nn.Module):
    def __init__(self, config: dict, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        mean, variance = weights["moving_mean"], weights["moving_variance"]
        self.register_buffer("mean", torch.from_numpy(mean))
        self.register_buffer("inverse", torch.from_numpy(1 / np.sqrt(variance + np.float32(config["epsilon"]))))
        self.register_buffer("gamma", torch.from_numpy(weights.get("gamma", np.ones_like(mean))))
        self.register_buffer("beta", torch.from_numpy(weights.get("beta", np.zeros_like(mean))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def channels(v: torch.Tensor) -> torch.Tensor:
            return v[:, None, None]

        return (x - channels(self.mean)) * channels(self.inverse) * channels(self.gamma) + channels(self.beta)


class _MaxPool(nn.Module):
    def __init__(self, config: dict, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.pool_size = tuple(config["pool_size"])
        self.stride = tuple(config["strides"] or config["pool_size"])
        self.padding = config["padding"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _pad(x, self.pool_size, self.stride, self.padding, value=-math.inf)
        return F.max_pool2d(x, self.pool_size, self.stride)


class _Activation(nn.Module):
    def __init__(self, config: dict, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.activation = config["activation"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _activate(x, self.activation)


class _GlobalAveragePool(nn.Module):
    def __init__(self, config: dict, weights: dict[str, np.ndarray]) -> None:
        super().__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


LAYERS: dict[str, type[nn.Module] | None] = {
    "InputLayer": None,
    "Add": None,
    "Conv2D": _Conv,
    "SeparableConv2D": _Conv,
    "BatchNormalization": _BatchNorm,
    "MaxPooling2D": _MaxPool,
    "Activation": _Activation,
    "GlobalAveragePooling2D": _GlobalAveragePool,
}


class KerasModel(nn.Module):
    """A Keras functional graph of one input and one output, run on NCHW tensors."""

    def __init__(self, layers: list[KerasLayer], modules: dict[str, nn.Module], output: str,
                 input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.graph = layers
        self.output = output
        self.input_shape = input_shape  # (C, H, W)
        self.layers = nn.ModuleDict(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {}
        for layer in self.graph:
            if layer.kind == "InputLayer":
                values[layer.name] = x
            elif layer.kind == "Add":
                values[layer.name] = torch.stack([values[name] for name in layer.inputs]).sum(dim=0)
            else:
                values[layer.name] = self.layers[layer.name](values[layer.inputs[0]])
        return values[self.output]


def read_keras_model(path: str | os.PathLike) -> KerasModel:
    """The Keras model saved in the HDF5 file ``path``, as a PyTorch module in eval mode; a clear error when the file
    is missing, is not a Keras model file or holds a layer this reader does not implement."""
    path = Path(path)
    if not path.is_file():
        raise LandmarkGANError(f"no Keras model file {path}")
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as file:
            if "model_config" not in file.attrs or "model_weights" not in file:
                raise LandmarkGANError(f"{path} is an HDF5 file but not a Keras model saved with its graph "
                                       "(model.save); it has no model_config or model_weights")
            config = json.loads(_text(file.attrs["model_config"]))
            layers, output = _graph(config, path)
            modules = {layer.name: _module(layer, file["model_weights"], path)
                       for layer in layers if LAYERS[layer.kind] is not None}
    except OSError as error:
        raise LandmarkGANError(f"{path} is not a readable HDF5 file ({error}); it is truncated or not a Keras "
                               "model") from None
    model = KerasModel(layers, modules, output, _input_shape(layers[0], path)).eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *model.input_shape))
    except RuntimeError as error:
        detail = str(error).strip().splitlines()[0]
        raise LandmarkGANError(f"the weights in {path} do not fit its graph ({detail}); the file is damaged") from None
    return model


def _h5py():
    try:
        import h5py
    except ImportError:
        raise LandmarkGANError("reading a Keras model file needs h5py: pip install 'landmarkgan[photos]' "
                               "(or pip install h5py)") from None
    return h5py


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _graph(config: dict, path: Path) -> tuple[list[KerasLayer], str]:
    """The layers of a saved functional model's config, in the file's order (Keras saves them with every layer
    after its inputs), and the output layer's name."""
    if config.get("class_name") not in ("Model", "Functional"):
        raise LandmarkGANError(f"{path} holds a Keras {config.get('class_name')!r}; only functional models (Model) "
                               "are read")
    layers = []
    for entry in config["config"]["layers"]:
        kind, layer_config = entry["class_name"], entry["config"]
        if kind not in LAYERS:
            raise LandmarkGANError(f"{path}: layer {entry['name']!r} is a Keras {kind}, which this reader does not "
                                   f"implement (it reads {', '.join(LAYERS)})")
        _check_config(entry["name"], kind, layer_config, path)
        nodes = entry.get("inbound_nodes") or [[]]
        if len(nodes) != 1:
            raise LandmarkGANError(f"{path}: layer {entry['name']!r} is shared ({len(nodes)} calls); not supported")
        inputs = tuple(node[0] for node in nodes[0])
        if any(name not in {layer.name for layer in layers} for name in inputs):
            raise LandmarkGANError(f"{path}: layer {entry['name']!r} comes before one of its inputs {inputs}; the "
                                   "graph is damaged")
        layers.append(KerasLayer(entry["name"], kind, layer_config, inputs))
    inputs, outputs = config["config"]["input_layers"], config["config"]["output_layers"]
    if len(inputs) != 1 or len(outputs) != 1:
        raise LandmarkGANError(f"{path}: the model has {len(inputs)} inputs and {len(outputs)} outputs; one of each "
                               "is supported")
    return layers, outputs[0][0]


def _check_config(name: str, kind: str, config: dict, path: Path) -> None:
    """Refuse the options of a supported layer that this reader does not implement."""
    problems = []
    if config.get("data_format", "channels_last") != "channels_last":
        problems.append(f"data_format {config['data_format']}")
    if any(d != 1 for d in config.get("dilation_rate", (1, 1))):
        problems.append(f"dilation {config['dilation_rate']}")
    if config.get("padding", "valid") not in ("valid", "same"):
        problems.append(f"padding {config['padding']}")
    if config.get("activation", "linear") not in ACTIVATIONS:
        problems.append(f"activation {config['activation']}")
    if kind == "BatchNormalization" and config.get("axis") not in (-1, 3, [-1], [3]):
        problems.append(f"axis {config['axis']}")
    if problems:
        raise LandmarkGANError(f"{path}: layer {name!r} ({kind}) has {', '.join(problems)}, which this reader does "
                               "not implement")


def _input_shape(layer: KerasLayer, path: Path) -> tuple[int, int, int]:
    """The (C, H, W) image the model reads, from its input layer's channels-last (None, H, W, C)."""
    shape = layer.config.get("batch_input_shape") or layer.config.get("batch_shape")
    if layer.kind != "InputLayer" or not shape or len(shape) != 4 or None in shape[1:]:
        raise LandmarkGANError(f"{path}: the model's first layer is not an image input of a fixed size "
                               f"({layer.kind} {shape})")
    return shape[3], shape[1], shape[2]


def _module(layer: KerasLayer, group, path: Path) -> nn.Module:
    """The PyTorch module of one layer, holding its weights; a clear error when one is missing."""
    weights = _layer_weights(group, layer.name, path) if layer.name in group else {}
    try:
        return LAYERS[layer.kind](layer.config, weights)
    except KeyError as error:
        raise LandmarkGANError(f"{path}: layer {layer.name!r} ({layer.kind}) lacks its weight {error}; the file is "
                               "damaged") from None


def _layer_weights(group, name: str, path: Path) -> dict[str, np.ndarray]:
    """One layer's weights keyed by their Keras name ("kernel", "bias", "gamma", "moving_mean", ...)."""
    layer = group[name]
    weights = {}
    for full in layer.attrs.get("weight_names", []):
        full = _text(full)
        if full not in layer:
            raise LandmarkGANError(f"{path}: layer {name!r} lists the weight {full!r} but does not hold it; the file "
                                   "is damaged")
        weights[full.split("/")[-1].split(":")[0]] = np.asarray(layer[full], dtype=np.float32)
    return weights
