"""Landmark-guided warping: move a face from its source landmarks to target landmarks.

A backward warp: every output pixel p samples the input at ``f(p)``, where ``f`` is the thin-plate
spline (TPS) that takes the target landmarks onto the source landmarks. Besides the 68 landmarks,
``f`` is pinned by fixed *anchors* (the same point in both sets): points on the image border and on an
ellipse around the head, so hair, ears and background stay where they are while brows, lids, mouth and
jaw move.

Our TPS differs from kornia's ``get_tps_transform``/``warp_image_tps`` in two ways, both measured by
``scripts/benchmark_warp.py``:

* it is *regularised* (``K + lambda I``, a smoothing spline): coinciding target points, such as the
  inner lips of a closed mouth, make the plain interpolating system singular (kornia returns NaN or
  huge weights there); the smoothing term keeps it solvable and also reduces fold-overs;
* the map is evaluated on a coarse grid and bilinearly upsampled (the TPS is smooth), and the kernel is
  applied with one matrix product instead of a broadcast (B, H*W, N, 2) tensor: several times faster.

All points are in the model's normalised frame (the image spans [0, 1], see ``models.pdm.normalise``).
Everything is differentiable in the image and in both point sets.

``affine_warp`` is the one affine resampling the rest of the package shares (stage I's similarity jitter, the
expression classifier's augmentation).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from landmarkgan.errors import LandmarkGANError

JAW = slice(0, 17)
BROWS = slice(17, 27)
BORDER_ANCHORS_PER_SIDE = 8  # border segments per side: 4 x 8 = 32 border points
HEAD_ANCHORS = 20  # points on the ellipse around the head


def tps_kernel(squared_distances: torch.Tensor) -> torch.Tensor:
    """The TPS radial basis U(r) = r^2 log r, from squared distances (0 at r = 0)."""
    safe = torch.where(squared_distances > 0, squared_distances, torch.ones_like(squared_distances))
    return 0.5 * squared_distances * safe.log()


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, N, 2), (B, M, 2) -> (B, N, M) squared Euclidean distances (written per coordinate: the same numbers as a
    sum over the last axis, several times faster than reducing an axis of two)."""
    dx = a[:, :, None, 0] - b[:, None, :, 0]
    dy = a[:, :, None, 1] - b[:, None, :, 1]
    return dx * dx + dy * dy


def fit_tps(centres: torch.Tensor, values: torch.Tensor, regularisation: float = 0.0) -> torch.Tensor:
    """The TPS f with f(centres[i]) ~ values[i]: (B, N, 2), (B, N, 2) -> coefficients (B, N + 3, 2).

    Solves ``[[K + lambda I, P], [P^T, 0]] [w; a] = [values; 0]`` with ``P = [1, x, y]``. With
    ``regularisation`` lambda > 0 the spline smooths instead of interpolating exactly, which keeps the
    system solvable when centres coincide. Solved in float64 (the system is small: N + 3 unknowns).
    """
    if centres.shape != values.shape or centres.dim() != 3 or centres.shape[-1] != 2:
        raise LandmarkGANError(
            f"the TPS needs two (B, N, 2) point sets of one shape, got {tuple(centres.shape)} and {tuple(values.shape)}")
    b, n, _ = centres.shape
    c = centres.double()
    kernel = tps_kernel(_squared_distances(c, c))
    if regularisation:
        kernel = kernel + regularisation * torch.eye(n, dtype=c.dtype, device=c.device)
    p = torch.cat([torch.ones(b, n, 1, dtype=c.dtype, device=c.device), c], dim=2)
    top = torch.cat([kernel, p], dim=2)
    bottom = torch.cat([p.transpose(1, 2), torch.zeros(b, 3, 3, dtype=c.dtype, device=c.device)], dim=2)
    rhs = torch.cat([values.double(), torch.zeros(b, 3, 2, dtype=c.dtype, device=c.device)], dim=1)
    system = torch.cat([top, bottom], dim=1)
    solved = gauss_jordan_solve(system, rhs) if torch.onnx.is_in_onnx_export() else torch.linalg.solve(system, rhs)
    return solved.to(values.dtype)


def gauss_jordan_solve(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Solve a x = b for batches (B, n, n), (B, n, m) by Gauss-Jordan elimination with partial pivoting, written
    with elementwise operations, gathers and argmax only: what ONNX export uses, since ONNX has no linear solver."""
    batch, n = a.shape[0], a.shape[-1]
    rows = torch.arange(n, device=a.device)
    m = torch.cat([a, b], dim=2)
    for k in range(n):
        candidates = m[:, :, k].abs().masked_fill(rows < k, -1.0)
        pivot = candidates.argmax(dim=1)  # (B,)
        row_k = m[:, k, :]
        row_p = torch.gather(m, 1, pivot.view(batch, 1, 1).expand(batch, 1, m.shape[2]))[:, 0]
        at_k = (rows == k).to(m.dtype)[None, :, None]
        at_p = (rows[None, :] == pivot[:, None]).to(m.dtype)[:, :, None]
        m = m + at_k * (row_p - row_k)[:, None, :] + at_p * (row_k - row_p)[:, None, :]  # swap rows k and pivot
        row = m[:, k, :] / m[:, k, k : k + 1]
        factors = m[:, :, k : k + 1] * (1 - at_k)
        m = m - factors * row[:, None, :]
        m = m * (1 - at_k) + at_k * row[:, None, :]
    return m[:, :, n:]


def apply_tps(points: torch.Tensor, centres: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """Evaluate the TPS of :func:`fit_tps` at ``points`` (B, M, 2) -> (B, M, 2)."""
    n = centres.shape[1]
    weights, affine = coefficients[:, :n], coefficients[:, n:]
    kernel = tps_kernel(_squared_distances(points, centres.to(points.dtype)))
    return kernel @ weights.to(points.dtype) + affine[:, :1].to(points.dtype) + points @ affine[:, 1:].to(points.dtype)


def border_anchors(count_per_side: int = BORDER_ANCHORS_PER_SIDE) -> torch.Tensor:
    """Points evenly spaced on the image border, corners included: (4 * count_per_side, 2), normalised frame."""
    t = torch.arange(count_per_side, dtype=torch.float32) / count_per_side
    zeros, ones = torch.zeros_like(t), torch.ones_like(t)
    return torch.cat([torch.stack(s, dim=1) for s in ((t, zeros), (ones, t), (1 - t, ones), (zeros, 1 - t))])


def head_ellipse(points: torch.Tensor, side: float = 1.45, top: float = 0.25, bottom: float = 0.2) -> torch.Tensor:
    """The ellipse around the head of each face (B, 68, 2) -> (B, 4): centre x, centre y and the two semi-axes, in the
    normalised frame.

    With H the brow-to-chin height, the ellipse reaches ``top`` H above the highest brow point (the forehead lies
    above the landmarks), ``bottom`` H below the chin, and ``side`` times half the jaw's width to either side of its
    centre. The warp pins its border (:func:`head_anchors`): everything inside follows the landmarks, everything
    outside stays.
    """
    jaw, brows = points[:, JAW], points[:, BROWS]
    left, right = jaw[..., 0].amin(1), jaw[..., 0].amax(1)
    brow_top, chin = brows[..., 1].amin(1), jaw[..., 1].amax(1)
    height = chin - brow_top
    upper, lower = brow_top - top * height, chin + bottom * height
    return torch.stack([(left + right) / 2, (upper + lower) / 2, side * (right - left) / 2, (lower - upper) / 2], -1)


def head_anchors(points: torch.Tensor, count: int = HEAD_ANCHORS) -> torch.Tensor:
    """``count`` points evenly spaced in angle on the :func:`head_ellipse` of each face (B, 68, 2) -> (B, count, 2)."""
    centre_x, centre_y, ax, ay = head_ellipse(points).unbind(-1)
    angles = torch.arange(count, dtype=points.dtype, device=points.device) * (2 * math.pi / count)
    return torch.stack([centre_x[:, None] + ax[:, None] * angles.cos(), centre_y[:, None] + ay[:, None] * angles.sin()], -1)


def anchored(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The landmark pairs plus the fixed anchors (border, and the ellipse around the source head) in both sets."""
    fixed = torch.cat([border_anchors().to(source).expand(source.shape[0], -1, -1), head_anchors(source.detach())], 1)
    return torch.cat([source, fixed], 1), torch.cat([target, fixed], 1)


def sampling_grid(source: torch.Tensor, target: torch.Tensor, size: int, grid: int = 32,
                  regularisation: float = 1e-3) -> torch.Tensor:
    """The backward map of the warp from ``source`` to ``target`` points (B, P, 2): for every pixel of a
    size x size output, where to read the input, as a ``grid_sample`` grid (B, size, size, 2) in [-1, 1]
    (``align_corners=False``). The TPS is evaluated on a ``grid`` x ``grid`` lattice of pixel centres that
    spans the image from its first to its last pixel, and linearly interpolated in between (exact when
    ``grid == size``, and wherever the map is affine)."""
    src, dst = anchored(source, target)
    coefficients = fit_tps(dst, src, regularisation)  # target frame -> source frame
    g = min(grid, size)
    pixels = torch.linspace(0, size - 1, g, dtype=source.dtype, device=source.device)
    centres = (pixels + 0.5) / size
    lattice = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1).reshape(1, -1, 2)
    mapped = apply_tps(lattice.expand(source.shape[0], -1, -1), dst, coefficients)  # (B, g*g, 2) in [0, 1]
    field = mapped.transpose(1, 2).reshape(-1, 2, g, g)
    if g != size:
        field = F.interpolate(field, size=(size, size), mode="bilinear", align_corners=True)
    return field.permute(0, 2, 3, 1) * 2 - 1


def warp(image: torch.Tensor, source: torch.Tensor, target: torch.Tensor, grid: int = 32,
         regularisation: float = 1e-3) -> torch.Tensor:
    """Warp ``image`` (B, C, S, S) so that its ``source`` landmarks (B, 68, 2, normalised) move to ``target``.

    Pixels that would be read from outside the image repeat the border (``padding_mode="border"``).
    """
    if image.dim() != 4 or image.shape[-1] != image.shape[-2]:
        raise LandmarkGANError(f"warp takes square (B, C, S, S) images, got {tuple(image.shape)}")
    if source.shape != target.shape or source.shape[0] != image.shape[0]:
        raise LandmarkGANError(
            f"warp needs source and target points (B, P, 2) for a batch of {image.shape[0]}, got "
            f"{tuple(source.shape)} and {tuple(target.shape)}")
    coords = sampling_grid(source.float(), target.float(), image.shape[-1], grid, regularisation)
    return F.grid_sample(image, coords.to(image.dtype), mode="bilinear", padding_mode="border", align_corners=False)


def affine_warp(image: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``image`` (B, C, H, W) through one affine map per image, ``theta`` (B, 2, 3): output point p (in
    ``affine_grid``'s [-1, 1] frame, ``align_corners=False``) reads the input at ``theta @ (p, 1)``, bilinearly;
    points outside the image repeat its border."""
    grid = F.affine_grid(theta.to(image.device, image.dtype), list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def fold_fraction(coords: torch.Tensor) -> torch.Tensor:
    """Share of each map's pixels (B,) where the backward map folds over (negative Jacobian determinant)."""
    dx = coords[:, :, 1:, :] - coords[:, :, :-1, :]
    dy = coords[:, 1:, :, :] - coords[:, :-1, :, :]
    det = dx[:, :-1, :, 0] * dy[:, :, :-1, 1] - dx[:, :-1, :, 1] * dy[:, :, :-1, 0]
    return (det < 0).float().mean(dim=(1, 2))
