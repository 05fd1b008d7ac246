"""Property-based tests (Hypothesis) of what users can reach with any input: the image decoder, the label
checks and the web form. The property is always the same: a right answer or a LandmarkGANError (on the
web: a JSON error with a 4xx status), never another exception, a 500 or a hang."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, strategies as st
from PIL import Image

from landmarkgan.app.server import create_app
from landmarkgan.data.images import MIN_SIDE, decode_image
from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS
from landmarkgan.inference import LandmarkGANPipeline

from helpers import FUZZ, encoded, post, running, tiny_model

BUDGET = 1_000_000  # a small pixel budget keeps mutated headers from decoding large images
MEMORY_ADDRESS = re.compile(r"\b0x[0-9a-f]{6}")  # a Python object's repr leaking into a user's error message


def seed_files() -> list[bytes]:
    """Small valid images in every format the decoder opens, in several modes."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8))
    return [encoded(rgb, "PNG"), encoded(rgb, "JPEG"), encoded(rgb, "BMP"), encoded(rgb, "TIFF"),
            encoded(rgb, "WEBP"), encoded(rgb, "PPM"), encoded(rgb.convert("P"), "GIF"),
            encoded(rgb.convert("RGBA"), "PNG"), encoded(rgb.convert("L"), "PNG"),
            encoded(Image.fromarray(np.asarray(rgb.convert("L")).astype(np.uint16) * 257), "PNG")]


SEEDS = seed_files()


def check_decoded(data: bytes) -> None:
    try:
        pixels = decode_image(data, "'fuzz.png'", BUDGET)
    except LandmarkGANError as e:
        message = str(e)
        assert message and "\n" not in message and not MEMORY_ADDRESS.search(message) and len(message) < 400, message
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert min(pixels.shape[:2]) >= MIN_SIDE and pixels.shape[0] * pixels.shape[1] <= BUDGET


@FUZZ
@given(st.binary(max_size=4096))
def test_decoder_on_arbitrary_bytes(data: bytes) -> None:
    check_decoded(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.one_of(st.none(), st.integers(0, 10**6)))
def test_decoder_on_damaged_images(seed: bytes, flips: list[tuple[int, int]], cut: int | None) -> None:
    """Valid files with bytes overwritten (headers included) and cut short."""
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    check_decoded(bytes(data[:cut] if cut is not None else data))


@FUZZ
@given(st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]),
       st.integers(MIN_SIDE, 48), st.integers(MIN_SIDE, 48), st.sampled_from(["PNG", "TIFF"]), st.integers(0, 2**32 - 1))
def test_decoder_on_valid_images_of_every_mode(mode: str, width: int, height: int, fmt: str, seed: int) -> None:
    """Any image Pillow writes comes back as RGB uint8 of its size, grey modes with three equal channels."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8)).convert(mode)
    if fmt == "PNG" and mode in ("CMYK", "I", "F"):
        fmt = "TIFF"  # PNG cannot hold these
    pixels = decode_image(encoded(image, fmt), "'valid'", BUDGET)
    assert pixels.shape == (height, width, 3) and pixels.dtype == np.uint8
    if mode in ("1", "L", "I;16", "I", "F"):
        assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 1] == pixels[..., 2]).all()


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> LandmarkGANPipeline:
    folder = tmp_path_factory.mktemp("model")
    tiny_model().save_pretrained(folder)
    return LandmarkGANPipeline.from_pretrained(folder, device="cpu")


LABEL_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.floats(allow_nan=True),
                         st.text(max_size=20), st.binary(max_size=5), st.lists(st.integers(), max_size=2))


@FUZZ
@given(expression=st.one_of(st.sampled_from(EXPRESSIONS + ("HA", " Sad ", "anger")), LABEL_VALUES),
       intensity=st.one_of(st.sampled_from([None, 1, 2, 3, 4, np.int64(3)]), LABEL_VALUES))
def test_label_checks(pipe: LandmarkGANPipeline, expression: object, intensity: object) -> None:
    try:
        name, level = pipe.check_label(expression, intensity)
    except LandmarkGANError as e:
        assert "\n" not in str(e) and len(str(e)) < 300
        return
    assert name in pipe.expressions
    assert level == 0 if name == "neutral" else level in pipe.intensities
    assert intensity is None or (not isinstance(intensity, bool) and int(intensity) == level)


@pytest.fixture(scope="module")
def server(pipe: LandmarkGANPipeline) -> Iterator[str]:
    with running(create_app(pipe)) as url:
        yield url


FIELD_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
NUMBERS = st.one_of(st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.text(max_size=3), st.none())
MOVES = st.lists(st.lists(NUMBERS, min_size=0, max_size=5), max_size=4).map(json.dumps)
LIKES = st.one_of(st.lists(st.lists(st.floats(-200, 200), min_size=2, max_size=2), min_size=66, max_size=70),
                  st.lists(st.lists(NUMBERS, max_size=3), max_size=3)).map(json.dumps)
CONTROL_FIELDS = {  # the direct controls' fields (issue 34)
    "expression": st.one_of(st.sampled_from(["happy", "happy:0.6,surprise:0.4", "happy:0,sad:0", "su:1,ha:1",
                                             "happy:1,happy:2", "x:1"]), FIELD_TEXT),
    "regions": st.one_of(st.sampled_from(["", "mouth=1.5", "eyes=0,brows=3", "jaw=3.01", "nose=", "lips=1"]),
                         FIELD_TEXT),
    "moves": st.one_of(st.sampled_from(["", "[[0, 57, 0, 20]]", "[[0, 67, -3.5, 1e3]]", "[[1, 0, 0, 0]]", "[]"]),
                       MOVES, FIELD_TEXT),
    "like": st.one_of(st.just(""), LIKES, FIELD_TEXT),
}
FILENAMES = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="._- "),
                    min_size=1, max_size=20)


@FUZZ
@given(fields=st.fixed_dictionaries({}, optional={
    "expression": st.one_of(st.sampled_from(["happy", "neutral", "SU", ""]), FIELD_TEXT),
    "intensity": st.one_of(st.sampled_from(["", "1", "4", "0", "5", "03"]), FIELD_TEXT),
    "align": st.one_of(st.sampled_from(["true", "false", "yes", "0"]), FIELD_TEXT),
    "all": st.one_of(st.sampled_from(["false", "no", "true"]), FIELD_TEXT),
    "detector": st.one_of(st.sampled_from(["", "hog", "auto"]), FIELD_TEXT),
    "sample": st.one_of(st.sampled_from(["synthetic_syn0002.png", "nobody.png"]), FIELD_TEXT),
    "refinement": st.one_of(st.sampled_from(["", "1", "0.5", "1.5", "-1"]), FIELD_TEXT),
    "faces": st.one_of(st.sampled_from(["", "all", "largest", "0", "0,1", "7", "1,,2"]), FIELD_TEXT),
    "photo": st.one_of(st.just(""), st.text(max_size=40)),
    **{name: strategy for name, strategy in CONTROL_FIELDS.items() if name != "expression"},
}), file=st.one_of(st.none(), st.tuples(FILENAMES, st.one_of(st.sampled_from(SEEDS), st.binary(max_size=300)))))
def test_web_form(server: str, fields: dict[str, str], file: tuple[str, bytes] | None) -> None:
    """Any form the page (or anyone) sends: 200 with a result, or a 4xx with one short error."""
    check_answer(*post(server + "/api/translate", fields, file))


def check_answer(status: int, body: dict) -> None:
    """200 with a result, or a 4xx with one short error that leaks nothing."""
    if status == 200:
        assert "sheet" in body or body["image"].startswith(("data:image/png", "data:image/jpeg"))
        return
    assert status in (400, 410, 413, 422), (status, body)
    assert list(body) == ["error"] and isinstance(body["error"], str) and 0 < len(body["error"]) < 400
    assert "internal error" not in body["error"] and not MEMORY_ADDRESS.search(body["error"])


@pytest.fixture(scope="module")
def photo_key(server: str) -> str:
    status, answer = post(server + "/api/photo", {"sample": "astronaut.jpg"})
    assert status == 200, answer
    return answer["photo"]


@FUZZ
@given(fields=st.fixed_dictionaries({}, optional={
    **CONTROL_FIELDS,
    "intensity": st.one_of(st.sampled_from(["", "0", "2.5", "6", "6.01", "4.", ".5", "1e1"]), FIELD_TEXT),
    "faces": st.one_of(st.sampled_from(["", "all", "largest", "0", "1"]), FIELD_TEXT),
    "refinement": st.one_of(st.sampled_from(["", "1", "0.5"]), FIELD_TEXT),
}), keyed=st.booleans())
def test_live_edit_form(server: str, photo_key: str, fields: dict[str, str], keyed: bool) -> None:
    """Any live edit, of the kept photo or with any key: 200 with a preview, or a 4xx with one short error."""
    check_answer(*post(server + "/api/edit", {**fields, **({"photo": photo_key} if keyed else {})}))
