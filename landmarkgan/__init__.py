"""LandmarkGAN: facial expression translation from a single image, guided by facial landmarks."""

from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS, expression_index

__version__ = "0.1.0"
__all__ = ["EXPRESSIONS", "LandmarkGANError", "expression_index", "__version__"]
