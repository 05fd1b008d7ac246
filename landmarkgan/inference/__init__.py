"""Translating faces with a trained model: the pipeline, model loading, export."""

from landmarkgan.inference.pipeline import LandmarkGANPipeline, Translation

__all__ = ["LandmarkGANPipeline", "Translation"]
