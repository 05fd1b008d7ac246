"""Pixel and landmark metrics of LandmarkGAN's evaluation: PSNR, SSIM and landmark L2 distance.

The paper reports PSNR and SSIM between each generated image and its ground-truth target
(Tables III and IV) and the L2 distance between detected and generated landmarks (Table VI).

Images are either RGB/grey uint8 arrays (H, W, 3) / (H, W), as read from disk, or float tensors
(C, H, W) in [-1, 1], as the generators output them. A tensor is first quantised to uint8 the way
a generated image is saved (``round((x + 1) * 127.5)``), so a metric on a tensor equals the same
metric on the PNG written from it. Both metrics use the data range 255.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from landmarkgan.data.dataset import to_uint8
from landmarkgan.errors import LandmarkGANError

DATA_RANGE = 255.0
# SSIM constants of Wang et al. 2004, as in scikit-image's structural_similarity.
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy.ndimage's Gaussian radius rule: radius = int(truncate * sigma + 0.5)
# Landmark distances are reported in pixels of the paper's 256 x 256 images.
LANDMARK_REFERENCE_SIZE = 256
NUM_LANDMARKS = 68

ImageLike = np.ndarray | torch.Tensor


def to_uint8_image(image: ImageLike) -> np.ndarray:
    """An image as uint8 (H, W, C): uint8 arrays pass through, [-1, 1] tensors (C, H, W) are quantised."""
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] not in (1, 3) or not image.is_floating_point():
            raise LandmarkGANError(
                f"expected an image tensor of shape (C, H, W) with C = 1 or 3 and values in [-1, 1], "
                f"got {image.dtype} of shape {tuple(image.shape)}"
            )
        return to_uint8(image[None])[0]
    if not isinstance(image, np.ndarray):
        raise LandmarkGANError(f"expected a uint8 image array or a [-1, 1] tensor, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise LandmarkGANError(
            f"image arrays must be uint8 with values 0..255, got {image.dtype}; "
            "convert with np.clip(x, 0, 255).round().astype(np.uint8) or pass a [-1, 1] tensor"
        )
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise LandmarkGANError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}")
    return image


def images_to_batch(images: ImageLike | Sequence[ImageLike]) -> torch.Tensor:
    """Images as a float (N, 3, H, W) batch in [-1, 1]: from a uint8 (H, W, 3) or (N, H, W, 3)
    array, a list of uint8 arrays or [-1, 1] (3, H, W) tensors, or a (3, H, W) / (N, 3, H, W) tensor.

    Tensors are quantised to uint8 first (``to_uint8_image``), so every metric sees generated
    images exactly as they are saved to disk."""
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4:
        images = list(images)
    if not isinstance(images, (list, tuple)):
        images = [images]
    if not images:
        raise LandmarkGANError("no images given")
    arrays = [to_uint8_image(im) for im in images]
    if len({a.shape for a in arrays}) != 1 or arrays[0].shape[2] != 3:
        raise LandmarkGANError(f"images must all be RGB of one size, got shapes {sorted({a.shape for a in arrays})}")
    stacked = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float()
    return stacked / 127.5 - 1.0


def _pair(a: ImageLike, b: ImageLike) -> tuple[np.ndarray, np.ndarray]:
    """Both images as float64 (H, W, C) in [0, 255], checked to have one shape."""
    x, y = to_uint8_image(a), to_uint8_image(b)
    if x.shape != y.shape:
        raise LandmarkGANError(
            f"cannot compare images of different shapes {x.shape} and {y.shape}; "
            "resize the generated image to the ground truth's size first"
        )
    return x.astype(np.float64), y.astype(np.float64)


def psnr(generated: ImageLike, target: ImageLike, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB: 10 log10(255^2 / MSE), MSE over all pixels and channels (or, with a
    boolean ``mask`` (H, W), over the pixels where it is True, e.g. an inpainting hole).

    Identical images have MSE 0 and give ``math.inf``; an evaluation that averages PSNR over a
    test set must decide how to treat such a pair (the paper's generated images never match exactly).
    """
    x, y = _pair(generated, target)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != x.shape[:2] or not mask.any():
            raise LandmarkGANError(f"the PSNR mask must be a non-empty (H, W) = {x.shape[:2]} boolean array, "
                                   f"got {mask.shape} with {int(mask.sum())} pixels set")
        x, y = x[mask], y[mask]
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(DATA_RANGE**2 / mse)


def gaussian_window(sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> np.ndarray:
    """The normalised 1-D Gaussian of SSIM: radius int(truncate * sigma + 0.5), 11 taps for sigma 1.5."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def _filter_valid(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable Gaussian weighting of (H, W, C) over every full window ('valid' region only)."""
    n = window.size
    rows = np.lib.stride_tricks.sliding_window_view(image, n, axis=0) @ window
    return np.lib.stride_tricks.sliding_window_view(rows, n, axis=1) @ window


def ssim(generated: ImageLike, target: ImageLike, sigma: float = SSIM_SIGMA) -> float:
    """Mean structural similarity (Wang et al. 2004) with an isotropic Gaussian window.

    Local means, variances and covariance are Gaussian-weighted (sigma 1.5, 11 x 11 window), with
    population (not sample) covariance, C1 = (0.01 * 255)^2 and C2 = (0.03 * 255)^2. The SSIM
    map is averaged over every position where the window lies inside the image, then over
    channels. These are scikit-image's settings for
    ``structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    data_range=255, channel_axis=-1)``, the usual way GAN papers compute SSIM.
    """
    x, y = _pair(generated, target)
    window = gaussian_window(sigma)
    if min(x.shape[:2]) < window.size:
        raise LandmarkGANError(
            f"SSIM needs images of at least {window.size} x {window.size} pixels, got {x.shape[1]} x {x.shape[0]}"
        )
    mu_x, mu_y = _filter_valid(x, window), _filter_valid(y, window)
    var_x = _filter_valid(x * x, window) - mu_x**2
    var_y = _filter_valid(y * y, window) - mu_y**2
    cov_xy = _filter_valid(x * y, window) - mu_x * mu_y
    c1 = (SSIM_K1 * DATA_RANGE) ** 2
    c2 = (SSIM_K2 * DATA_RANGE) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean(axis=(0, 1)).mean())


def landmark_l2_distance(
    generated: np.ndarray,
    target: np.ndarray,
    image_size: int | tuple[int, int] = LANDMARK_REFERENCE_SIZE,
) -> float:
    """Table VI's landmark L2 distance: mean over the 68 points of the Euclidean point distance.

    ``generated`` and ``target`` are (68, 2) or (N, 68, 2) (x, y) positions in pixels of images of
    ``image_size`` (an int for square images, else (height, width)). The paper measures on
    256 x 256 images, so points are first rescaled to 256 x 256 (x by 256 / width, y by
    256 / height); for a batch the result is also averaged over the N faces.
    """
    p = np.asarray(generated, dtype=np.float64)
    q = np.asarray(target, dtype=np.float64)
    if p.shape != q.shape or p.shape[-2:] != (NUM_LANDMARKS, 2) or p.ndim not in (2, 3):
        raise LandmarkGANError(
            f"landmark sets must both have shape (68, 2) or (N, 68, 2), got {p.shape} and {q.shape}"
        )
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise LandmarkGANError("landmarks contain NaN or infinite coordinates; was a face not detected?")
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if height <= 0 or width <= 0:
        raise LandmarkGANError(f"image size must be positive, got {image_size}")
    scale = np.array([LANDMARK_REFERENCE_SIZE / width, LANDMARK_REFERENCE_SIZE / height])
    return float(np.linalg.norm((p - q) * scale, axis=-1).mean())
