"""Inputs as users bring them (issue 11): images of every kind, bad labels, damaged models and runs, through
the decoder, the Python API and the CLI. Each answer is a LandmarkGANError (one line in the CLI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from skimage import data

from landmarkgan.cli import main
from landmarkgan.data.images import ImageTooLarge, decode_image, load_image, save_image, to_rgb
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.loading import load_model
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.models import LandmarkGAN, ModelConfig
from landmarkgan.training.checkpoint import Progress, load_checkpoint, save_checkpoint
from landmarkgan.training.config import Config

from helpers import SIZE, encoded, png_header, tiny_model, tilted

ASTRONAUT = data.astronaut()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pipe(model_dir: Path) -> LandmarkGANPipeline:
    return LandmarkGANPipeline.from_pretrained(model_dir, device="cpu", detector="hog")


def one_error_line(capsys: pytest.CaptureFixture) -> str:
    """The CLI's stderr, checked to be one line (no traceback)."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# -- the decoder --------------------------------------------------------------------------------------

def test_thin_and_empty_images_are_refused_by_size(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   model_dir: Path) -> None:
    """Case 1: a 20000 x 5 image is refused (not a ValueError from the resize)."""
    thin = tmp_path / "t.png"
    Image.new("RGB", (20000, 5)).save(thin)
    with pytest.raises(LandmarkGANError, match=r"t.png is 20000x5 pixels; a face image needs at least 16 pixels"):
        load_image(thin)
    assert main(["translate", str(thin), "-e", "happy", "--model", str(model_dir), "-o", str(tmp_path / "o")]) == 2
    assert "20000x5 pixels" in one_error_line(capsys)


def test_a_bomb_is_refused_from_its_header_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Case 2: the pixel budget is checked before any pixel is decoded, and the message gives size and limit."""
    def no_decoding(self):
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(ImageTooLarge, match=r"'b.png' is 7000x7000 pixels \(49.0 megapixels\), more than the limit "
                                            r"of 40 megapixels; downscale it first"):
        decode_image(png_header(7000, 7000), "'b.png'", max_pixels=40_000_000)
    with pytest.raises(ImageTooLarge, match=r"is 4,295 megapixels, more than the limit of 50 megapixels") as error:
        decode_image(png_header(65535, 65535))
    assert "corrupt" not in str(error.value)


def test_sixteen_bit_grey_keeps_its_levels(tmp_path: Path, pipe: LandmarkGANPipeline) -> None:
    """Case 3: a 16-bit grey PNG decodes to its grey levels, not to white, and the face is found in it."""
    grey = np.asarray(Image.fromarray(ASTRONAUT).convert("L"))
    path = tmp_path / "grey16.png"
    Image.fromarray(grey.astype(np.uint16) * 257).save(path)
    assert Image.open(path).mode == "I;16"
    decoded = load_image(path)
    assert decoded.dtype == np.uint8 and decoded.shape == (*grey.shape, 3)
    assert np.array_equal(decoded, np.repeat(grey[..., None], 3, axis=2))
    result = pipe(path, "happy")
    assert np.array_equal(result.source, pipe(np.repeat(grey[..., None], 3, axis=2), "happy").source)


@pytest.mark.parametrize("orientation, stored", [
    (6, lambda im: im.transpose(Image.Transpose.ROTATE_90)),  # phone held upright, sensor sideways
    (8, lambda im: im.transpose(Image.Transpose.ROTATE_270)),
    (3, lambda im: im.transpose(Image.Transpose.ROTATE_180)),
    (2, lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int, stored) -> None:
    """Case 4: an image stored sideways with its EXIF orientation comes out upright."""
    upright = Image.fromarray(ASTRONAUT[:200, 100:400])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    stored(upright).save(path, exif=exif)
    assert np.array_equal(load_image(path), np.asarray(upright))
    assert np.array_equal(to_rgb(Image.open(path)), np.asarray(upright))


def test_a_sideways_phone_photo_finds_its_face(tmp_path: Path, pipe: LandmarkGANPipeline) -> None:
    """Case 4 end to end: a JPEG stored sideways with orientation 6 is aligned like the upright photo."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    Image.fromarray(ASTRONAUT).transpose(Image.Transpose.ROTATE_90).save(path, quality=95, exif=exif)
    with pytest.raises(LandmarkGANError, match="no face found"):  # what the pixels alone show
        pipe(np.asarray(Image.open(path).convert("RGB")), "happy")
    result = pipe(path, "happy")
    upright = pipe(ASTRONAUT, "happy")
    assert np.abs(result.source_landmarks - upright.source_landmarks).mean() < 1.0


def _cmyk() -> Image.Image:
    return Image.fromarray(ASTRONAUT[:40, :40]).convert("CMYK")


def _transparent(mode: str) -> Image.Image:
    rgba = np.zeros((32, 48, 4), np.uint8)
    rgba[..., :3] = (10, 200, 30)
    rgba[:, :24, 3] = 255  # left half opaque green, right half transparent
    return Image.fromarray(rgba).convert(mode)


def _palette_with_transparency() -> Image.Image:
    indices = np.zeros((32, 48), np.uint8)
    indices[:, 24:] = 1  # colour 1 is the transparent one
    image = Image.fromarray(indices, "P")
    image.putpalette([10, 200, 30, 0, 0, 0])
    image.info["transparency"] = 1
    return image


@pytest.mark.parametrize("image, fmt, expected", [
    (Image.fromarray(np.arange(32 * 40, dtype=np.uint8).reshape(32, 40)), "PNG",
     lambda: np.repeat(np.arange(32 * 40, dtype=np.uint8).reshape(32, 40)[..., None], 3, axis=2)),
    (Image.frombytes("I;16B", (40, 32), ((np.arange(32 * 40) % 256).astype(">u2") * 257).tobytes()), "TIFF",
     lambda: np.repeat((np.arange(32 * 40).reshape(32, 40) % 256).astype(np.uint8)[..., None], 3, axis=2)),
    (Image.fromarray(np.linspace(0, 1, 32 * 40, dtype=np.float32).reshape(32, 40), "F"), "TIFF",
     lambda: np.repeat((np.linspace(0, 1, 32 * 40).reshape(32, 40) * 255 + 0.5).astype(np.uint8)[..., None], 3, 2)),
    (Image.fromarray(np.full((32, 40), 65535, np.int32), "I"), "TIFF", lambda: np.full((32, 40, 3), 255, np.uint8)),
    (_transparent("RGBA"), "PNG", lambda: np.concatenate(
        [np.full((32, 24, 3), (10, 200, 30), np.uint8), np.full((32, 24, 3), 255, np.uint8)], axis=1)),
    (_transparent("LA"), "PNG", lambda: np.concatenate(
        [np.full((32, 24, 3), np.asarray(_transparent("L"))[0, 0], np.uint8), np.full((32, 24, 3), 255, np.uint8)],
        axis=1)),
    (_palette_with_transparency(), "GIF", lambda: np.concatenate(
        [np.full((32, 24, 3), (10, 200, 30), np.uint8), np.full((32, 24, 3), 255, np.uint8)], axis=1)),
    (_cmyk(), "TIFF", lambda: np.asarray(_cmyk().convert("RGB"))),
    (Image.fromarray(np.eye(32, dtype=bool)), "PNG", lambda: np.repeat(np.eye(32, dtype=np.uint8)[..., None] * 255, 3, 2)),
], ids=["L", "I;16B", "F", "I", "RGBA", "LA", "P+transparency", "CMYK", "1"])
def test_every_mode_becomes_rgb(image: Image.Image, fmt: str, expected) -> None:
    decoded = decode_image(encoded(image, fmt), "'x'")
    assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3
    difference = np.abs(decoded.astype(int) - expected().astype(int)).max()
    assert difference <= 1, f"{image.mode} {fmt}: off by up to {difference}"


def test_unknown_and_unsafe_formats_are_not_opened() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 32 32\n"  # Pillow would hand it to Ghostscript
    for payload in (eps, encoded(Image.new("RGB", (32, 32)), "TGA"), b"just some text"):
        with pytest.raises(LandmarkGANError, match=r"cannot read 'f' as an image: it is not an image file this tool "
                                                   r"reads \(PNG, JPEG, BMP, TIFF, WEBP, PPM, GIF\)") as error:
            decode_image(payload, "'f'")
        assert "0x" not in str(error.value)


# -- the Python API --------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ((np.zeros((0, 0, 3), np.uint8), "happy"), "the image is 0x0 pixels; a face image needs at least 16"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), None), "give the expression to change to, or like= another photo"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), "happy", float("nan")), "intensity is a number from 0 (the face's own "
                                                                   "expression) to 6, got nan"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), "happy", True), "to 6, got True"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), "happy", "3"), "to 6, got '3'"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), "happy", 7), "to 6, got 7"),
    ((torch.full((3, SIZE, SIZE), float("nan")), "happy"), "the tensor input holds NaN or infinite values"),
    ((torch.full((1, 3, SIZE, SIZE), 200.0), "happy"), r"values in [-1, 1], got 200..200"),
    ((torch.zeros(3, 0, 0), "happy"), "the tensor input is 0x0 pixels"),
    ((np.zeros((SIZE, SIZE, 3), np.uint8), "x" * 100_000), "unknown expression 'xxxxxxxxx"),
], ids=["empty array", "no expression", "NaN intensity", "bool intensity", "str intensity", "intensity 7",
        "NaN tensor", "0..255 tensor", "empty tensor", "100 KB expression"])
def test_api_inputs_get_specific_errors(pipe: LandmarkGANPipeline, args: tuple, message: str) -> None:
    """Case 9."""
    with pytest.raises(LandmarkGANError) as error:
        pipe(*args, align=False) if not isinstance(args[0], torch.Tensor) else pipe(*args)
    assert message in str(error.value) and len(str(error.value)) < 200


def test_empty_photo_to_align_and_numpy_intensities(pipe: LandmarkGANPipeline) -> None:
    """Case 9: an empty array to align (a ZeroDivisionError before); numpy integers are whole numbers."""
    with pytest.raises(LandmarkGANError, match="the image is 0x0 pixels"):
        pipe(np.zeros((0, 0, 3), np.uint8), "happy")
    with pytest.raises(LandmarkGANError, match="the image is 3x1 pixels"):
        pipe(Image.new("RGB", (3, 1)), "happy")
    assert pipe.check_label("happy", np.int64(2)) == ("happy", 2)


def test_detector_choices_for_a_tilted_head(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Case 7: HOG misses a head tilted by 50 degrees; the CNN finds it, and auto falls back to it."""
    head = tilted(ASTRONAUT)
    assert FaceLandmarkDetector("hog").detect(head) == []
    assert len(FaceLandmarkDetector("cnn").detect(head)) == 1
    found = FaceLandmarkDetector("auto").detect(head)
    assert len(found) == 1 and found[0].score > 0.5
    hog = LandmarkGANPipeline.from_pretrained(model_dir, device="cpu", detector="hog")
    with pytest.raises(LandmarkGANError, match="no face found in the image; .* or the cnn or auto face detector"):
        hog(head, "happy")
    auto = hog.with_detector("auto")
    assert auto.model is hog.model and auto.detector_name == "auto" and hog.detector_name == "hog"
    assert auto(head, "happy").source.shape == (SIZE, SIZE, 3)
    with pytest.raises(LandmarkGANError, match="unknown face detector 'eyes'; use one of: hog, cnn, auto"):
        LandmarkGANPipeline.from_pretrained(model_dir, device="cpu", detector="eyes")

    photo = save_image(head, tmp_path / "tilted.png")
    common = ["translate", str(photo), "-e", "happy", "--model", str(model_dir), "-o", str(tmp_path / "out")]
    assert main(common + ["--detector", "hog"]) == 2
    assert "no face found" in one_error_line(capsys)
    assert main(common) == 0  # auto by default
    assert (tmp_path / "out" / "tilted_happy4.png").is_file()


# -- the CLI ---------------------------------------------------------------------------------------------

def test_output_folder_that_is_a_file(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Case 8: `translate a.png -o a.png` names the problem before any work."""
    photo = save_image(ASTRONAUT, tmp_path / "a.png")
    assert main(["translate", str(photo), "-e", "happy", "--model", str(model_dir), "-o", str(photo)]) == 2
    assert f"cannot write into {photo}: {photo} is a file, not a folder" in one_error_line(capsys)
    assert main(["translate", str(photo), "-e", "happy", "--model", str(model_dir), "-o", str(photo / "x" / "y")]) == 2
    assert f"{photo} is a file, not a folder" in one_error_line(capsys)


# -- model folders and runs ------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("ngf", 100_000, "model.ngf must be between 1 and 256, got 100000"),
    ("ndf", 4096, "model.ndf must be between 1 and 256, got 4096"),
    ("image_size", 2**20, "model.image_size must be between 32 and 1024, got 1048576"),
    ("label_embed_dim", 10**9, "model.label_embed_dim must be between 1 and 1024"),
    ("num_intensities", 10**6, "model.num_intensities must be between 0 and 10"),
    ("lambda1", float("inf"), "model.lambda1 must be a finite number"),
    ("soft_crop_sigma", float("inf"), "model.soft_crop_sigma must be a finite number"),
])
def test_config_values_out_of_range_are_refused_when_read(model_dir: Path, tmp_path: Path, field: str, value,
                                                          message: str, capsys: pytest.CaptureFixture) -> None:
    """Case 5: in translate, serve and the API, before any network is built."""
    record = json.loads((model_dir / "config.json").read_text())
    record["model"][field] = value
    (tmp_path / "config.json").write_text(json.dumps(record))
    (tmp_path / "model.safetensors").write_bytes((model_dir / "model.safetensors").read_bytes())
    with pytest.raises(LandmarkGANError, match=message.replace("(", r"\(")):
        LandmarkGANPipeline.from_pretrained(tmp_path)
    photo = save_image(ASTRONAUT, tmp_path / "a.png")
    for command in (["translate", str(photo), "-e", "happy", "-o", str(tmp_path / "out")], ["serve"]):
        assert main(command + ["--model", str(tmp_path)]) == 2
        assert message in one_error_line(capsys)


def test_paper_and_default_configs_are_within_the_ranges() -> None:
    ModelConfig(image_size=256, ngf=64, ndf=64, n_layers_D=3, num_intensities=4)
    ModelConfig(image_size=1024, ngf=256, ndf=256, n_layers_D=6, label_embed_dim=1024, num_intensities=10)


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A training run with one checkpoint of the tiny model."""
    model = tiny_model()
    config = Config.from_dict({"model": model.config.to_dict(), "train": {"data": "somewhere"}})
    save_checkpoint(tmp_path / "run", Progress(step=7), model.state_dict(), {"rng": torch.zeros(3)},
                    yaml.safe_dump(config.to_dict()))
    return tmp_path / "run"


class Payload:
    """What a hostile training-state file holds: unpickling it would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_run_folder_with_a_pickle_payload(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Case 6: translating never opens the training state; resuming names a pickle payload in one line."""
    checkpoint = run_folder / "checkpoints" / "step_00000007"
    marker = tmp_path / "unpickled"
    torch.save({"rng": Payload(marker)}, checkpoint / "training_state.pt")
    model = load_model(run_folder)
    assert isinstance(model, LandmarkGAN) and model.metadata["step"] == 7
    (checkpoint / "training_state.pt").unlink()
    assert load_model(run_folder).metadata["step"] == 7  # not even needed

    torch.save({"rng": Payload(marker)}, checkpoint / "training_state.pt")
    with pytest.raises(LandmarkGANError) as error:
        load_checkpoint(checkpoint)
    message = str(error.value)
    assert "\n" not in message and "holds Python objects other than tensors" in message
    assert "weights_only" not in message and "truncated" not in message
    assert not marker.exists()

    (checkpoint / "training_state.pt").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(LandmarkGANError, match="training_state.pt is truncated or corrupt") as error:
        load_checkpoint(checkpoint)
    assert "\n" not in str(error.value)


def test_run_folder_config_out_of_range(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Case 5 for a run: its config.yaml is checked too."""
    path = run_folder / "checkpoints" / "step_00000007" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["model"]["ngf"] = 100_000
    path.write_text(yaml.safe_dump(config))
    photo = save_image(ASTRONAUT, tmp_path / "a.png")
    assert main(["translate", str(photo), "-e", "happy", "--model", str(run_folder), "-o", str(tmp_path / "o")]) == 2
    assert "model.ngf must be between 1 and 256, got 100000" in one_error_line(capsys)


def test_a_model_too_large_for_this_machine_is_named(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(LandmarkGAN, "from_pretrained", out_of_memory)
    with pytest.raises(LandmarkGANError, match=f"not enough memory to build the model in {model_dir}"):
        load_model(model_dir)
