"""Translating faces with a trained model: the pipeline, its results, model loading, export."""

from landmarkgan.inference.pipeline import LandmarkGANPipeline
from landmarkgan.inference.results import PhotoTranslation, Translation

__all__ = ["LandmarkGANPipeline", "PhotoTranslation", "Translation"]
