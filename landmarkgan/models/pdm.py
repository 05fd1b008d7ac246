"""The point distribution model (PDM): Gl's pre-trained landmark decoder.

A shape of 68 points is ``pose(mean + sum_k b_k * mode_k)``: the mean shape and PCA modes of the
training shapes after generalised Procrustes alignment (translation, scale and rotation removed),
placed in the image by a similarity transform ``pose = (a, c, tx, ty)`` mapping a canonical point u
to ``[[a, -c], [c, a]] u + t`` (scale sqrt(a^2 + c^2), rotation atan2(c, a)).

Gl's linear head predicts *whitened* parameters: ``z_k = b_k / std_k`` for the K modes and
``(pose - pose_mean) / pose_std`` for the 4 pose numbers, so zero parameters decode to the mean
shape at the mean pose. Points are in the model's normalised frame (see :func:`normalise`): the
image spans [0, 1] in both axes, so the PDM does not depend on the image size.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from landmarkgan.errors import LandmarkGANError

POSE_SIZE = 4
_POSE_STD_FLOOR = 1e-4  # normalised units: a pose that never varies still gets a finite scale


def normalise(pixels: torch.Tensor, image_size: int) -> torch.Tensor:
    """Pixel-centre coordinates (pixel i covers [i - 0.5, i + 0.5]) of an S x S image -> [0, 1] frame."""
    return (pixels + 0.5) / image_size


def to_pixels(points: torch.Tensor, image_size: int) -> torch.Tensor:
    """Inverse of :func:`normalise`."""
    return points * image_size - 0.5


def _fit_pose(mean: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
    """Least-squares similarity (a, c, tx, ty) taking the centred ``mean`` (P, 2) onto each shape (N, P, 2)."""
    t = shapes.mean(dim=1)
    centred = shapes - t[:, None]
    norm2 = (mean**2).sum()
    a = (centred * mean).sum(dim=(1, 2)) / norm2
    c = (centred[..., 1] * mean[:, 0] - centred[..., 0] * mean[:, 1]).sum(dim=1) / norm2
    return torch.stack([a, c, t[:, 0], t[:, 1]], dim=1)


def _apply_pose(pose: torch.Tensor, canonical: torch.Tensor) -> torch.Tensor:
    """Map canonical shapes (N, P, 2) into the image with poses (N, 4)."""
    a, c, tx, ty = (pose[:, i, None] for i in range(POSE_SIZE))
    u, v = canonical[..., 0], canonical[..., 1]
    return torch.stack([a * u - c * v + tx, c * u + a * v + ty], dim=-1)


def _invert_pose(pose: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
    """Map image shapes (N, P, 2) back to the canonical frame of poses (N, 4)."""
    a, c, tx, ty = (pose[:, i, None] for i in range(POSE_SIZE))
    det = a * a + c * c
    x, y = shapes[..., 0] - tx, shapes[..., 1] - ty
    return torch.stack([(a * x + c * y) / det, (a * y - c * x) / det], dim=-1)


class PointDistributionModel(nn.Module):
    """Mean shape + ``num_components`` PCA modes + similarity transform; all state lives in buffers,
    so it is saved and loaded with the model's state dict.

    Components beyond the rank of the training shapes (fewer shapes than modes) get zero variance
    and do not move the decoded shape.
    """

    def __init__(self, num_points: int = 68, num_components: int = 20) -> None:
        super().__init__()
        self.num_points, self.num_components = num_points, num_components
        self.register_buffer("mean", torch.zeros(num_points, 2))
        self.register_buffer("modes", torch.zeros(num_components, num_points, 2))
        self.register_buffer("mode_std", torch.zeros(num_components))
        self.register_buffer("pose_mean", torch.zeros(POSE_SIZE))
        self.register_buffer("pose_std", torch.ones(POSE_SIZE))
        self.register_buffer("fitted", torch.tensor(False))
        self._fitted = False

    @property
    def num_params(self) -> int:
        """Length of the whitened parameter vector: K shape coefficients + 4 pose numbers."""
        return self.num_components + POSE_SIZE

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001 (torch hook)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._fitted = bool(self.fitted)

    def _check_shapes(self, shapes: torch.Tensor | np.ndarray, what: str) -> torch.Tensor:
        shapes = torch.as_tensor(shapes)
        if shapes.dim() != 3 or tuple(shapes.shape[1:]) != (self.num_points, 2):
            raise LandmarkGANError(f"{what} must be (N, {self.num_points}, 2) landmark arrays, got {tuple(shapes.shape)}")
        if not torch.isfinite(shapes).all():
            raise LandmarkGANError(f"{what} contain NaN or infinite coordinates; fix or drop those landmark files")
        return shapes

    @torch.no_grad()
    def fit(self, shapes: torch.Tensor | np.ndarray, iterations: int = 100, tol: float = 1e-12) -> "PointDistributionModel":
        """Fit to training shapes (N, P, 2) in the normalised frame: generalised Procrustes alignment,
        then PCA of the aligned shapes around their mean, then the mean and spread of the poses."""
        x = self._check_shapes(shapes, "PDM training shapes").to(torch.float64)
        if x.shape[0] < 2:
            raise LandmarkGANError(f"fitting the point distribution model needs at least 2 training shapes, got {x.shape[0]}")
        spread = (x - x.mean(dim=1, keepdim=True)).square().sum(dim=(1, 2))
        if (spread <= 0).any():
            raise LandmarkGANError(
                f"{int((spread <= 0).sum())} training shape(s) have all points at one place; fix those landmark files"
            )
        mean = self._unit(x[0])
        for _ in range(iterations):
            aligned = _invert_pose(_fit_pose(mean, x), x)
            new_mean = self._unit(aligned.mean(dim=0))
            converged = (new_mean - mean).square().sum() < tol
            mean = new_mean
            if converged:
                break
        pose = _fit_pose(mean, x)
        residuals = (_invert_pose(pose, x) - mean).reshape(x.shape[0], -1)
        _, singular, vh = torch.linalg.svd(residuals, full_matrices=False)
        k = min(self.num_components, vh.shape[0])
        keep = singular[:k] > singular[0] * 1e-9 if singular[0] > 0 else torch.zeros(k, dtype=torch.bool)
        modes = torch.zeros(self.num_components, self.num_points * 2, dtype=torch.float64)
        std = torch.zeros(self.num_components, dtype=torch.float64)
        modes[:k][keep] = vh[:k][keep]
        std[:k][keep] = singular[:k][keep] / x.shape[0] ** 0.5
        self.mean.copy_(mean)
        self.modes.copy_(modes.reshape(self.num_components, self.num_points, 2))
        self.mode_std.copy_(std)
        self.pose_mean.copy_(pose.mean(dim=0))
        self.pose_std.copy_(pose.std(dim=0, unbiased=False).clamp_min(_POSE_STD_FLOOR))
        self.fitted.fill_(True)
        self._fitted = True
        return self

    @staticmethod
    def _unit(shape: torch.Tensor) -> torch.Tensor:
        centred = shape - shape.mean(dim=0)
        return centred / centred.norm()

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise LandmarkGANError(
                "the point distribution model is not fitted: fit it on the training landmarks "
                "(LandmarkGAN.fit_pdm) or load a trained checkpoint"
            )

    def decode(self, params: torch.Tensor) -> torch.Tensor:
        """Whitened parameters (B, K + 4) -> shapes (B, P, 2) in the normalised frame (float32, differentiable)."""
        self._require_fitted()
        if params.dim() != 2 or params.shape[1] != self.num_params:
            raise LandmarkGANError(f"PDM parameters must be (B, {self.num_params}), got {tuple(params.shape)}")
        with torch.autocast(params.device.type, enabled=False):
            params = params.float()
            b = params[:, : self.num_components] * self.mode_std
            pose = self.pose_mean + params[:, self.num_components :] * self.pose_std
            canonical = self.mean + torch.einsum("bk,kpd->bpd", b, self.modes)
            return _apply_pose(pose, canonical)

    def encode(self, shapes: torch.Tensor) -> torch.Tensor:
        """Shapes (B, P, 2) in the normalised frame -> whitened parameters (B, K + 4).

        The pose is the least-squares similarity from the mean shape; the coefficients are the
        projection of the aligned shape's residual on the modes, so ``decode(encode(s)) == s``
        for every shape the model can represent.
        """
        self._require_fitted()
        shapes = self._check_shapes(shapes, "shapes to encode").float()
        pose = _fit_pose(self.mean, shapes)
        residual = _invert_pose(pose, shapes) - self.mean
        b = torch.einsum("bpd,kpd->bk", residual, self.modes)
        z = torch.where(self.mode_std > 0, b / self.mode_std.clamp_min(torch.finfo(b.dtype).tiny), torch.zeros_like(b))
        return torch.cat([z, (pose - self.pose_mean) / self.pose_std], dim=1)
