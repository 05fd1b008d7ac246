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


@pytest.mark.parametrize("expression", [
    "happy",
    pytest.param("surprise", marks=pytest.mark.xfail(strict=True, reason="issue 10, not met yet: the output's mouth moves "
                                                     "about 39% as far as the generated one (its warp alone: 38%; an exact "
                                                     "warp of the photo to the generated landmarks: 34%, "
                                                     "scripts/photo_mouth_ceiling.py)")),
])
def test_on_the_bundled_photo_the_mouth_moves_as_far_as_the_generated_landmarks(
    pipe: LandmarkGANPipeline, expression: str
) -> None:
    """dlib's landmarks of the output move toward the generated target landmarks: along the generated
    displacement of the mouth, the output's mouth moves at least 70% as far."""
    result = pipe(asset_path("faces") / "astronaut.jpg", expression, 4)
    generated = result.landmarks[MOUTH] - result.source_landmarks[MOUTH]
    assert np.linalg.norm(generated, axis=1).mean() > 1.0  # stage I asks for a visible change
    along = mouth_movement(result.source, result.image, result.source_landmarks, result.landmarks, FaceLandmarkDetector())
    assert along >= 0.7, f"{expression}: the output's mouth moved {along:.0%} as far as the generated mouth"
