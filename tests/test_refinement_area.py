"""Where the warp generator's refinement goes: the feature area, its blend, the pipeline's choice for photos, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data

from landmarkgan.cli import main
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.inference.pipeline import PHOTO_AREA_KEY
from landmarkgan.inference.refinement_area import feature_area, keep_to_area
from landmarkgan.data.synthetic import render_face, sample_identity

from helpers import tiny_model

ASTRONAUT = data.astronaut()


def template(size: int) -> np.ndarray:
    """A neutral drawn face's 68 landmarks (1, 68, 2) in pixels of a size x size frame."""
    _, points = render_face(sample_identity(np.random.default_rng(0)), "neutral", 0, size)
    return np.asarray(points, dtype=np.float64)[None]


def test_the_feature_area_covers_the_mouth_and_eyes_and_nothing_far_from_them() -> None:
    points = template(128)
    area = feature_area(points, 128)
    assert area.shape == (1, 1, 128, 128) and area.dtype == torch.float32
    mouth, left_eye, right_eye = points[0, 48:60].mean(0), points[0, 36:42].mean(0), points[0, 42:48].mean(0)
    for x, y in (mouth, left_eye, right_eye):  # (a neutral mouth's outline is thin: its soft edge reaches inside)
        assert area[0, 0, round(y), round(x)] > 0.6
    forehead = (points[0, 17:27].mean(0) + [0, -20]).round().astype(int)
    nose_bridge, cheek = points[0, 28].round().astype(int), points[0, [2, 31]].mean(0).round().astype(int)
    for x, y in (forehead, nose_bridge, cheek, (2, 2), (125, 125)):
        assert area[0, 0, y, x] < 0.02, (x, y)
    assert ((area >= 0) & (area <= 1)).all()
    big = feature_area(template(256), 256)  # the same area at another size
    assert abs(big.mean().item() - area.mean().item()) < 0.1 * area.mean().item()


def test_keep_to_area_blends_the_refinement_by_the_area_and_leaves_the_rest_to_the_warp() -> None:
    points = torch.as_tensor(template(64), dtype=torch.float32).repeat(2, 1, 1)
    image, warped = torch.full((2, 3, 64, 64), 0.5), torch.full((2, 3, 64, 64), -0.5)
    out = {"image": image, "warped": warped, "landmarks": points}
    keep_to_area(out, "features")
    area = feature_area(points.numpy(), 64)
    assert torch.allclose(out["image"], -0.5 + area * 1.0)  # warped + area * (image - warped), by hand
    untouched = {"image": image, "warped": warped, "landmarks": points}
    keep_to_area(untouched, "face")
    assert untouched["image"] is image
    no_warp = {"image": image, "warped": None, "landmarks": points}
    keep_to_area(no_warp, "features")
    assert no_warp["image"] is image
    with pytest.raises(LandmarkGANError, match="unknown refinement area 'mouth'; use one of: face, features"):
        keep_to_area(out, "mouth")


@pytest.fixture(scope="module")
def builtin() -> LandmarkGANPipeline:
    return LandmarkGANPipeline.from_pretrained(device="cpu", detector="hog")


def test_the_built_in_model_keeps_its_refinement_to_the_features_on_photos(builtin: LandmarkGANPipeline) -> None:
    assert builtin.refinement_area is None and builtin.photo_refinement_area == "features"
    features = builtin(ASTRONAUT, "happy").faces[0]
    whole = builtin.with_refinement_area("face")(ASTRONAUT, "happy").faces[0]
    warp = builtin.with_refinement(0)(ASTRONAUT, "happy").faces[0]
    area = feature_area(features.landmarks[None], builtin.image_size)[0, 0].numpy()
    far, near = area == 0, area == 1
    change = np.abs(features.image.astype(int) - warp.image.astype(int)).mean(axis=2)
    assert change[far].max() <= 1  # the warp alone away from the features (rounding)
    assert change[near].mean() > 5  # the refinement's painting in the mouth and eyes
    assert np.abs(whole.image.astype(int) - warp.image.astype(int)).mean(axis=2)[far].mean() > 2 * change[far].mean()
    assert np.array_equal(features.image[near], whole.image[near])
    # an aligned crop (a drawn face of the data set) gets the model as trained unless asked otherwise
    crop = warp.source
    assert np.array_equal(builtin(crop, "happy", align=False).image,
                          builtin.with_refinement_area("face")(crop, "happy", align=False).image)
    assert not np.array_equal(builtin(crop, "happy", align=False).image,
                              builtin.with_refinement_area("features")(crop, "happy", align=False).image)


def test_a_model_folder_names_its_area_for_photos_and_the_cli_passes_it_on(tmp_path: Path,
                                                                             capsys: pytest.CaptureFixture) -> None:
    tiny_model(generator="warp").save_pretrained(tmp_path / "run", metadata={})
    assert main(["export", str(tmp_path / "folder"), "--model", str(tmp_path / "run"),
                 "--photo-refinement-area", "features"]) == 0
    record = json.loads((tmp_path / "folder" / "config.json").read_text())
    assert record["metadata"][PHOTO_AREA_KEY] == "features"
    assert LandmarkGANPipeline.from_pretrained(tmp_path / "folder").photo_refinement_area == "features"
    assert LandmarkGANPipeline.from_pretrained(tmp_path / "run").photo_refinement_area == "face"
    assert LandmarkGANPipeline.from_pretrained(tmp_path / "folder", refinement_area="face").photo_refinement_area == "face"
    with pytest.raises(LandmarkGANError, match="unknown refinement area"):
        LandmarkGANPipeline.from_pretrained(tmp_path / "folder", refinement_area="everywhere")
    capsys.readouterr()
    assert main(["evaluate", "--data", str(tmp_path), "--model", str(tmp_path / "run"),
                 "--refinement-area", "features"]) == 2
    assert "--refinement-area is for photos (evaluate --photos)" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "m.pt"), "--model", str(tmp_path / "run"),
                 "--refinement-area", "features"]) == 2
    assert "--photo-refinement-area records it" in capsys.readouterr().err
    for command in ("translate", "serve", "augment"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--refinement-area {face,features}" in capsys.readouterr().out
