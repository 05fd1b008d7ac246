"""Readers of the paper's data sets: file naming -> labels, unknown codes, the paper's splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from landmarkgan.data.readers import (
    SourceImage,
    num_test,
    read_dataset,
    sample_per_expression,
    split_subjects,
)
from landmarkgan.errors import LandmarkGANError


def touch(root: Path, *names: str) -> None:
    """Create empty files: readers look at names only (prepare loads the pixels)."""
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")


def by_name(images: list[SourceImage]) -> dict[str, SourceImage]:
    return {im.path.name: im for im in images}


def subjects_of(images: list[SourceImage], split: str) -> set[str]:
    return {im.subject for im in images if im.split == split}


# ------------------------------------------------------------------------------------------ JAFFE
JAFFE_SUBJECTS = ("KA", "KL", "KM", "KR", "MK", "NA", "NM", "TM", "UY", "YM")


def make_jaffe(root: Path) -> None:
    index = 0
    for subject in JAFFE_SUBJECTS:
        for code in ("NE", "HA", "SA", "SU", "AN", "DI", "FE"):
            for repeat in (1, 2):
                index += 1
                touch(root, f"jaffe/{subject}.{code}{repeat}.{index}.tiff")
    touch(root, "jaffe/README", "jaffe/cover.png")


def test_jaffe_names_and_paper_split(tmp_path: Path) -> None:
    make_jaffe(tmp_path)
    result = read_dataset("jaffe", tmp_path, seed=3)
    assert len(result.images) == 10 * 7 * 2
    first = by_name(result.images)["KA.AN1.9.tiff"]
    assert (first.subject, first.expression, first.intensity, first.view) == ("KA", "angry", 0, "")
    assert first.extra == {"repeat": 1, "index": 9}
    assert {im.expression for im in result.images} == {"neutral", "happy", "sad", "surprise", "angry", "disgust", "fear"}
    # README is not an image; cover.png is an image outside the naming scheme
    assert [p.name for p in result.outside_layout] == ["cover.png"]
    assert result.not_sampled == []
    test, train = subjects_of(result.images, "test"), subjects_of(result.images, "train")
    assert len(test) == 2 and len(train) == 8 and not test & train
    again = read_dataset("jaffe", tmp_path, seed=3)
    assert [im.split for im in again.images] == [im.split for im in result.images]
    others = {frozenset(subjects_of(read_dataset("jaffe", tmp_path, seed=s).images, "test")) for s in range(6)}
    assert len(others) > 1  # the seed decides which subjects are held out


def test_jaffe_unknown_code_names_file_and_code(tmp_path: Path) -> None:
    touch(tmp_path, "KA.NE1.1.tiff", "KA.XX1.2.tiff")
    with pytest.raises(LandmarkGANError, match=r"KA\.XX1\.2\.tiff.*'XX'"):
        read_dataset("jaffe", tmp_path)


# ---------------------------------------------------------------------------------------- BU-3DFE
def make_bu3dfe(root: Path, n_subjects: int) -> None:
    for k in range(n_subjects):
        subject = f"{'FM'[k % 2]}{k + 1:04d}"
        touch(root, f"BU3DFE/{subject}/{subject}_NE00WH_F2D.bmp", f"BU3DFE/{subject}/{subject}_NE00WH_F3D.bmp")
        for code in ("AN", "DI", "FE", "HA", "SA", "SU"):
            for level in range(1, 5):
                touch(root, f"BU3DFE/{subject}/{subject}_{code}0{level}AE_F2D.bmp")


def test_bu3dfe_names_intensities_and_split(tmp_path: Path) -> None:
    make_bu3dfe(tmp_path, 100)
    result = read_dataset("bu3dfe", tmp_path)
    assert len(result.images) == 100 * 25
    images = by_name(result.images)
    happy = images["M0002_HA03AE_F2D.bmp"]
    assert (happy.subject, happy.expression, happy.intensity, happy.extra) == ("M0002", "happy", 3, {"race": "AE"})
    neutral = images["F0001_NE00WH_F2D.bmp"]
    assert (neutral.expression, neutral.intensity, neutral.extra["race"]) == ("neutral", 0, "WH")
    assert len(result.outside_layout) == 100 and all("_F3D" in p.name for p in result.outside_layout)
    test, train = subjects_of(result.images, "test"), subjects_of(result.images, "train")
    assert len(test) == 10 and len(train) == 90 and not test & train


def test_bu3dfe_split_scales_down_with_fewer_subjects(tmp_path: Path) -> None:
    make_bu3dfe(tmp_path, 30)
    images = read_dataset("bu3dfe", tmp_path).images
    assert len(subjects_of(images, "test")) == 3


@pytest.mark.parametrize("name, code", [("F0001_XX01WH_F2D.bmp", "'XX'"), ("F0001_NE02WH_F2D.bmp", "NE"),
                                        ("F0001_HA00WH_F2D.bmp", "HA"), ("F0001_HA05WH_F2D.bmp", "HA")])
def test_bu3dfe_bad_codes(tmp_path: Path, name: str, code: str) -> None:
    touch(tmp_path, "F0001/F0001_NE00WH_F2D.bmp", f"F0001/{name}")
    with pytest.raises(LandmarkGANError, match=f"{name}.*{code}"):
        read_dataset("bu3dfe", tmp_path)


# ------------------------------------------------------------------------------------------- FERG
FERG_WORDS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


def test_ferg_names(tmp_path: Path) -> None:
    for character in ("aia", "ray"):
        for word in FERG_WORDS:
            for n in (1, 2, 3):
                touch(tmp_path, f"FERG_DB_256/{character}/{character}_{word}/{character}_{word}_{n}.png")
    touch(tmp_path, "FERG_DB_256/aia/aia_joy/thumbs.png", "FERG_DB_256/aia_joy_4.png")
    result = read_dataset("ferg", tmp_path)
    assert len(result.images) == 2 * 7 * 3
    joy = by_name(result.images)["aia_joy_2.png"]
    assert (joy.subject, joy.expression, joy.view, joy.extra) == ("aia", "happy", "", {"number": 2})
    assert sorted(p.name for p in result.outside_layout) == ["aia_joy_4.png", "thumbs.png"]
    assert {im.expression for im in result.images} == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}
    # 6 images per expression (< 1,200): all kept, 6 * 100 / 1,200 = 0.5 -> at least 1 test image each
    for expression in {im.expression for im in result.images}:
        splits = [im.split for im in result.images if im.expression == expression]
        assert len(splits) == 6 and splits.count("test") == 1


def test_ferg_reports_images_left_out_by_sampling(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import landmarkgan.data.readers as readers

    for n in range(1, 7):
        touch(tmp_path, f"aia/aia_joy/aia_joy_{n}.png", f"ray/ray_fear/ray_fear_{n}.png")
    monkeypatch.setattr(readers, "FERG_PER_EXPRESSION", 4)
    result = read_dataset("ferg", tmp_path)
    assert len(result.images) == 8 and len(result.not_sampled) == 4
    assert {p.name for p in result.not_sampled}.isdisjoint(im.path.name for im in result.images)
    assert sum(im.split == "test" for im in result.images) == 2


@pytest.mark.parametrize("character, word, code", [("aia", "smirk", "'smirk'"), ("bob", "joy", "'bob'")])
def test_ferg_unknown_codes(tmp_path: Path, character: str, word: str, code: str) -> None:
    touch(tmp_path, f"{character}/{character}_{word}/{character}_{word}_1.png")
    with pytest.raises(LandmarkGANError, match=f"{character}_{word}_1.png.*{code}"):
        read_dataset("ferg", tmp_path)


def fake_images(per_expression: dict[str, int]) -> list[SourceImage]:
    return [SourceImage(Path(f"{e}_{i}.png"), f"c{i % 6}", e)
            for e, n in per_expression.items() for i in range(n)]


def test_ferg_protocol_samples_1200_per_expression_100_test() -> None:
    images = fake_images({"happy": 1500, "sad": 1250, "fear": 240})
    kept, left = sample_per_expression(images, seed=1)
    for expression, n_kept, n_test in (("happy", 1200, 100), ("sad", 1200, 100), ("fear", 240, 20)):
        mine = [im for im in kept if im.expression == expression]
        assert len(mine) == n_kept and sum(im.split == "test" for im in mine) == n_test
    assert len(left) == 300 + 50 and {im.path for im in kept}.isdisjoint(im.path for im in left)
    again, _ = sample_per_expression(images, seed=1)
    assert [(im.path, im.split) for im in again] == [(im.path, im.split) for im in kept]
    other, _ = sample_per_expression(images, seed=2)
    assert [(im.path, im.split) for im in other] != [(im.path, im.split) for im in kept]


# ------------------------------------------------------------------------------------------- RaFD
RAFD_WORDS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")


def test_rafd_names_views_and_split(tmp_path: Path) -> None:
    for subject in range(1, 68):
        for word in RAFD_WORDS:
            touch(tmp_path, f"Rafd090_{subject:02d}_Caucasian_female_{word}_frontal.jpg")
        touch(tmp_path, f"Rafd045_{subject:02d}_Moroccan_male_happy_left.jpg")
    result = read_dataset("rafd", tmp_path)
    assert len(result.images) == 67 * 9
    images = by_name(result.images)
    contempt = images["Rafd090_07_Caucasian_female_contemptuous_frontal.jpg"]
    assert (contempt.subject, contempt.expression, contempt.view) == ("07", "contempt", "090_frontal")
    assert contempt.extra == {"ethnicity": "caucasian", "gender": "female"}
    assert images["Rafd045_07_Moroccan_male_happy_left.jpg"].view == "045_left"
    test, train = subjects_of(result.images, "test"), subjects_of(result.images, "train")
    assert (len(test), len(train)) == (22, 45) and not test & train  # round(67 * 0.33) = 22


@pytest.mark.parametrize("name, code", [("Rafd090_01_Caucasian_female_bored_frontal.jpg", "'bored'"),
                                        ("Rafd030_01_Caucasian_female_happy_frontal.jpg", "'030'"),
                                        ("Rafd090_01_Caucasian_female_happy_up.jpg", "'up'")])
def test_rafd_unknown_codes(tmp_path: Path, name: str, code: str) -> None:
    touch(tmp_path, name)
    with pytest.raises(LandmarkGANError, match=f"{name}.*{code}"):
        read_dataset("rafd", tmp_path)


# ----------------------------------------------------------------------------------------- folder
def test_folder_layout(tmp_path: Path) -> None:
    touch(tmp_path, "alice/happy_3_take2.jpg", "alice/neutral.png", "alice/Surprised_17.png",
          "bob/HA_1.png", "bob/sad.png", "carol/neutral.png", "carol/fear_4.png",
          "dave/anger.png", "dave/neutral_0.png", "stray.png", "alice/old/happy.png")
    result = read_dataset("folder", tmp_path, test_fraction=0.5, seed=0)
    images = {str(im.path.relative_to(tmp_path)): im for im in result.images}
    expected = {"alice/happy_3_take2.jpg": ("alice", "happy", 3), "alice/neutral.png": ("alice", "neutral", 0),
                "alice/Surprised_17.png": ("alice", "surprise", 0), "bob/HA_1.png": ("bob", "happy", 1),
                "carol/fear_4.png": ("carol", "fear", 4), "dave/anger.png": ("dave", "angry", 0)}
    for name, fields in expected.items():
        assert (images[name].subject, images[name].expression, images[name].intensity) == fields
    assert sorted(str(p.relative_to(tmp_path)) for p in result.outside_layout) == ["alice/old/happy.png", "stray.png"]
    assert len(subjects_of(result.images, "test")) == 2
    default = read_dataset("folder", tmp_path).images  # 0.2 of 4 subjects rounds to 1
    assert len(subjects_of(default, "test")) == 1


def test_folder_unknown_expression(tmp_path: Path) -> None:
    touch(tmp_path, "alice/neutral.png", "alice/smirk_2.png")
    with pytest.raises(LandmarkGANError, match=r"smirk_2\.png.*'smirk'"):
        read_dataset("folder", tmp_path)


# ------------------------------------------------------------------------------- splits and errors
@pytest.mark.parametrize("total, fraction, expected", [(10, 0.2, 2), (100, 0.1, 10), (67, 0.33, 22),
                                                       (3, 0.01, 1), (3, 0.99, 2), (1, 0.5, 0)])
def test_num_test(total: int, fraction: float, expected: int) -> None:
    assert num_test(total, fraction) == expected


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_bad_test_fraction(fraction: float) -> None:
    with pytest.raises(LandmarkGANError, match="test fraction"):
        split_subjects(fake_images({"happy": 4}), fraction)


def test_split_subjects_keeps_each_subject_in_one_split() -> None:
    images = fake_images({"happy": 30, "sad": 30})  # subjects c0..c5
    split = split_subjects(images, 0.5, seed=4)
    for subject in {im.subject for im in split}:
        assert len({im.split for im in split if im.subject == subject}) == 1
    assert len(subjects_of(split, "test")) == 3


def test_missing_empty_and_foreign_folders(tmp_path: Path) -> None:
    with pytest.raises(LandmarkGANError, match="does not exist"):
        read_dataset("jaffe", tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LandmarkGANError, match="no image files"):
        read_dataset("jaffe", tmp_path / "empty")
    touch(tmp_path, "other/photo.png")
    with pytest.raises(LandmarkGANError, match="found no jaffe images.*1 image file"):
        read_dataset("jaffe", tmp_path / "other")
    with pytest.raises(LandmarkGANError, match="unknown data set kind 'ck'"):
        read_dataset("ck", tmp_path / "other")
