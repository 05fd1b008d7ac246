"""Direct control of the target landmarks (issue 34): any intensity, mixes, per-region strength, your own landmarks,
another photo's expression and morphs, in Python and on the command line.

The behaviour is checked with the built-in model on synthetic faces, which it was trained on and which are drawn
with exact landmarks, and on the bundled photo; the checks of inputs use a tiny untrained model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from landmarkgan.assets import asset_path
from landmarkgan.cli import main
from landmarkgan.data.images import save_image
from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.control import REGIONS, parse_mix, parse_regions
from landmarkgan.landmarks.detector import FaceLandmarkDetector

from helpers import SIZE, tiny_model

MOUTH = list(REGIONS["mouth"])
PHOTO = asset_path("faces") / "astronaut.jpg"


@pytest.fixture(scope="module")
def pipe() -> LandmarkGANPipeline:
    return LandmarkGANPipeline.from_pretrained(device="cpu", detector="hog")


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A neutral synthetic face (an aligned 128 x 128 crop) of a person the model never saw."""
    return render_face(sample_identity(np.random.default_rng(1)), "neutral", 0, 128)[0]


def mouth_gap(points: np.ndarray) -> float:
    """How far the inner lips stand apart: the mean of the three upper-lower pairs (61-67, 62-66, 63-65)."""
    return float(np.mean([points[lower, 1] - points[upper, 1] for upper, lower in ((61, 67), (62, 66), (63, 65))]))


def dark_mouth(image: np.ndarray, points: np.ndarray) -> int:
    """Dark pixels (an open mouth's inside) in the box around the lips."""
    left, top = np.floor(points[MOUTH].min(0) - 3).astype(int)
    right, bottom = np.ceil(points[MOUTH].max(0) + 3).astype(int)
    return int((image[top:bottom, left:right].astype(float).mean(2) < 70).sum())


def test_intensity_2_5_lies_between_levels_2_and_3(pipe: LandmarkGANPipeline, face: np.ndarray) -> None:
    two, three, half = (pipe(face, "surprise", t, align=False).landmarks for t in (2, 3, 2.5))
    assert np.abs(half - (two + three) / 2).max() < 1e-3
    along = ((half - two) * (three - two)).sum(1) / np.maximum(((three - two) ** 2).sum(1), 1e-12)
    moving = np.linalg.norm(three - two, axis=1) > 0.1
    assert moving.sum() > 20 and np.allclose(along[moving], 0.5, atol=1e-3)
    result = pipe(face, "surprise", 2.5, align=False)
    assert result.label == "surprise 2.5" and result.name == "surprise2.5"
    assert result.to_json()["control"] == {"intensity": 2.5, "regions": {}, "expression": {"surprise": 1.0}}


def test_the_surprised_mouth_opens_wider_with_intensity_from_0_to_6(pipe: LandmarkGANPipeline,
                                                                     face: np.ndarray) -> None:
    results = [pipe(face, "surprise", t, align=False) for t in (0, 0.5, 1, 2, 3, 4, 5, 6)]
    gaps = [mouth_gap(r.landmarks) for r in results]
    assert all(b > a + 0.5 for a, b in zip(gaps, gaps[1:])), gaps
    assert np.array_equal(results[0].image, face)  # 0 is the face's own expression: it comes back as it was
    dark = [dark_mouth(r.image, r.landmarks) for r in results]
    assert dark[0] == 0 and dark[2] < dark[3] < dark[5] and min(dark[5:]) > 0.8 * dark[5], dark  # open, and stays open


def test_a_50_50_mix_lies_between_its_two_expressions(pipe: LandmarkGANPipeline, face: np.ndarray) -> None:
    happy, surprise = (pipe(face, e, 3, align=False).landmarks for e in ("happy", "surprise"))
    mix = pipe(face, {"happy": 1, "surprise": 1}, 3, align=False)
    assert np.abs(mix.landmarks - (happy + surprise) / 2).max() < 1e-3
    assert mix.label == "happy 50% + surprise 50%, 3" and mix.name == "happy50-surprise50_3"
    assert mix.expression in ("happy", "surprise") and mix.intensity == 3  # the label stage II leans on most
    assert np.abs(pipe(face, {"happy": 1.0}, 3, align=False).landmarks - happy).max() < 1e-3


def test_regions_scale_each_group_and_0_keeps_the_source(pipe: LandmarkGANPipeline, face: np.ndarray) -> None:
    own = pipe(face, "surprise", 0, align=False).landmarks
    full = pipe(face, "surprise", 4, align=False).landmarks
    kept = pipe(face, "surprise", 4, align=False, regions={"mouth": 0})
    assert np.abs(kept.landmarks[MOUTH] - own[MOUTH]).max() < 1e-4  # the source's own mouth
    others = [k for k in range(68) if k not in MOUTH]
    assert np.abs(kept.landmarks[others] - full[others]).max() < 1e-4  # the rest as asked
    more = pipe(face, "surprise", 4, align=False, regions={"mouth": 1.5, "eyes": 0.5}).landmarks
    assert np.allclose(more[MOUTH] - own[MOUTH], 1.5 * (full[MOUTH] - own[MOUTH]), atol=1e-3)
    eyes = list(REGIONS["eyes"])
    assert np.allclose(more[eyes] - own[eyes], 0.5 * (full[eyes] - own[eyes]), atol=1e-3)
    assert kept.label == "surprise 4, mouth x0"


def test_edit_renders_the_given_landmarks_and_the_output_shows_them(pipe: LandmarkGANPipeline) -> None:
    """On the bundled photo: the mouth's landmarks of a surprised face, given in the photo's pixels."""
    surprised = pipe(PHOTO, "surprise", 4)
    given = surprised.landmarks_in_photo(surprised.source_landmarks)
    given[MOUTH] = surprised.landmarks_in_photo()[MOUTH]
    result = pipe.edit(PHOTO, given)
    assert np.abs(result.landmarks_in_photo() - given).max() < 1e-3 and result.label == "your landmarks"
    detector = FaceLandmarkDetector("hog")
    before, after = (detector.small_face_landmarks(image)[MOUTH] for image in (result.source, result.image))
    target = result.landmarks[MOUTH]
    assert np.linalg.norm(after - target, axis=1).mean() < 0.85 * np.linalg.norm(before - target, axis=1).mean()
    aligned = pipe.edit(PHOTO, result.landmarks, frame="aligned")  # the same points in the model's frame
    assert np.abs(aligned.landmarks - result.landmarks).max() < 1e-3
    assert np.abs(aligned.photo.astype(int) - result.photo).max() <= 1


def test_like_gives_a_neutral_face_a_surprised_face_s_open_mouth(pipe: LandmarkGANPipeline, face: np.ndarray) -> None:
    other, other_points = render_face(sample_identity(np.random.default_rng(101)), "surprise", 4, 128)
    copied = pipe(face, like=other, align=False)
    own = pipe(face, "surprise", 0, align=False)
    assert mouth_gap(copied.landmarks) > mouth_gap(own.landmarks) + 5
    assert dark_mouth(copied.image, copied.landmarks) > 20 and dark_mouth(own.image, own.landmarks) == 0
    assert copied.expression == "surprise" and copied.label == "like the other face"
    half = pipe(face, like=other, intensity=0.5, align=False)
    assert np.allclose(half.landmarks, (own.landmarks + copied.landmarks) / 2, atol=1e-3)
    neutral = render_face(sample_identity(np.random.default_rng(102)), "neutral", 0, 128)[0]
    assert mouth_gap(pipe(face, like=neutral, align=False).landmarks) < mouth_gap(own.landmarks) + 1.5


def test_morph_runs_from_the_face_s_own_expression_to_the_target(pipe: LandmarkGANPipeline, face: np.ndarray) -> None:
    frames = pipe.morph(face, "surprise", 3, align=False, frames=10)
    assert len(frames) == 10 and np.array_equal(frames[0].image, face)
    assert np.abs(frames[-1].landmarks - pipe(face, "surprise", 3, align=False).landmarks).max() < 1e-3
    gaps = [mouth_gap(f.landmarks) for f in frames]
    assert all(b > a for a, b in zip(gaps, gaps[1:]))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> LandmarkGANPipeline:
    folder = tmp_path_factory.mktemp("tiny")
    tiny_model(generator="warp", stage2_landmark_image="drawn").save_pretrained(folder)
    return LandmarkGANPipeline.from_pretrained(folder, device="cpu")


def synthetic(size: int = SIZE, seed: int = 3) -> np.ndarray:
    return render_face(sample_identity(np.random.default_rng(seed)), "neutral", 0, size)[0]


@pytest.mark.parametrize("kwargs, message", [
    ({"expression": "happy", "intensity": 6.5}, "intensity is a number from 0 (the face's own expression) to 6"),
    ({"expression": "happy", "intensity": -1}, "from 0"),
    ({"expression": "happy", "intensity": "high"}, "got 'high'"),
    ({"expression": "happy", "intensity": float("nan")}, "got nan"),
    ({"expression": "happy", "intensity": True}, "got True"),
    ({"expression": {"happy": 0, "sad": 0}}, "add up to 0"),
    ({"expression": {"happy": -1}}, "at least 0"),
    ({"expression": {"happy": 1, "HA": 1}}, "names happy twice"),
    ({"expression": {"bored": 1}}, "unknown expression 'bored'"),
    ({"expression": {}}, "a mix such as"),
    ({"expression": "happy", "regions": {"lips": 1}}, "unknown region 'lips'; the regions are brows, eyes, nose"),
    ({"expression": "happy", "regions": {"mouth": 4}}, "from 0 (keep the face's own) to 3"),
    ({"expression": "happy", "regions": ["mouth"]}, "regions must be a mapping"),
    ({}, "give the expression to change to, or like= another photo"),
    ({"expression": "happy", "like": "x.png"}, "not both"),
])
def test_controls_are_checked_with_clear_messages(tiny: LandmarkGANPipeline, kwargs: dict, message: str) -> None:
    with pytest.raises(LandmarkGANError) as error:
        tiny(synthetic(), align=False, **kwargs)
    assert message in str(error.value)


def test_like_strength_is_checked_and_edit_landmarks_too(tiny: LandmarkGANPipeline) -> None:
    other = synthetic(seed=4)
    with pytest.raises(LandmarkGANError, match="strength is a number from 0 .* to 1.5"):
        tiny(synthetic(), like=other, intensity=2, align=False)
    with pytest.raises(LandmarkGANError, match=r"\(68, 2\) points for one face or \(N, 68, 2\)"):
        tiny.edit(synthetic(), np.zeros((5, 2)), align=False)
    with pytest.raises(LandmarkGANError, match="NaN or infinite"):
        tiny.edit(synthetic(), np.full((68, 2), np.nan), align=False)
    with pytest.raises(LandmarkGANError, match="frame is 'photo'"):
        tiny.edit(synthetic(), np.zeros((68, 2)), frame="crop", align=False)
    with pytest.raises(LandmarkGANError, match="2 set\\(s\\) of landmarks for 1 face"):
        tiny.edit(synthetic(), np.zeros((2, 68, 2)), frame="aligned", align=False)
    with pytest.raises(LandmarkGANError, match="from 2 to 240 frames"):
        tiny.morph(synthetic(), "happy", align=False, frames=1)


def test_a_model_without_intensity_levels_takes_a_strength(tmp_path: Path) -> None:
    tiny_model(generator="warp", num_intensities=0).save_pretrained(tmp_path)
    pipe = LandmarkGANPipeline.from_pretrained(tmp_path, device="cpu")
    face = synthetic()
    own, full, half = (pipe(face, "happy", t, align=False).landmarks for t in (0, None, 0.5))
    assert np.allclose(half, (own + full) / 2, atol=1e-3)
    assert pipe(face, "happy", 1.5, align=False).label == "happy 1.5"
    with pytest.raises(LandmarkGANError, match="strength is a number from 0 .* to 1.5"):
        pipe(face, "happy", 3, align=False)


def test_the_papers_generator_takes_controls_too(tmp_path: Path) -> None:
    """The U-Net stage II reads a landmark image drawn from the chosen points; 0 keeps the detected landmarks."""
    tiny_model().save_pretrained(tmp_path)
    pipe = LandmarkGANPipeline.from_pretrained(tmp_path, device="cpu", detector="hog")
    result = pipe(PHOTO, "happy", 0)
    assert np.abs(result.landmarks - result.source_landmarks).max() < 1e-3
    mixed = pipe(PHOTO, {"happy": 0.5, "sad": 0.5}, 2.5, regions={"jaw": 0})
    assert mixed.photo.shape == (512, 512, 3) and mixed.landmark_image.shape == (SIZE, SIZE, 3)


def test_text_forms_of_mixes_and_regions() -> None:
    assert parse_mix("happy") == {"happy": 1.0}
    assert parse_mix(" happy:0.6, surprise:0.4 ") == {"happy": 0.6, "surprise": 0.4}
    assert parse_regions(["mouth=1.5", "eyes=0.5,brows=0"]) == {"mouth": 1.5, "eyes": 0.5, "brows": 0.0}
    for bad in ("happy:", "happy:0.6,", "happy:-1", "happy:1e3", "happy:0.5,happy:0.5"):
        with pytest.raises(LandmarkGANError, match="name:share|twice"):
            parse_mix(bad)
    with pytest.raises(LandmarkGANError, match="region=factor such as mouth=1.5"):
        parse_regions(["mouth:1.5"])


def test_cli_controls(tiny: LandmarkGANPipeline, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "model"
    tiny.save_pretrained(model)
    photo = save_image(np.asarray(Image.open(PHOTO).convert("RGB")), tmp_path / "me.png")
    other = save_image(render_face(sample_identity(np.random.default_rng(5)), "surprise", 4, 256)[0],
                       tmp_path / "other.png")
    out = tmp_path / "out"
    common = ["--model", str(model), "--detector", "hog", "-o", str(out)]
    assert main(["translate", str(photo), "-e", "happy:0.6,surprise:0.4", "--intensity", "2.5", "--region",
                 "mouth=1.5", "--region", "eyes=0.5", *common]) == 0
    record = json.loads((out / "me_happy60-surprise40_2.5_eyes0.5_mouth1.5.json").read_text())
    assert record["control"] == {"intensity": 2.5, "regions": {"eyes": 0.5, "mouth": 1.5},
                                 "expression": {"happy": 0.6, "surprise": 0.4}}
    assert (out / "me_happy60-surprise40_2.5_eyes0.5_mouth1.5.png").is_file()
    assert main(["translate", str(photo), "--like", str(other), "--intensity", "0.5", *common]) == 0
    assert json.loads((out / "me_like0.5.json").read_text())["control"] == {"intensity": 0.5, "regions": {},
                                                                             "like": True}

    # your own landmarks, from the JSON translate writes: the mouth opened by 12 pixels
    assert main(["translate", str(photo), "-e", "neutral", *common]) == 0
    edited = json.loads((out / "me_neutral.json").read_text())
    points = np.array(edited["faces"][0]["source_landmarks"])
    points[[56, 57, 58, 65, 66, 67], 1] += 12
    edited["faces"][0]["landmarks"] = points.tolist()
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert main(["translate", str(photo), "--landmarks", str(tmp_path / "edited.json"), *common]) == 0
    written = json.loads((out / "me_edited.json").read_text())
    assert np.abs(np.array(written["faces"][0]["landmarks"]) - points).max() < 0.02

    # a morph
    assert main(["translate", str(photo), "-e", "surprise", "--animate", str(tmp_path / "morph.gif"),
                 "--frames", "12", *common]) == 0
    with Image.open(tmp_path / "morph.gif") as gif:
        assert gif.n_frames == 12 and gif.size == (512, 512)
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(11)
        last = np.asarray(gif.convert("RGB"))
    assert np.abs(first.astype(int) - np.asarray(Image.open(photo))).mean() < 3  # the face's own expression
    assert np.abs(last.astype(int) - first).max() > 60  # ... to the surprised one
    assert "wrote the morph (12 frames)" in capsys.readouterr().out


def test_cli_help_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["translate", "--help"])
    text = capsys.readouterr().out
    for flag in ("--intensity", "happy:0.6,surprise:0.4", "--region", "--like", "--landmarks", "--animate",
                 "--frames"):
        assert flag in text
    photo = str(PHOTO)
    assert main(["translate", photo, "-e", "happy", "--intensity", "7", "-o", str(tmp_path)]) == 2
    assert "intensity is a number from 0" in capsys.readouterr().err
    assert main(["translate", photo, "-e", "happy", "--region", "lips=2", "-o", str(tmp_path)]) == 2
    assert "unknown region 'lips'" in capsys.readouterr().err
    assert main(["translate", photo, "--all", "--region", "mouth=2", "-o", str(tmp_path)]) == 2
    assert "--all makes every expression" in capsys.readouterr().err
    assert main(["translate", photo, "-e", "happy", "--animate", str(tmp_path / "a.webm"), "-o", str(tmp_path)]) == 2
    assert ".gif" in capsys.readouterr().err
    assert main(["translate", photo, "--landmarks", str(tmp_path / "none.json"), "-o", str(tmp_path)]) == 2
    assert "none.json" in capsys.readouterr().err
