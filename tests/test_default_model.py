"""The built-in default model does its job: on a real photo the asked expression is visible."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from landmarkgan.assets import asset_path
from landmarkgan.evaluation.photo_movement import MOUTH, mouth_movement
from landmarkgan.inference import LandmarkGANPipeline
from landmarkgan.landmarks.detector import FaceLandmarkDetector
from landmarkgan.training.config import Config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pipe() -> LandmarkGANPipeline:
    return LandmarkGANPipeline.from_pretrained(device="cpu")


def test_the_default_model_is_the_warp_generator(pipe: LandmarkGANPipeline) -> None:
    config = pipe.model.config
    assert config.generator == "warp" and config.image_size == 128 and config.num_intensities == 4


def test_the_committed_training_config_makes_the_bundled_model(pipe: LandmarkGANPipeline) -> None:
    """configs/default_model.yaml (the command docs/default_model.md gives) trains the model that is bundled."""
    config = Config.load(REPO / "configs" / "default_model.yaml")
    assert dataclasses.asdict(config.model) == dataclasses.asdict(pipe.model.config)
    assert pipe.model.metadata["step"] == config.train.max_steps


def mouth_moved(pipe: LandmarkGANPipeline, expression: str) -> float:
    """On the bundled photo at intensity 4: how far dlib's landmarks of the output's mouth move along the generated
    displacement of the mouth, as a share of it (after checking that stage I asks for a visible change)."""
    result = pipe(asset_path("faces") / "astronaut.jpg", expression, 4)
    generated = result.landmarks[MOUTH] - result.source_landmarks[MOUTH]
    assert np.linalg.norm(generated, axis=1).mean() > 1.0
    return mouth_movement(result.source, result.image, result.source_landmarks, result.landmarks, FaceLandmarkDetector())


def test_on_the_bundled_photo_a_smile_moves_the_mouth_as_far_as_the_generated_landmarks(pipe: LandmarkGANPipeline) -> None:
    """happy: the output's mouth moves at least 70% as far as the generated one."""
    along = mouth_moved(pipe, "happy")
    assert along >= 0.7, f"happy: the output's mouth moved {along:.0%} as far as the generated mouth"


def test_on_the_bundled_photo_surprise_moves_the_mouth_only_part_of_the_way(pipe: LandmarkGANPipeline) -> None:
    """surprise, the model's known limit on photos (docs/default_model.md, "Limits"): the generated mouth narrows and
    opens, which a model trained on drawn faces does not paint on a real face; dlib reads the output's mouth moving
    toward it, but short of happy's 70% (54% when last measured; an exact warp of the photo to the generated
    landmarks reads 34%). Raise the upper bound when a model trained on real faces paints it."""
    along = mouth_moved(pipe, "surprise")
    assert 0.25 <= along < 0.7, f"surprise: the output's mouth moved {along:.0%} as far as the generated mouth"
