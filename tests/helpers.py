"""Shared test helpers."""

from __future__ import annotations

import numpy as np
import torch

from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.models import LandmarkGAN, ModelConfig

SIZE = 32


def tiny_model(**overrides) -> LandmarkGAN:
    """An untrained 32 x 32 LandmarkGAN with intensity control and a PDM fitted on synthetic faces."""
    torch.manual_seed(0)
    options = dict(image_size=SIZE, ngf=8, ndf=8, n_layers_D=2, label_embed_dim=8, pdm_components=6, num_intensities=4)
    model = LandmarkGAN(ModelConfig(**{**options, **overrides}))
    rng = np.random.default_rng(0)
    faces = [render_face(sample_identity(rng), "happy", 2, SIZE)[1] for _ in range(12)]
    return model.fit_pdm(np.stack(faces))
