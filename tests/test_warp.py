"""The landmark-guided warp: our regularised thin-plate spline, checked against kornia's and by its behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.pdm import normalise
from landmarkgan.models.warp import (
    affine_warp,
    anchored,
    apply_tps,
    border_anchors,
    fit_tps,
    fold_fraction,
    head_anchors,
    sampling_grid,
    warp,
)

SIZE = 64


def face(expression: str, intensity: int, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic face as (1, 3, S, S) in [-1, 1] and its landmarks (1, 68, 2) in the normalised frame."""
    image, points = render_face(sample_identity(np.random.default_rng(seed)), expression, intensity, SIZE)
    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    return x, normalise(torch.from_numpy(points)[None], SIZE)


@pytest.mark.parametrize("regularisation", [0.0, 3e-3])
def test_tps_is_scipys_thin_plate_spline(regularisation: float) -> None:
    """The standard (smoothing) thin-plate spline: scipy's RBFInterpolator with the same kernel and smoothing."""
    from scipy.interpolate import RBFInterpolator

    g = torch.Generator().manual_seed(0)
    centres, values = torch.rand(2, 12, 2, generator=g), torch.rand(2, 12, 2, generator=g)
    coefficients = fit_tps(centres, values, regularisation)
    points = torch.rand(2, 50, 2, generator=g)
    ours = apply_tps(points, centres, coefficients)
    for b in range(2):
        # scipy's kernel is r^2 log r, ours 0.5 r^2 log r^2: the same function
        theirs = RBFInterpolator(centres[b].double().numpy(), values[b].double().numpy(), kernel="thin_plate_spline",
                                 smoothing=regularisation, degree=1)(points[b].double().numpy())
        assert np.allclose(ours[b].numpy(), theirs, atol=1e-4)
    if not regularisation:
        assert torch.allclose(apply_tps(centres, centres, coefficients), values, atol=1e-4)  # exact at the centres


def test_tps_reproduces_an_affine_map_exactly() -> None:
    g = torch.Generator().manual_seed(1)
    centres = torch.rand(1, 20, 2, generator=g)
    matrix, shift = torch.tensor([[1.1, 0.2], [-0.1, 0.9]]), torch.tensor([0.05, -0.02])
    coefficients = fit_tps(centres, centres @ matrix.T + shift, regularisation=1e-2)  # affine: no bending to smooth
    points = torch.rand(1, 30, 2, generator=g)
    assert torch.allclose(apply_tps(points, centres, coefficients), points @ matrix.T + shift, atol=1e-4)


def test_coinciding_target_points_stay_solvable() -> None:
    """A closed mouth puts inner-lip points on top of each other: the plain TPS system is singular there."""
    _, open_mouth = face("surprise", 4)
    closed = open_mouth.clone()
    closed[:, 65:68] = closed[:, [63, 62, 61]]  # lower inner lip onto the upper one
    src, dst = anchored(open_mouth, closed)
    plain = _plain_system(dst, src)[0]
    assert torch.linalg.matrix_rank(plain).item() < plain.shape[-1]  # singular without the smoothing term
    coefficients = fit_tps(dst, src, regularisation=3e-3)
    assert torch.isfinite(coefficients).all()
    x, _ = face("surprise", 4)
    assert torch.isfinite(warp(x, open_mouth, closed)).all()


def _plain_system(centres: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    from landmarkgan.models.warp import tps_kernel

    n = centres.shape[1]
    c = centres.double()
    kernel = tps_kernel((c[:, :, None] - c[:, None]).pow(2).sum(-1))
    p = torch.cat([torch.ones(1, n, 1, dtype=c.dtype), c], 2)
    lhs = torch.cat([torch.cat([kernel, p], 2), torch.cat([p.transpose(1, 2), torch.zeros(1, 3, 3, dtype=c.dtype)], 2)], 1)
    return lhs, torch.cat([values.double(), torch.zeros(1, 3, 2, dtype=c.dtype)], 1)


def test_warp_to_the_same_landmarks_is_the_identity() -> None:
    x, points = face("happy", 2)
    assert torch.allclose(warp(x, points, points), x, atol=1e-4)


def test_warp_moves_what_was_at_the_source_landmarks_to_the_target_landmarks() -> None:
    """Warp an image whose pixels hold their own coordinates: at each target landmark the warped image must
    read (about) the matching source landmark's coordinates."""
    _, source = face("neutral", 0)
    _, target = face("surprise", 4)
    centres = (torch.arange(SIZE, dtype=torch.float32) + 0.5) / SIZE
    coordinates = torch.stack(torch.meshgrid(centres, centres, indexing="xy"))[None]  # (1, 2, S, S): x, y
    warped = warp(coordinates, source, target, grid=SIZE)
    read = F.grid_sample(warped, target[:, :, None] * 2 - 1, align_corners=False)[0, :, :, 0].T  # (68, 2)
    error = (read - source[0]).norm(dim=1) * SIZE  # pixels
    moved = (target[0] - source[0]).norm(dim=1) * SIZE
    assert moved.max() > 3  # a real expression change
    assert error.median() < 0.3 and error.max() < 1.5  # inner-lip points are smoothed, the rest exact


def test_warp_keeps_the_image_border_in_place() -> None:
    _, source = face("neutral", 0)
    _, target = face("surprise", 4)
    coords = sampling_grid(source, target, SIZE)
    centres = (torch.arange(SIZE, dtype=torch.float32) + 0.5) / SIZE * 2 - 1
    identity = torch.stack(torch.meshgrid(centres, centres, indexing="xy"), dim=-1)
    moved = (coords[0] - identity).norm(dim=-1) * SIZE / 2  # pixels
    edge = torch.cat([moved[0], moved[-1], moved[:, 0], moved[:, -1]])
    assert moved.max() > 3 and edge.max() < 0.5


def test_anchors_pin_the_border_and_surround_the_head() -> None:
    border = border_anchors(4)
    assert border.shape == (16, 2) and ((border == 0) | (border == 1)).any(dim=1).all()
    _, points = face("neutral", 0)
    ring = head_anchors(points)
    centre = points[0, :27].mean(0)
    # every anchor lies farther from the face centre than any jaw or brow point in its direction
    assert (ring[0] - centre).norm(dim=1).min() > (points[0, :17] - centre).norm(dim=1).min()
    src, dst = anchored(points, points + 0.01)
    assert torch.equal(src[:, 68:], dst[:, 68:])  # anchors are the same point in both sets


def test_warp_is_differentiable_in_image_and_points() -> None:
    x, source = face("neutral", 0)
    _, target = face("happy", 4)
    x.requires_grad_(True)
    target = target.clone().requires_grad_(True)
    warp(x, source, target).sum().backward()
    assert x.grad.abs().sum() > 0 and target.grad.abs().sum() > 0


def test_coarse_grid_is_close_to_the_full_resolution_map() -> None:
    _, source = face("neutral", 0)
    _, target = face("surprise", 4)
    full, coarse = sampling_grid(source, target, SIZE, grid=SIZE), sampling_grid(source, target, SIZE, grid=SIZE // 2)
    assert (full - coarse).abs().max() * SIZE / 2 < 0.5  # under half a pixel everywhere
    assert fold_fraction(full).item() < 0.05


def test_bad_shapes_raise_clear_errors() -> None:
    x, points = face("neutral", 0)
    with pytest.raises(LandmarkGANError, match="square"):
        warp(x[..., :-1], points, points)
    with pytest.raises(LandmarkGANError, match="source and target"):
        warp(x, points, points[:, :60])
    with pytest.raises(LandmarkGANError, match="point sets"):
        fit_tps(points, points[:, :60])


def test_gauss_jordan_solves_like_torch_linalg() -> None:
    """ONNX has no linear solver: the export solves the TPS system with our Gauss-Jordan elimination."""
    from landmarkgan.models.warp import gauss_jordan_solve

    _, source = face("neutral", 0)
    _, target = face("surprise", 4)
    src, dst = anchored(source.double(), target.double())
    lhs, rhs = _plain_system(dst, src)
    lhs = lhs + 3e-3 * torch.diag(torch.cat([torch.ones(src.shape[1]), torch.zeros(3)])).double()
    assert torch.allclose(gauss_jordan_solve(lhs, rhs), torch.linalg.solve(lhs, rhs), atol=1e-8)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 6, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, 2, generator=g, dtype=torch.float64)
    a[:, 0, 0] = 0  # a zero on the diagonal needs pivoting
    assert torch.allclose(gauss_jordan_solve(a, b), torch.linalg.solve(a, b), atol=1e-9)


@pytest.mark.parametrize("residual", [False, True])
def test_refinement_colour_is_drawn_or_a_correction_of_the_warp(residual: bool) -> None:
    """With the U-Net's output zeroed, the colour image is tanh(0) = grey, or with colour_residual the warped face
    itself; the output blends colour and warp through the mask (sigmoid(0) = 1/2)."""
    from landmarkgan.models.config import ModelConfig
    from landmarkgan.models.generators import Landmarks, WarpExpressionGenerator

    config = ModelConfig(image_size=SIZE, ngf=4, ndf=4, generator="warp", stage2_landmark_image="drawn",
                         colour_residual=residual)
    ge = WarpExpressionGenerator(config).eval()
    last = [m for m in ge.unet.modules() if isinstance(m, torch.nn.ConvTranspose2d) and m.out_channels == 4][0]
    torch.nn.init.zeros_(last.weight)
    if last.bias is not None:
        torch.nn.init.zeros_(last.bias)
    x, source = face("neutral", 0)
    _, target = face("happy", 4)
    labels = torch.zeros(1, config.num_labels)
    with torch.no_grad():
        out = ge(x, Landmarks(None, target, source), labels)
    expected = out["warped"].clamp(-0.995, 0.995) if residual else torch.zeros_like(out["warped"])
    assert torch.allclose(out["colour"], expected, atol=1e-5)
    assert torch.allclose(out["mask"], torch.full_like(out["mask"], 0.5))
    assert torch.allclose(out["image"], 0.5 * out["colour"] + 0.5 * out["warped"], atol=1e-6)
    assert not torch.allclose(out["warped"], x, atol=1e-2)  # the warp did move the face


def test_refinement_head_corrects_the_unet_at_full_resolution() -> None:
    """refinement_head adds two full-resolution 3x3 convolutions over [U-Net output, warped face]: with its last
    convolution zeroed the generator is the U-Net alone (same weights, same output); once it is trained, one output
    pixel depends on the warped face's 5x5 neighbourhood through it, which the half-resolution U-Net cannot
    single out."""
    from landmarkgan.models.config import ModelConfig
    from landmarkgan.models.generators import Landmarks, WarpExpressionGenerator

    plain = ModelConfig(image_size=SIZE, ngf=4, ndf=4, generator="warp", stage2_landmark_image="drawn",
                        colour_residual=True)
    torch.manual_seed(0)
    without = WarpExpressionGenerator(plain).eval()
    torch.manual_seed(0)
    with_head = WarpExpressionGenerator(ModelConfig(**{**plain.to_dict(), "refinement_head": 8})).eval()
    assert [m.kernel_size for m in with_head.head if isinstance(m, torch.nn.Conv2d)] == [(3, 3), (3, 3)]
    assert with_head.head[0].in_channels == 3 + 4 and with_head.head[-1].out_channels == 4
    with_head.unet.load_state_dict(without.unet.state_dict())
    torch.nn.init.zeros_(with_head.head[-1].weight)
    torch.nn.init.zeros_(with_head.head[-1].bias)
    x, source = face("neutral", 0)
    _, target = face("happy", 4)
    labels = torch.zeros(1, plain.num_labels)
    with torch.no_grad():
        a, b = without(x, Landmarks(None, target, source), labels), with_head(x, Landmarks(None, target, source), labels)
    for key in ("image", "colour", "mask"):
        assert torch.equal(a[key], b[key])

    torch.nn.init.normal_(with_head.head[-1].weight, std=0.1)
    head_input = torch.randn(1, 7, SIZE, SIZE, requires_grad=True)
    with_head.head(head_input)[0, 0, 20, 20].backward()
    reach = head_input.grad.abs().sum(1)[0] > 0
    rows, cols = torch.nonzero(reach, as_tuple=True)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (18, 22, 18, 22)


def test_a_negative_refinement_head_is_a_clear_error() -> None:
    from landmarkgan.models.config import ModelConfig

    with pytest.raises(LandmarkGANError, match="model.refinement_head is a number of channels"):
        ModelConfig(generator="warp", refinement_head=-1)


def test_feature_region_is_the_clipped_sum_of_gaussians_around_the_features_and_the_forehead() -> None:
    """All 68 points of both faces at one point c: 2 x 51 Gaussians there (brows, eyes, nose, mouth; no jaw),
    and 2 x 10 each at c moved up by 15 and by 30 px at 256 (the brows moved onto the forehead). Below c at
    distance d the region is min(1, 102 g(d) + 20 g(d + 15) + 20 g(d + 30)), g the Gaussian of sigma 13 px."""
    from landmarkgan.models.generators import FOREHEAD_OFFSETS, REGION_SIGMA, feature_region

    size = 64
    centre = torch.full((1, 68, 2), (20 + 0.5) / size)  # the centre of pixel (20, 20)
    region = feature_region(centre, centre, size)
    assert region.shape == (1, 1, size, size) and region.min() >= 0 and region.max() <= 1
    px = 256 / size  # pixels at 256 per pixel here

    def g(d256: float) -> float:
        return math.exp(-d256**2 / (2 * REGION_SIGMA**2))

    for below in (0, 3, 6, 9, 14):
        d = below * px
        expected = min(1.0, 102 * g(d) + 20 * sum(g(d + up) for up in FOREHEAD_OFFSETS))
        assert region[0, 0, 20 + below, 20].item() == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert region[0, 0, 20 - 30 // int(px), 20] == pytest.approx(1.0)  # 30 px at 256 above: the forehead
    assert region[0, 0, 63, 63] < 1e-6  # far from every point
    jaw_only = centre.clone()
    jaw_only[:, 17:] = 0.95  # everything but the jaw line moved to the corner
    assert feature_region(jaw_only, jaw_only, size)[0, 0, 20, 20] < 1e-6  # the jaw line is left out


def test_feature_region_covers_the_face_and_leaves_hair_and_background_alone() -> None:
    from landmarkgan.models.generators import feature_region

    _, source = face("neutral", 0)
    _, target = face("surprise", 4)
    region = feature_region(source, target, SIZE)[0, 0]
    for points in (source, target):
        pixels = (points[0, 17:] * SIZE).long().clamp(0, SIZE - 1)  # brows, eyes, nose, mouth
        assert region[pixels[:, 1], pixels[:, 0]].min() > 0.9
    assert region[:, :4].max() < 0.01 and region[:, -4:].max() < 0.01  # the left and right edges
    assert region[-4:].max() < 0.01  # the bottom (neck and clothes)


@pytest.mark.parametrize("where", ["image", "features"])
def test_refinement_region_limits_where_the_output_departs_from_the_warp(where: str) -> None:
    """With refinement_region="features" the mask is the U-Net's times the feature region, so far from the
    features the output is the warped face; with "image" the untrained mask (about 1/2) paints everywhere."""
    from landmarkgan.models.config import ModelConfig
    from landmarkgan.models.generators import Landmarks, WarpExpressionGenerator, feature_region

    config = ModelConfig(image_size=SIZE, ngf=4, ndf=4, generator="warp", stage2_landmark_image="drawn",
                         refinement_region=where)
    torch.manual_seed(0)
    ge = WarpExpressionGenerator(config).eval()
    x, source = face("neutral", 0)
    _, target = face("happy", 4)
    with torch.no_grad():
        out = ge(x, Landmarks(None, target, source), torch.zeros(1, config.num_labels))
    region = feature_region(source, target, SIZE)
    outside = region < 1e-4
    departure = (out["image"] - out["warped"]).abs().amax(1, keepdim=True)
    if where == "features":
        assert out["mask"].le(region + 1e-6).all()
        assert departure[outside].max() < 1e-3
    else:
        assert departure[outside].mean() > 0.05


def test_an_unknown_refinement_region_is_a_clear_error() -> None:
    from landmarkgan.models.config import ModelConfig

    with pytest.raises(LandmarkGANError, match="model.refinement_region must be one of image, features"):
        ModelConfig(generator="warp", refinement_region="face")


def test_affine_warp_is_the_identity_and_an_exact_whole_pixel_shift() -> None:
    image = torch.rand(2, 3, 8, 8)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(2, 2, 3)
    assert torch.allclose(affine_warp(image, identity), image, atol=1e-6)
    shift = identity.clone()
    shift[:, 0, 2] = 2 * 2 / 8  # output pixel x reads input pixel x + 2; the last two columns repeat the border
    moved = affine_warp(image, shift)
    assert torch.allclose(moved[..., :6], image[..., 2:], atol=1e-6)
    assert torch.allclose(moved[..., 6:], image[..., 7:].expand(-1, -1, -1, 2), atol=1e-6)
