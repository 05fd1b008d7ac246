"""The page's direct controls over HTTP (issue 34): live edits of a kept photo, another photo's expression, the new
form fields and their checks, and what the server keeps between edits (bounded, expiring, reachable only by key)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from skimage import data

from landmarkgan.app.server import LIVE_SIDE, create_app
from landmarkgan.app.store import PhotoStore
from landmarkgan.inference import LandmarkGANPipeline

from helpers import encoded, post, running, tiny_model


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> LandmarkGANPipeline:
    folder = tmp_path_factory.mktemp("warp")
    tiny_model(generator="warp", stage2_landmark_image="drawn").save_pretrained(folder)
    return LandmarkGANPipeline.from_pretrained(folder, device="cpu", detector="hog")


@pytest.fixture(scope="module")
def server(pipe: LandmarkGANPipeline) -> Iterator[str]:
    with running(create_app(pipe)) as url:
        yield url


def big_photo() -> bytes:
    """A 1200 x 900 JPEG with the astronaut's face in it: larger than a live edit comes back."""
    canvas = Image.new("RGB", (1200, 900), (120, 130, 140))
    canvas.paste(Image.fromarray(data.astronaut()), (300, 150))
    return encoded(canvas, "JPEG", quality=90)


def decoded(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def upload(server: str, photo: bytes | None = None) -> dict:
    status, answer = post(server + "/api/photo", {}, ("big.jpg", photo or big_photo()))
    assert status == 200, answer
    return answer


def test_live_edits_of_a_kept_photo(server: str) -> None:
    photo = upload(server)
    key = photo["photo"]
    status, plain = post(server + "/api/edit", {"photo": key, "expression": "surprise", "intensity": "2.5"})
    assert status == 200, plain
    assert plain["label"] == "surprise 2.5" and plain["image"].startswith("data:image/jpeg")
    assert decoded(plain["image"]).shape == (600, LIVE_SIDE, 3)  # the 1200 x 900 photo at the size it is shown
    (face,) = plain["faces"]
    assert face["number"] == 0 and np.array(face["landmarks"]).shape == (68, 2)
    moved = json.dumps([[0, 57, 0, 20], [0, 8, -5, 4.5]])
    status, edited = post(server + "/api/edit", {"photo": key, "expression": "surprise", "intensity": "2.5",
                                                "moves": moved})
    assert status == 200 and edited["label"] == "surprise 2.5, landmarks moved"
    shift = np.array(edited["faces"][0]["landmarks"]) - np.array(face["landmarks"])
    assert np.abs(shift[57] - [0, 20]).max() < 0.2 and np.abs(shift[8] - [-5, 4.5]).max() < 0.2
    assert np.abs(np.delete(shift, [8, 57], axis=0)).max() < 0.2  # only the points dragged moved
    assert edited["image"] != plain["image"]
    status, full = post(server + "/api/translate", {"photo": key, "expression": "surprise", "intensity": "2.5",
                                                    "moves": moved})
    assert status == 200 and full["label"] == edited["label"] and full["name"] == "big_surprise2.5_moved"
    assert decoded(full["image"]).shape == (900, 1200, 3)  # the download: the whole photo at its size
    assert np.abs(np.array(full["faces"][0]["landmarks"]) - edited["faces"][0]["landmarks"]).max() < 0.2
    status, mixed = post(server + "/api/edit", {"photo": key, "expression": "happy:0.6,surprise:0.4",
                                               "regions": "mouth=1.5,eyes=0"})
    assert status == 200 and mixed["label"] == "happy 60% + surprise 40%, 4, eyes x0, mouth x1.5"


def test_another_photo_s_expression(server: str) -> None:
    status, like = post(server + "/api/like", {"sample": "synthetic_syn0002.png"})
    assert status == 200, like
    assert np.array(like["expression"]).shape == (68, 2) and like["name"] == "synthetic_syn0002"
    assert like["face"].startswith("data:image/png") and like["label"]
    key = upload(server)["photo"]
    for route in ("/api/edit", "/api/translate"):
        status, body = post(server + route, {"photo": key, "like": json.dumps(like["expression"]), "intensity": "0.5"})
        assert status == 200 and body["label"] == "like the other face x0.5", body
    status, body = post(server + "/api/like", {}, ("noise.png", encoded(Image.new("RGB", (64, 64)))))
    assert status == 400 and "no face found in 'noise.png'" in body["error"]


@pytest.mark.parametrize("fields, message", [
    ({"regions": "lips=2"}, "unknown region 'lips'; the regions are brows, eyes, nose, mouth, jaw"),
    ({"regions": "mouth=9"}, "a region's strength is a number from 0 (keep the face's own) to 3, mouth has 9.0"),
    ({"regions": "mouth:2"}, "region=factor such as mouth=1.5"),
    ({"moves": "[[0, 57, 1"}, "moves must be JSON: a list of [face, point, dx, dy]"),
    ({"moves": "[[0, 68, 1, 1]]"}, "a point from 0 to 67, got [0, 68]"),
    ({"moves": "[[0, 5, 1]]"}, "moves must be a list of [face, point, dx, dy], of finite numbers"),
    ({"moves": '[[0, 5, 1, "up"]]'}, "of finite numbers"),
    ({"moves": "[[0, 5, 1e999, 0]]"}, "of finite numbers"),
    ({"moves": "[[0, 5, 1000000, 0]]"}, "larger than any photo"),
    ({"moves": "[[4, 5, 1, 0]]"}, "moves name face 4, but the photo has 1 face(s)"),
    ({"moves": "[" * 100_000}, "moves is too long"),
    ({"like": "[[1, 2]]"}, "like must be the 68 [dx, dy] pairs /api/like answers"),
    ({"like": json.dumps([[500, 0]] * 68)}, "more than the face's frame"),
    ({"expression": "", "like": json.dumps([[0, 0]] * 68), "intensity": "3"},
     "strength is a number from 0 (the face's own expression)"),
    ({"like": json.dumps([[0, 0]] * 68)}, "give an expression or like= another photo, not both"),
    ({"expression": "happy:0.5,sad:-1"}, "a mix is written name:share,name:share"),
    ({"expression": "happy:0,sad:0"}, "the shares of the mix add up to 0"),
    ({"expression": "bored:1,sad:1"}, "unknown expression 'bored'"),
    ({"expression": ""}, "no expression given; choose one of neutral"),
    ({"intensity": "6.5"}, "the intensity is a number from 0 (the face's own expression) to 6, got 6.5"),
])
def test_control_fields_are_checked(server: str, fields: dict, message: str) -> None:
    key = upload(server, encoded(Image.fromarray(data.astronaut()), "JPEG"))["photo"]
    for route in ("/api/edit", "/api/translate"):
        status, body = post(server + route, {"photo": key, "expression": "happy", **fields})
        assert status == 400 and message in body["error"] and list(body) == ["error"], (route, body)


def test_edits_need_a_kept_photo_and_every_expression_takes_no_controls(server: str) -> None:
    status, body = post(server + "/api/edit", {"expression": "happy"})
    assert status == 400 and "an edit needs the photo's key from /api/photo" in body["error"]
    status, body = post(server + "/api/edit", {"photo": "x" * 32, "expression": "happy"})
    assert status == 410 and "upload it again" in body["error"]
    status, body = post(server + "/api/translate", {"sample": "astronaut.jpg", "all": "true", "regions": "mouth=2"})
    assert status == 400 and "every expression is made at the levels the model learned" in body["error"]


def test_what_the_server_keeps_is_bounded_expires_and_is_reachable_only_by_its_key(pipe: LandmarkGANPipeline) -> None:
    clock = Clock()
    store = PhotoStore(max_photos=2, max_bytes=100 * 2**20, idle_seconds=60, clock=clock)
    with running(create_app(pipe, store=store)) as url:
        first, second = upload(url), upload(url, encoded(Image.fromarray(data.astronaut()), "PNG"))
        assert first["photo"] != second["photo"] and min(len(first["photo"]), len(second["photo"])) >= 32
        # each key reaches its own photo only: the big JPEG's edits come back at the big photo's shape
        for key, shape in ((first["photo"], (600, 800, 3)), (second["photo"], (512, 512, 3))):
            status, body = post(url + "/api/edit", {"photo": key, "expression": "sad"})
            assert status == 200 and decoded(body["image"]).shape == shape
        # what a kept photo holds is counted: the photo, its aligned face, stage I's displacements, the live copy
        kept = store.get(first["photo"])
        expected = (kept.faces.pixels.nbytes + sum(f.face.nbytes for f in kept.faces.faces) + kept.live.nbytes
                    + sum(d.moves.nbytes for d in kept.displacements))
        assert kept.nbytes == expected and store.nbytes == expected + store.get(second["photo"]).nbytes
        assert kept.live.shape == (600, 800, 3) and len(kept.displacements[0].labels) == 25
        # the count is bounded: a third photo pushes out the least recently used
        third = upload(url)
        assert post(url + "/api/edit", {"photo": first["photo"], "expression": "sad"})[0] == 410
        # and kept photos expire when idle
        clock.now = 61
        for key in (second["photo"], third["photo"]):
            status, body = post(url + "/api/edit", {"photo": key, "expression": "sad"})
            assert status == 410 and "expired" in body["error"]
        assert len(store) == 0
