"""The identity network F: dlib's byte format, the PyTorch port of dlib's face ResNet, loading."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.dlib_serialize import (
    DlibFormatError,
    DlibLayer,
    DlibReader,
    DlibWrapper,
    read_layer_details,
    read_network,
)
from landmarkgan.dlib_files import packaged_model_path
from landmarkgan.landmarks.align import FACE_CHIP_BOX, align_face
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.models.identity import (
    MODEL_FILE,
    AlignedFaceEmbedding,
    FaceRecognitionResNet,
    add_zero_padded,
    face_chip,
    load_face_recognition_net,
)

import dlib  # noqa: E402
from skimage import data as skdata  # noqa: E402


# ---------------------------------------------------------------- dlib's byte encodings


def encode_int(value: int) -> bytes:
    """dlib's pack_int, written independently of the reader, for round-trip tests."""
    magnitude = abs(value).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return bytes([len(magnitude) | (0x80 if value < 0 else 0)]) + magnitude


def encode_float(value: float) -> bytes:
    """dlib's float_details for a double: frexp mantissa scaled to 53 bits, low zero bytes dropped."""
    fraction, exponent = math.frexp(value)
    mantissa, exponent = int(fraction * (1 << 53)), exponent - 53
    while mantissa and mantissa & 0xFF == 0:
        mantissa, exponent = mantissa >> 8, exponent + 8
    return encode_int(mantissa) + encode_int(exponent)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"\x01\x05", 5),
        (b"\x81\x05", -5),
        (b"\x01\x00", 0),
        (b"\x02\x34\x12", 0x1234),
        (b"\x82\x00\x01", -256),
        (b"\x08" + b"\xff" * 7 + b"\x7f", 2**63 - 1),
    ],
)
def test_integers_decode_to_hand_computed_values(raw: bytes, value: int) -> None:
    reader = DlibReader(raw)
    assert reader.read_int() == value
    assert reader.offset == len(raw)


def test_integer_round_trip_and_bad_encodings() -> None:
    values = [0, 1, -1, 127, 128, 255, -256, 65535, 2**31, -(2**40) - 3, 2**63 - 1]
    reader = DlibReader(b"".join(encode_int(v) for v in values))
    assert [reader.read_int() for _ in values] == values
    with pytest.raises(DlibFormatError, match="unsigned"):
        DlibReader(b"\x81\x05").read_uint()
    with pytest.raises(DlibFormatError, match="control byte"):
        DlibReader(b"\x35\x00").read_int()
    with pytest.raises(LandmarkGANError, match="truncated"):
        DlibReader(b"\x04\x01\x02").read_int()


def test_floats_decode_from_mantissa_and_exponent() -> None:
    # The loss margin as stored in dlib's face model: 0xa3d70a * 2**-28.
    assert DlibReader(b"\x03\x0a\xd7\xa3\x81\x1c").read_float() == 10737418 * 2.0**-28
    assert DlibReader(b"\x01\x03\x81\x01").read_float() == 1.5
    assert DlibReader(b"\x81\x05\x01\x02").read_float() == -20.0
    assert DlibReader(b"\x01\x00\x02\x00\x7d").read_float() == math.inf
    assert DlibReader(b"\x01\x00\x02\x01\x7d").read_float() == -math.inf
    assert math.isnan(DlibReader(b"\x01\x00\x02\x02\x7d").read_float())
    values = [0.0, 1.0, -0.3, 3.141592653589793, 1e-30, -7.25e12, 122.782]
    reader = DlibReader(b"".join(encode_float(v) for v in values))
    assert [reader.read_float() for _ in values] == values


def test_strings_bools_vectors_and_matrices() -> None:
    reader = DlibReader(b"\x01\x05relu_" + b"10" + b"\x01\x03" + b"\x01\x07\x81\x02\x01\x00")
    assert reader.read_string() == "relu_"
    assert reader.read_bool() is True and reader.read_bool() is False
    assert reader.read_vector(DlibReader.read_int) == [7, -2, 0]
    # A 2x1 dlib::matrix in the current format (negated sizes): [[0.5], [-4]].
    matrix = DlibReader(b"\x81\x02\x81\x01" + b"\x01\x01\x81\x01" + b"\x81\x01\x01\x02").read_matrix()
    np.testing.assert_array_equal(matrix, [[0.5], [-4.0]])
    with pytest.raises(DlibFormatError, match="bool"):
        DlibReader(b"x").read_bool()


def test_tiny_tensor_decodes_to_its_float32_values() -> None:
    raw = b"\x01\x02" + b"\x01\x01\x01\x02\x01\x01\x01\x02" + struct.pack("<4f", 1.0, -2.5, 0.125, 3e5)
    reader = DlibReader(raw)
    tensor = reader.read_tensor()
    assert tensor.shape == (1, 2, 1, 2) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor.reshape(-1), [1.0, -2.5, 0.125, 3e5])
    assert reader.offset == len(raw)
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(raw[:-1]).read_tensor()
    with pytest.raises(DlibFormatError, match="tensor version 3"):
        DlibReader(b"\x01\x03" + raw[2:]).read_tensor()


def test_layer_details_by_version_string() -> None:
    relu = read_layer_details(DlibReader(b"\x01\x06relu_2" + b"1"))
    assert (relu.kind, relu.settings) == ("relu", {"disabled": True})
    pool = read_layer_details(DlibReader(b"\x01\x0aavg_pool_2" + b"".join(encode_int(v) for v in (2, 2, 2, 2, 0, 0))))
    assert pool.kind == "avg_pool" and pool.settings["stride_x"] == 2
    with pytest.raises(DlibFormatError, match="'dropout_'"):
        read_layer_details(DlibReader(b"\x01\x08dropout_"))


# ---------------------------------------------------------------- the shipped model


@pytest.fixture(scope="module")
def model_file() -> Path:
    path = packaged_model_path(MODEL_FILE)
    assert path.is_file(), "face_recognition_models (a dependency) ships this file"
    return path


@pytest.fixture(scope="module")
def net(model_file: Path, tmp_path_factory: pytest.TempPathFactory) -> FaceRecognitionResNet:
    mp = pytest.MonkeyPatch()
    mp.setenv("LANDMARKGAN_CACHE", str(tmp_path_factory.mktemp("cache")))
    try:
        return load_face_recognition_net(model_file)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def astronaut_chip() -> tuple[np.ndarray, np.ndarray]:
    """The acceptance chip: dlib's detector + 68-point predictor on skimage's astronaut."""
    image = skdata.astronaut()
    predictor = dlib.shape_predictor(str(packaged_model_path("shape_predictor_68_face_landmarks.dat")))
    faces = dlib.get_frontal_face_detector()(image, 0)
    assert len(faces) == 1
    shape = predictor(image, faces[0])
    chip = np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))
    points = np.array([[p.x, p.y] for p in shape.parts()])
    return chip, points


def to_input(chip: np.ndarray) -> torch.Tensor:
    """A uint8 (H, W, 3) chip as a (1, 3, H, W) tensor in LandmarkGAN's [-1, 1] range."""
    return torch.from_numpy(np.ascontiguousarray(chip)).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def describe(net: FaceRecognitionResNet, chip: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(to_input(chip))[0].numpy()


def lfw_chip(index: int) -> np.ndarray:
    """A different person: an LFW face from skimage, upscaled to a 150x150 RGB chip."""
    face = torch.from_numpy(skdata.lfw_subset()[index]).float()[None, None]
    big = torch.nn.functional.interpolate(face, size=(150, 150), mode="bicubic").clamp(0, 1)
    return np.repeat((big[0, 0].numpy() * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def test_parsed_network_is_dlibs_anet(model_file: Path) -> None:
    network = read_network(model_file.read_bytes())
    assert network.loss.version == "loss_metric_2"
    assert network.loss.settings["dist_thresh"] == pytest.approx(0.6)
    assert network.input.settings["nr"] == network.input.settings["nc"] == 150
    assert network.input.settings["avg_red"] == pytest.approx(122.782)
    kinds = [layer.kind if isinstance(layer, DlibLayer) else "wrapper" for layer in network.layers]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14 and kinds.count("wrapper") == 22
    assert isinstance(network.layers[4], DlibWrapper) and kinds[-2:] == ["avg_pool", "fc"]
    assert network.layers[0].tensors["filters"].shape == (32, 3, 7, 7)


def test_descriptor_matches_dlib_on_the_astronaut_chip(
    net: FaceRecognitionResNet, model_file: Path, astronaut_chip: tuple[np.ndarray, np.ndarray]
) -> None:
    chip, _ = astronaut_chip
    reference = np.array(dlib.face_recognition_model_v1(str(model_file)).compute_face_descriptor(chip))
    ours = describe(net, chip)
    assert ours.shape == (128,)
    assert np.abs(ours - reference).max() < 1e-3


def test_same_face_is_close_and_a_different_person_is_far(
    net: FaceRecognitionResNet, astronaut_chip: tuple[np.ndarray, np.ndarray]
) -> None:
    chip, _ = astronaut_chip
    anchor = describe(net, chip)
    flipped = np.linalg.norm(describe(net, chip[:, ::-1]) - anchor)
    other = np.linalg.norm(describe(net, lfw_chip(0)) - anchor)
    assert flipped < 0.3  # dlib's same-person threshold is 0.6
    assert other > 0.6


def test_other_sizes_are_resized_and_batches_are_independent(
    net: FaceRecognitionResNet, astronaut_chip: tuple[np.ndarray, np.ndarray]
) -> None:
    chip, _ = astronaut_chip
    batch = torch.cat([to_input(chip), to_input(lfw_chip(0))])
    with torch.no_grad():
        together = net(batch)
        upscaled = net(torch.nn.functional.interpolate(to_input(chip), size=(256, 256), mode="bilinear"))
    torch.testing.assert_close(together[0], torch.from_numpy(describe(net, chip)), atol=1e-5, rtol=0)
    assert torch.linalg.norm(upscaled[0] - together[0]) < 0.1
    with pytest.raises(LandmarkGANError, match="3, height, width"):
        net(torch.zeros(1, 1, 150, 150))


def test_gradients_flow_to_the_input_not_the_frozen_weights(
    net: FaceRecognitionResNet, astronaut_chip: tuple[np.ndarray, np.ndarray]
) -> None:
    x = to_input(astronaut_chip[0]).requires_grad_(True)
    target = torch.from_numpy(describe(net, lfw_chip(0)))
    (net(x)[0] - target).abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_padded_add_matches_dlib_add_prev() -> None:
    a = torch.arange(4.0).view(1, 1, 2, 2)  # [[0, 1], [2, 3]]
    b = torch.full((1, 2, 1, 1), 10.0)
    expected = torch.tensor([[[[10.0, 1.0], [2.0, 3.0]], [[10.0, 0.0], [0.0, 0.0]]]])
    torch.testing.assert_close(add_zero_padded(a, b), expected)


def test_face_chip_matches_dlib(astronaut_chip: tuple[np.ndarray, np.ndarray]) -> None:
    chip, points = astronaut_chip
    np.testing.assert_array_equal(face_chip(skdata.astronaut(), points), chip)
    with pytest.raises(LandmarkGANError, match="68"):
        face_chip(skdata.astronaut(), points[:5])
    with pytest.raises(LandmarkGANError, match="uint8"):
        face_chip(skdata.astronaut().astype(np.float32), points)


# ---------------------------------------------------------------- loading and caching


def test_cached_load_is_identical_and_survives_a_corrupt_cache(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut_chip: tuple[np.ndarray, np.ndarray]
) -> None:
    monkeypatch.setenv("LANDMARKGAN_CACHE", str(tmp_path))
    first = describe(load_face_recognition_net(model_file), astronaut_chip[0])
    (cached,) = tmp_path.glob("*.safetensors")
    np.testing.assert_array_equal(describe(load_face_recognition_net(model_file), astronaut_chip[0]), first)
    cached.write_bytes(b"not safetensors")
    np.testing.assert_array_equal(describe(load_face_recognition_net(model_file), astronaut_chip[0]), first)


@pytest.mark.parametrize("keep", [1000, -100])
def test_truncated_model_file_is_a_clear_error(
    model_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keep: int
) -> None:
    monkeypatch.setenv("LANDMARKGAN_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / MODEL_FILE
    broken.write_bytes(model_file.read_bytes()[:keep])
    with pytest.raises(LandmarkGANError, match=f"{MODEL_FILE}.*truncated.*face_recognition_models"):
        load_face_recognition_net(broken)


def test_missing_or_wrong_model_file_is_a_clear_error(model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(LandmarkGANError, match="not found.*pip install face_recognition_models"):
        load_face_recognition_net(tmp_path / "absent.dat")
    other = tmp_path / "shape_predictor.dat"
    other.write_bytes(packaged_model_path("shape_predictor_5_face_landmarks.dat").read_bytes()[:4096])
    with pytest.raises(LandmarkGANError, match="not a valid dlib face recognition model"):
        load_face_recognition_net(other)


# ---------------------------------------------------------------- F on aligned faces (the identity loss)


def test_face_chip_box_is_where_dlib_cuts_the_chip() -> None:
    """Warp an image whose pixels hold their own coordinates: dlib's chip corners give its box."""
    image = skdata.astronaut()
    aligned = align_face(image, FaceLandmarkDetector().detect_one(image).landmarks, size=256)
    ys, xs = np.mgrid[:256, :256]
    coordinates = np.stack([xs, ys, np.zeros_like(xs)], axis=-1).astype(np.uint8)
    chip = face_chip(coordinates, aligned.landmarks).astype(np.float64)
    (x0, y0), (x1, y1) = chip[0, 0, :2] / 256, chip[-1, -1, :2] / 256
    assert np.allclose([x0, y0, x1, y1], FACE_CHIP_BOX, atol=0.025)


def test_aligned_face_embedding_is_dlibs_descriptor(net: FaceRecognitionResNet, model_file: Path) -> None:
    image = skdata.astronaut()
    aligned = align_face(image, FaceLandmarkDetector().detect_one(image).landmarks, size=256)
    reference = np.array(dlib.face_recognition_model_v1(str(model_file)).compute_face_descriptor(
        face_chip(aligned.image, aligned.landmarks)))
    x = to_input(aligned.image)
    with torch.no_grad():
        cropped = AlignedFaceEmbedding(net)(x)[0].numpy()
        whole = net(x)[0].numpy()
    assert np.linalg.norm(cropped - reference) < 0.15
    assert np.linalg.norm(whole - reference) > 0.6  # the whole frame reads as another person
