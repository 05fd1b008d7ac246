"""LandmarkGAN: facial expression translation from a single image, guided by facial landmarks.

    from landmarkgan import LandmarkGANPipeline
    pipe = LandmarkGANPipeline.from_pretrained()          # the built-in default model
    result = pipe("photo.jpg", expression="happy")       # .photo: the whole photo, its faces changed
    result.faces                                          # each face: .image, .landmarks, .landmark_image
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS, expression_index

if TYPE_CHECKING:
    from landmarkgan.inference.pipeline import LandmarkGANPipeline
    from landmarkgan.inference.results import PhotoTranslation, Translation
    from landmarkgan.models.landmarkgan import LandmarkGAN

__version__ = "0.1.0"
__all__ = ["EXPRESSIONS", "LandmarkGAN", "LandmarkGANError", "LandmarkGANPipeline", "PhotoTranslation", "Translation",
           "expression_index", "__version__"]

_LAZY = {"LandmarkGAN": "landmarkgan.models.landmarkgan", "LandmarkGANPipeline": "landmarkgan.inference.pipeline",
         "PhotoTranslation": "landmarkgan.inference.results", "Translation": "landmarkgan.inference.results"}


def __getattr__(name: str) -> object:
    """Import the torch-based classes on first use, so ``import landmarkgan`` (and the CLI) start fast."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'landmarkgan' has no attribute {name!r}")
