"""LandmarkGAN's evaluation, as the paper reports it.

Image quality between generated and ground-truth target images: PSNR and SSIM
(``metrics``), LPIPS (``lpips``), Inception Score and FID (``inception``); landmark L2
distance (``metrics``); identity and expression studies live in their own modules.
"""

from landmarkgan.evaluation.inception import (
    frechet_distance,
    frechet_inception_distance,
    inception_score,
    load_inception_classifier,
)
from landmarkgan.evaluation.lpips import LPIPS, load_lpips, lpips_distance
from landmarkgan.evaluation.metrics import landmark_l2_distance, psnr, ssim

__all__ = [
    "LPIPS",
    "frechet_distance",
    "frechet_inception_distance",
    "inception_score",
    "landmark_l2_distance",
    "load_inception_classifier",
    "load_lpips",
    "lpips_distance",
    "psnr",
    "ssim",
]
