"""Tiny Keras 2 model files written with h5py, laid out as fer's ``emotion_model.hdf5`` (a mini-Xception), and a
plain numpy reference of the Keras operations they use, written from Keras's and TensorFlow's documentation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

CLASSES = 7


def _layer(name: str, kind: str, inputs: list[str], **config) -> dict:
    return {"name": name, "class_name": kind, "config": {"name": name, **config},
            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []}


def _conv(name: str, inputs: str, filters: int, kernel: int, strides: int = 1, padding: str = "same",
          bias: bool = False, separable: bool = False, multiplier: int = 1) -> dict:
    extra = {"depth_multiplier": multiplier} if separable else {}
    return _layer(name, "SeparableConv2D" if separable else "Conv2D", [inputs], filters=filters,
                  kernel_size=[kernel, kernel], strides=[strides, strides], padding=padding, use_bias=bias,
                  activation="linear", dilation_rate=[1, 1], data_format="channels_last", **extra)


def _bn(name: str, inputs: str) -> dict:
    return _layer(name, "BatchNormalization", [inputs], axis=-1, momentum=0.99, epsilon=0.001, center=True,
                  scale=True)


def _relu(name: str, inputs: str) -> dict:
    return _layer(name, "Activation", [inputs], activation="relu")


def _pool(name: str, inputs: str) -> dict:
    return _layer(name, "MaxPooling2D", [inputs], pool_size=[3, 3], strides=[2, 2], padding="same",
                  data_format="channels_last")


def tiny_mini_xception(side: int = 64, classes: int = CLASSES) -> dict:
    """The Keras ``model_config`` of a mini-Xception as fer's, with two residual blocks of 4 and 6 channels; the
    first block's separable convolutions have a depth multiplier of 2."""
    layers = [
        _layer("input_1", "InputLayer", [], batch_input_shape=[None, side, side, 1], dtype="float32"),
        _conv("conv2d_1", "input_1", 3, 3, padding="valid"), _bn("batch_normalization_1", "conv2d_1"),
        _relu("activation_1", "batch_normalization_1"),
    ]
    block_input = "activation_1"
    for b, width in enumerate((4, 6)):
        n = b + 1
        layers += [
            _conv(f"separable_conv2d_{2 * n - 1}", block_input, width, 3, separable=True, multiplier=2 - b),
            _bn(f"batch_normalization_{10 * n + 1}", f"separable_conv2d_{2 * n - 1}"),
            _relu(f"activation_{10 * n}", f"batch_normalization_{10 * n + 1}"),
            _conv(f"separable_conv2d_{2 * n}", f"activation_{10 * n}", width, 3, separable=True),
            _bn(f"batch_normalization_{10 * n + 2}", f"separable_conv2d_{2 * n}"),
            _conv(f"conv2d_res_{n}", block_input, width, 1, strides=2),
            _pool(f"max_pooling2d_{n}", f"batch_normalization_{10 * n + 2}"),
            _bn(f"batch_normalization_{10 * n + 3}", f"conv2d_res_{n}"),
            _layer(f"add_{n}", "Add", [f"max_pooling2d_{n}", f"batch_normalization_{10 * n + 3}"]),
        ]
        block_input = f"add_{n}"
    layers += [
        _conv("conv2d_out", block_input, classes, 3, bias=True),
        _layer("global_average_pooling2d_1", "GlobalAveragePooling2D", ["conv2d_out"], data_format="channels_last"),
        _layer("predictions", "Activation", ["global_average_pooling2d_1"], activation="softmax"),
    ]
    return {"class_name": "Model", "config": {"name": "model_1", "layers": layers,
                                              "input_layers": [["input_1", 0, 0]],
                                              "output_layers": [["predictions", 0, 0]]}}


def random_weights(config: dict, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Per layer, its Keras weights ("kernel", "gamma", ...) drawn at random, of the shapes the config implies."""
    rng = np.random.default_rng(seed)
    channels: dict[str, int] = {}
    weights: dict[str, dict[str, np.ndarray]] = {}

    def normal(*shape: int, scale: float = 0.5) -> np.ndarray:
        return (rng.normal(size=shape) * scale).astype(np.float32)

    for layer in config["config"]["layers"]:
        name, kind, c = layer["name"], layer["class_name"], layer["config"]
        inputs = [node[0] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        before = channels[inputs[0]] if inputs else c["batch_input_shape"][3]
        channels[name] = before
        if kind in ("Conv2D", "SeparableConv2D"):
            kh, kw = c["kernel_size"]
            if kind == "Conv2D":
                weights[name] = {"kernel": normal(kh, kw, before, c["filters"])}
            else:
                multiplier = c["depth_multiplier"]
                weights[name] = {"depthwise_kernel": normal(kh, kw, before, multiplier),
                                 "pointwise_kernel": normal(1, 1, before * multiplier, c["filters"])}
            if c["use_bias"]:
                weights[name]["bias"] = normal(c["filters"])
            channels[name] = c["filters"]
        elif kind == "BatchNormalization":
            weights[name] = {"gamma": 1 + normal(before, scale=0.2), "beta": normal(before, scale=0.2),
                             "moving_mean": normal(before, scale=0.3),
                             "moving_variance": rng.uniform(0.5, 2, before).astype(np.float32)}
    return weights


def write_keras_file(path: Path, config: dict, weights: dict[str, dict[str, np.ndarray]]) -> Path:
    """An HDF5 file as Keras 2's ``model.save`` writes it: the graph as JSON in ``model_config``, each layer's
    weights under ``model_weights/<layer>/<layer>_1/<weight>:0``, listed in the layer group's ``weight_names``."""
    import h5py

    with h5py.File(path, "w") as file:
        file.attrs["keras_version"] = b"2.0.5"
        file.attrs["backend"] = b"tensorflow"
        file.attrs["model_config"] = json.dumps(config).encode()
        group = file.create_group("model_weights")
        names = [layer["name"] for layer in config["config"]["layers"]]
        group.attrs["layer_names"] = [n.encode() for n in names]
        for name in names:
            layer = group.create_group(name)
            full = [f"{name}/{name}_1/{key}:0" for key in weights.get(name, {})]
            layer.attrs["weight_names"] = [f.encode() for f in full]
            for key, value in zip(weights.get(name, {}), full):
                layer.create_dataset(value, data=weights[name][key])
    return path


def tiny_recognizer_file(path: Path, seed: int = 0) -> Path:
    """A tiny recognizer file of fer's layout (64 x 64 grey in, seven probabilities out), random weights."""
    config = tiny_mini_xception()
    return write_keras_file(path, config, random_weights(config, seed))


# -- numpy reference of the Keras operations (channels last, one image (H, W, C)) ------------------------------------
def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's documented "SAME" padding: along an axis, max(k - s, 0) when the size divides by the stride,
    else max(k - size % s, 0); the smaller half before."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _padded(x: np.ndarray, kernel: int, stride: int, padding: str, value: float = 0.0) -> np.ndarray:
    if padding == "valid":
        return x
    (top, bottom), (left, right) = same_padding(x.shape[0], kernel, stride), same_padding(x.shape[1], kernel, stride)
    return np.pad(x, ((top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x: np.ndarray, kernel: int, stride: int) -> tuple[int, int]:
    return (x.shape[0] - kernel) // stride + 1, (x.shape[1] - kernel) // stride + 1


def conv(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Keras Conv2D: out[i, j, o] = sum over (a, b, c) of x[i s + a, j s + b, c] kernel[a, b, c, o]."""
    k = kernel.shape[0]
    xp = _padded(x, k, stride, padding)
    h, w = _windows(xp, k, stride)
    out = np.zeros((h, w, kernel.shape[3]))
    for i in range(h):
        for j in range(w):
            patch = xp[i * stride:i * stride + k, j * stride:j * stride + k]
            out[i, j] = np.einsum("abc,abco->o", patch, kernel)
    return out


def depthwise(x: np.ndarray, kernel: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """Keras's depthwise step: out[i, j, c * M + m] = sum over (a, b) of x[i s + a, j s + b, c] kernel[a, b, c, m]."""
    k, channels, multiplier = kernel.shape[0], kernel.shape[2], kernel.shape[3]
    xp = _padded(x, k, stride, padding)
    h, w = _windows(xp, k, stride)
    out = np.zeros((h, w, channels * multiplier))
    for i in range(h):
        for j in range(w):
            patch = xp[i * stride:i * stride + k, j * stride:j * stride + k]
            out[i, j] = np.einsum("abc,abcm->cm", patch, kernel).reshape(-1)
    return out


def max_pool(x: np.ndarray, pool: int, stride: int, padding: str) -> np.ndarray:
    xp = _padded(x, pool, stride, padding, value=-math.inf)
    h, w = _windows(xp, pool, stride)
    return np.array([[xp[i * stride:i * stride + pool, j * stride:j * stride + pool].max(axis=(0, 1))
                      for j in range(w)] for i in range(h)])


def keras_forward(config: dict, weights: dict[str, dict[str, np.ndarray]], image: np.ndarray) -> np.ndarray:
    """The model of ``config`` on one (H, W, C) image, layer by layer as Keras computes it (float64)."""
    values: dict[str, np.ndarray] = {}
    for layer in config["config"]["layers"]:
        name, kind, c = layer["name"], layer["class_name"], layer["config"]
        inputs = [values[node[0]] for node in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
        w = weights.get(name, {})
        if kind == "InputLayer":
            out = image.astype(np.float64)
        elif kind == "Conv2D":
            out = conv(inputs[0], w["kernel"], c["strides"][0], c["padding"])
        elif kind == "SeparableConv2D":
            out = conv(depthwise(inputs[0], w["depthwise_kernel"], c["strides"][0], c["padding"]),
                       w["pointwise_kernel"], 1, "valid")
        elif kind == "BatchNormalization":
            out = (inputs[0] - w["moving_mean"]) / np.sqrt(w["moving_variance"] + c["epsilon"]) * w["gamma"] + w["beta"]
        elif kind == "MaxPooling2D":
            out = max_pool(inputs[0], c["pool_size"][0], c["strides"][0], c["padding"])
        elif kind == "Add":
            out = sum(inputs)
        elif kind == "GlobalAveragePooling2D":
            out = inputs[0].mean(axis=(0, 1))
        elif kind == "Activation" and c["activation"] == "relu":
            out = np.maximum(inputs[0], 0)
        elif kind == "Activation" and c["activation"] == "softmax":
            e = np.exp(inputs[0] - inputs[0].max())
            out = e / e.sum()
        else:
            raise AssertionError(f"the reference has no {kind}")
        if "bias" in w:
            out = out + w["bias"]
        values[name] = out
    return values[config["config"]["output_layers"][0][0]]
