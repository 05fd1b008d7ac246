"""LandmarkGAN's networks: the two generators, the PatchGAN discriminators, the PDM and the losses."""

from landmarkgan.models.config import ModelConfig
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.pdm import PointDistributionModel

__all__ = ["LandmarkGAN", "ModelConfig", "PointDistributionModel"]
