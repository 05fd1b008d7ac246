"""``prepare_dataset`` and ``landmarkgan prepare`` end to end, with dlib and with a scripted detector."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from landmarkgan.cli import main
from landmarkgan.data.images import load_image
from landmarkgan.data.manifest import read_manifest
from landmarkgan.data.prepare import REPORT_NAME, prepare_dataset
from landmarkgan.errors import LandmarkGANError
from landmarkgan.landmarks.detector import Detection, FaceLandmarkDetector

ASTRONAUT = data.astronaut()
FACE = ASTRONAUT[20:276, 90:346]  # 256 x 256 around the astronaut's face


def faces() -> dict[str, np.ndarray]:
    """The face and slightly moved copies of it; dlib finds exactly one face in each."""
    return {
        "face": FACE,
        "flipped": FACE[:, ::-1],
        "shifted": ASTRONAUT[40:296, 70:326],
        "scaled": np.asarray(Image.fromarray(ASTRONAUT[0:320, 60:380]).resize((256, 256), Image.Resampling.BICUBIC)),
    }


def save(path: Path, image: np.ndarray, grey: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.ascontiguousarray(image))
    (im.convert("L") if grey else im).save(path)


def truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


NOISE = np.random.default_rng(0).integers(0, 256, size=(256, 256, 3), dtype=np.uint8)
TWO_FACES = np.concatenate([FACE, FACE[:, ::-1]], axis=1)


@pytest.fixture(scope="module")
def detector() -> FaceLandmarkDetector:
    return FaceLandmarkDetector()


def test_jaffe_with_dlib(tmp_path: Path, detector: FaceLandmarkDetector) -> None:
    src, out, size = tmp_path / "jaffe", tmp_path / "out", 128
    f = faces()
    for name, image in (("KA.HA1.1", f["face"]), ("KA.SA1.2", f["flipped"]), ("KB.HA1.3", f["shifted"]),
                        ("KB.SU1.4", f["scaled"]), ("KC.NE1.5", NOISE), ("KC.AN1.6", FACE), ("KC.DI1.7", TWO_FACES)):
        save(src / f"{name}.tiff", image, grey=True)  # JAFFE images are grey TIFFs
    truncate(src / "KC.AN1.6.tiff")
    save(src / "cover.png", FACE)

    report = prepare_dataset("jaffe", src, out, size=size, detector=detector, progress=False)

    assert report.prepared == 4 and sum(report.prepared_per_split.values()) == 4
    skipped = {reason: [Path(p.split(":")[0]).name for p in paths] for reason, paths in report.skipped.items()}
    assert skipped == {"outside_layout": ["cover.png"], "not_sampled": [], "unreadable": ["KC.AN1.6.tiff"],
                       "no_face": ["KC.NE1.5.tiff"], "multiple_faces": ["KC.DI1.7.tiff"]}
    assert "truncated" in report.skipped["unreadable"][0]
    assert json.loads((out / REPORT_NAME).read_text()) == json.loads(json.dumps(asdict(report)))
    assert report.prepared_per_expression == {"happy": 2, "sad": 1, "surprise": 1}

    samples = read_manifest(out)
    assert [(s.subject, s.expression, s.extra["source"]) for s in samples] == [
        ("KA", "happy", "KA.HA1.1.tiff"), ("KA", "sad", "KA.SA1.2.tiff"),
        ("KB", "happy", "KB.HA1.3.tiff"), ("KB", "surprise", "KB.SU1.4.tiff")]
    assert len({s.split for s in samples if s.subject == "KA"}) == 1
    for s in samples:
        image = load_image(out / s.image)
        assert image.shape == (size, size, 3)
        assert ((s.landmarks >= 0) & (s.landmarks < size)).all()
        # the written face and the manifest's landmarks agree: dlib finds the same points again
        found = detector.detect(image)
        assert len(found) == 1
        assert np.linalg.norm(found[0].landmarks - s.landmarks, axis=1).mean() < 0.05 * size


class ScriptedDetector:
    """Stands in for dlib: the 16 x 16 top-left block of an image says how many faces it shows
    (black 0, grey 1, white 2); each face gets the landmarks dlib found on the astronaut."""

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = landmarks

    def detect(self, image: np.ndarray) -> list[Detection]:
        n = int(round(image[:16, :16].mean() / 127.5))
        return [Detection(box=(86, 56, 175, 146), score=1.0, landmarks=self.landmarks.copy()) for _ in range(n)]


def marked(faces_shown: int) -> np.ndarray:
    image = FACE.copy()
    image[:16, :16] = min(255, 128 * faces_shown)
    return image


# For each data set kind: files to write (relative path, faces shown) and what the manifest must say
# for the prepared ones (subject, expression, intensity, view).
CASES = {
    "bu3dfe": [("F0001/F0001_NE00WH_F2D.bmp", 1, ("F0001", "neutral", 0, "")),
               ("F0001/F0001_HA03WH_F2D.bmp", 1, ("F0001", "happy", 3, "")),
               ("F0001/F0001_SU04WH_F2D.bmp", 0, None),
               ("M0002/M0002_AN01AE_F2D.bmp", 1, ("M0002", "angry", 1, "")),
               ("M0002/M0002_DI02AE_F2D.bmp", 2, None)],
    "ferg": [("FERG_DB_256/aia/aia_joy/aia_joy_1.png", 1, ("aia", "happy", 0, "")),
             ("FERG_DB_256/aia/aia_anger/aia_anger_7.png", 1, ("aia", "angry", 0, "")),
             ("FERG_DB_256/ray/ray_sadness/ray_sadness_3.png", 1, ("ray", "sad", 0, "")),
             ("FERG_DB_256/ray/ray_joy/ray_joy_2.png", 0, None)],
    "rafd": [("Rafd090_01_Caucasian_female_neutral_frontal.jpg", 1, ("01", "neutral", 0, "090_frontal")),
             ("Rafd090_01_Caucasian_female_contemptuous_frontal.jpg", 1, ("01", "contempt", 0, "090_frontal")),
             ("Rafd045_02_Moroccan_male_surprised_left.jpg", 1, ("02", "surprise", 0, "045_left")),
             ("Rafd045_02_Moroccan_male_fearful_left.jpg", 2, None)],
    "folder": [("alice/neutral.png", 1, ("alice", "neutral", 0, "")),
               ("alice/happy_2_b.png", 1, ("alice", "happy", 2, "")),
               ("bob/neutral.jpg", 1, ("bob", "neutral", 0, "")),
               ("bob/sad.png", 0, None)],
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_prepare_each_kind_with_scripted_detector(tmp_path: Path, kind: str, detector: FaceLandmarkDetector) -> None:
    src, out, size = tmp_path / "src", tmp_path / "out", 64
    for rel, shown, _ in CASES[kind]:
        save(src / rel, marked(shown))
    reference = detector.detect(FACE)[0].landmarks

    report = prepare_dataset(kind, src, out, size=size, seed=1, detector=ScriptedDetector(reference), progress=False)

    expected = {rel: fields for rel, _, fields in CASES[kind] if fields}
    samples = read_manifest(out)
    assert {s.extra["source"]: (s.subject, s.expression, s.intensity, s.view) for s in samples} == expected
    assert len({s.image for s in samples}) == len(samples) == report.prepared
    counts = {reason: len(paths) for reason, paths in report.skipped.items()}
    assert counts == {"outside_layout": 0, "not_sampled": 0, "unreadable": 0,
                      "no_face": sum(shown == 0 for _, shown, _ in CASES[kind]),
                      "multiple_faces": sum(shown == 2 for _, shown, _ in CASES[kind])}
    for s in samples:
        assert load_image(out / s.image).shape == (size, size, 3)
        assert ((s.landmarks >= 0) & (s.landmarks < size)).all()


def test_nothing_prepared_is_an_error_with_a_report(tmp_path: Path, detector: FaceLandmarkDetector) -> None:
    save(tmp_path / "src/alice/happy.png", marked(0))
    save(tmp_path / "src/alice/sad.png", marked(2))
    with pytest.raises(LandmarkGANError, match="no face could be prepared"):
        prepare_dataset("folder", tmp_path / "src", tmp_path / "out", size=64,
                        detector=ScriptedDetector(np.zeros((68, 2), np.float32)), progress=False)
    report = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert report["prepared"] == 0 and len(report["skipped"]["no_face"]) == 1
    assert not (tmp_path / "out/manifest.jsonl").exists()


def test_missing_and_empty_source(tmp_path: Path) -> None:
    fake = ScriptedDetector(np.zeros((68, 2), np.float32))
    with pytest.raises(LandmarkGANError, match="does not exist"):
        prepare_dataset("rafd", tmp_path / "nowhere", tmp_path / "out", detector=fake)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LandmarkGANError, match="no image files"):
        prepare_dataset("rafd", tmp_path / "empty", tmp_path / "out", detector=fake)
    with pytest.raises(LandmarkGANError, match="at least 16 pixels"):
        prepare_dataset("rafd", tmp_path / "empty", tmp_path / "out", size=8, detector=fake)


def test_cli_prepare(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = faces()
    for rel, image in (("alice/neutral.png", f["face"]), ("alice/happy_1.png", f["flipped"]),
                       ("bob/neutral.png", f["shifted"]), ("bob/surprise.jpg", f["scaled"])):
        save(tmp_path / "src" / rel, image)
    rc = main(["prepare", "folder", str(tmp_path / "src"), str(tmp_path / "out"), "--size", "96",
               "--test-fraction", "0.5", "--seed", "2"])
    assert rc == 0
    assert "prepared 4 folder faces at 96x96" in capsys.readouterr().out
    samples = read_manifest(tmp_path / "out")
    assert {s.split for s in samples} == {"train", "test"}
    assert {s.subject for s in samples if s.split == "test"} in ({"alice"}, {"bob"})

    assert main(["prepare", "jaffe", str(tmp_path / "nowhere"), str(tmp_path / "out2")]) == 2
    assert "landmarkgan prepare: error: data set folder" in capsys.readouterr().err
