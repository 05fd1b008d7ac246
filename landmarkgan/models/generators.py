"""LandmarkGAN's two generators: Gl (stage I, category-guided landmark generation) and Ge (stage II,
landmark-guided expression translation), plus the label encoding and soft-crop features they use."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from landmarkgan.models.config import REFERENCE_SIZE, ModelConfig
from landmarkgan.models.networks import UnetGenerator, init_weights
from landmarkgan.models.pdm import PointDistributionModel


def label_vector(config: ModelConfig, le: torch.Tensor, li: torch.Tensor | None) -> torch.Tensor:
    """The condition [one-hot(le) over K expressions, one-hot(li) over the intensity levels] (B, K [+ 4]).

    Intensity 0 means "no level given" (e.g. neutral faces) and is the all-zero one-hot; ``li`` is
    ignored when the model has no intensity control (num_intensities = 0).
    """
    parts = [F.one_hot(le, config.num_expressions)]
    if config.num_intensities:
        parts.append(F.one_hot(li, config.num_intensities + 1)[:, 1:])
    return torch.cat(parts, dim=1).float()


def soft_crops(image: torch.Tensor, points: torch.Tensor, sigma: float) -> torch.Tensor:
    """Soft-crop features of ``image`` (B, C, H, W) around ``points`` (B, P, 2, normalised frame).

    The soft mask is the maximum over the points of isotropic Gaussians exp(-d^2 / (2 sigma^2))
    (``sigma`` in normalised units), i.e. a differentiable union of Gaussian-weighted crops around
    every landmark. Returns [image * mask, mask] (B, C + 1, H, W); the gradient flows to the points.
    """
    h, w = image.shape[-2:]
    ys = (torch.arange(h, device=image.device, dtype=points.dtype) + 0.5) / h
    xs = (torch.arange(w, device=image.device, dtype=points.dtype) + 0.5) / w
    gx = torch.exp(-((xs[None, None, :] - points[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, P, W)
    gy = torch.exp(-((ys[None, None, :] - points[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, P, H)
    mask = (gy[..., :, None] * gx[..., None, :]).amax(dim=1, keepdim=True).to(image.dtype)
    return torch.cat([image * mask, mask], dim=1)


class LabelEmbedding(nn.Module):
    """Fully connected embedding of the label vector (Linear, ReLU, Linear), joined to Gl's bottleneck."""

    def __init__(self, num_labels: int, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(num_labels, dim), nn.ReLU(True), nn.Linear(dim, dim))

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.net(labels)


class LandmarkGenerator(nn.Module):
    """Gl(x, le[, li]) -> (landmark image, 68 points).

    A U-Net over x; at its 1x1 bottleneck the image code is concatenated with the embedded labels
    (unless labels go to Ge only). The decoder draws the landmark image (Tanh, the paper's
    white-canvas colour encoding); a linear head on the joint bottleneck code predicts the PDM's
    whitened parameters (K shape coefficients + similarity transform), which the fitted PDM decodes
    into 68 (p, q) points in the normalised frame. The head starts at zero, i.e. at the mean shape.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        embed_dim = config.label_embed_dim if config.labels_to_gl else 0
        self.embed = LabelEmbedding(config.num_labels, embed_dim) if config.labels_to_gl else None
        self.unet = UnetGenerator(
            config.input_nc, config.input_nc, config.num_downs, config.ngf, config.norm, config.dropout, extra_nc=embed_dim
        )
        self.pdm = PointDistributionModel(num_components=config.pdm_components)
        self.head = nn.Linear(config.ngf * 8 + embed_dim, self.pdm.num_params)
        init_weights(self)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, C, S, S) in [-1, 1], labels (B, L) from :func:`label_vector` -> (landmark image, points)."""
        pdm_params: list[torch.Tensor] = []

        def bottleneck(code: torch.Tensor) -> torch.Tensor:
            if self.embed is not None:
                e = self.embed(labels.to(code.dtype))
                code = torch.cat([code, e[:, :, None, None].expand(-1, -1, *code.shape[2:])], dim=1)
            pdm_params.append(self.head(code.mean(dim=(2, 3))))
            return code

        image = self.unet(x, bottleneck)
        return image, self.pdm.decode(pdm_params[0])


class ExpressionGenerator(nn.Module):
    """Ge([x, landmark image, label planes, soft-crop features]) -> y_hat (Tanh, [-1, 1]).

    A U-Net over the channel concatenation of: x; the landmark image (Gl's, or the target's own for the
    ground-truth baseline); the label vector tiled as constant planes (unless labels go to Gl only); and
    the soft-crop features [x * mask, mask] around the landmarks (when ``soft_crops`` is on; sigma =
    soft_crop_sigma pixels at 256x256). The label-only baseline (landmark_source "none") reads x and
    the label planes only.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.uses_landmarks = config.landmark_source != "none"
        self.input_nc = config.input_nc
        if self.uses_landmarks:
            self.input_nc += config.input_nc  # the landmark image (colours of the face)
        if config.labels_to_ge or not self.uses_landmarks:
            self.input_nc += config.num_labels
        if config.soft_crops and self.uses_landmarks:
            self.input_nc += config.input_nc + 1
        self.unet = UnetGenerator(self.input_nc, config.input_nc, config.num_downs, config.ngf, config.norm, config.dropout)
        init_weights(self)

    def forward(
        self, x: torch.Tensor, landmark_image: torch.Tensor | None, points: torch.Tensor | None, labels: torch.Tensor
    ) -> torch.Tensor:
        """x and landmark_image (B, C, S, S), points (B, 68, 2) normalised, labels (B, L) -> y_hat."""
        parts = [x]
        if self.uses_landmarks:
            parts.append(landmark_image)
        if self.config.labels_to_ge or not self.uses_landmarks:
            parts.append(labels.to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:]))
        if self.config.soft_crops and self.uses_landmarks:
            parts.append(soft_crops(x, points, self.config.soft_crop_sigma / REFERENCE_SIZE))
        return self.unet(torch.cat(parts, dim=1))
