"""The palette refinement (model.refinement_colours=palette): the person's colours sampled at their landmarks, and a
refinement that can only shade the warped face and mix in those colours around the mouth and eyes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from landmarkgan.data.synthetic import render_face, sample_identity
from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.config import ModelConfig
from landmarkgan.models.generators import (
    KEEP_BIAS,
    Landmarks,
    WarpExpressionGenerator,
    blend_refinement,
    feature_region,
    palette_refinement,
    palette_region,
)
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.models.palette import CAVITY_SHADE, PALETTE, mouth_openness, palette_colours
from landmarkgan.models.pdm import normalise
from tests.helpers import tiny_model

SIZE = 64
PALETTE_MODEL = dict(generator="warp", stage2_landmark_image="drawn", refinement_colours="palette")


def face(expression: str, intensity: int, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic face as (1, 3, S, S) in [-1, 1] and its landmarks (1, 68, 2) in the normalised frame."""
    image, points = render_face(sample_identity(np.random.default_rng(seed)), expression, intensity, SIZE)
    x = torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    return x, normalise(torch.from_numpy(points)[None], SIZE)


def ramp_image(size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """An image whose channels are affine in the pixel position, v = A [u, v, 1] in the normalised frame (small
    enough to stay inside [-1, 1]): a 3 x 3 average and bilinear sampling give back the affine map at the spot."""
    a = torch.tensor([[0.6, 0.1, -0.3], [-0.2, 0.5, 0.1], [0.3, -0.4, 0.05]])
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    v, u = torch.meshgrid(centres, centres, indexing="ij")
    image = torch.einsum("cj,jhw->chw", a, torch.stack([u, v, torch.ones_like(u)]))[None]
    return image, a


def at(a: torch.Tensor, spots: torch.Tensor) -> torch.Tensor:
    """The affine colour map ``a`` at spots (N, 2) -> (N, 3)."""
    return torch.cat([spots, torch.ones(len(spots), 1)], 1) @ a.T


def test_palette_colours_are_the_face_sampled_at_its_landmark_spots() -> None:
    """On an affine ramp (away from the border, where the 3 x 3 average is exact) every colour is the ramp at
    hand-computed spots: lips at the midpoints of outer and inner lip points, skin at the cheeks and the chin, the
    sclera the per-channel largest of 8 spots from the eye corners towards the eye centres, the iris at the eye
    centres, the teeth (a closed mouth) the sclera, the cavity the lips times 0.3 in [0, 1] intensities."""
    image, a = ramp_image()
    _, points = face("neutral", 0)
    p = points[0]
    palette = palette_colours(image, points)[0]
    assert palette.shape == (len(PALETTE), 3)
    mid = lambda i, j, t=0.5: p[i] + t * (p[j] - p[i])  # noqa: E731
    lips = at(a, torch.stack([mid(50, 61), mid(51, 62), mid(52, 63), mid(58, 67), mid(57, 66), mid(56, 65)])).mean(0)
    skin = at(a, torch.stack([mid(2, 31), mid(14, 35), mid(8, 57)])).mean(0)
    right, left = p[36:42].mean(0), p[42:48].mean(0)
    sclera_spots = [corner + t * (centre - corner) for t in (0.25, 0.4)
                    for corner, centre in ((p[36], right), (p[39], right), (p[42], left), (p[45], left))]
    sclera = at(a, torch.stack(sclera_spots)).amax(0)
    iris = at(a, torch.stack([right, left])).mean(0)
    assert mouth_openness(points).item() == 0  # a neutral mouth is closed: the teeth are the sclera's colour
    expected = {"lips": lips, "skin": skin, "teeth": sclera, "cavity": (lips + 1) * CAVITY_SHADE - 1,
                "sclera": sclera, "iris": iris}
    for k, name in enumerate(PALETTE):
        assert torch.allclose(palette[k], expected[name], atol=2e-4), name


def test_an_open_mouth_gives_the_teeth_under_the_upper_lip() -> None:
    image, a = ramp_image()
    _, points = face("surprise", 4)
    assert mouth_openness(points).item() == 1
    p = points[0]
    under = torch.stack([p[i] + 0.25 * (p[j] - p[i]) for i, j in ((61, 67), (62, 66), (63, 65))])
    teeth = palette_colours(image, points)[0, PALETTE.index("teeth")]
    assert torch.allclose(teeth, at(a, under).mean(0), atol=2e-4)


def test_a_flat_face_gives_its_colour_everywhere_but_in_the_cavity() -> None:
    colour = torch.tensor([0.4, -0.1, -0.5])
    image = colour[None, :, None, None].expand(2, 3, SIZE, SIZE)
    points = torch.cat([face("happy", 4)[1], face("surprise", 2)[1]])
    palette = palette_colours(image, points)
    for k, name in enumerate(PALETTE):
        expected = (colour + 1) * CAVITY_SHADE - 1 if name == "cavity" else colour
        assert torch.allclose(palette[:, k], expected.expand(2, 3), atol=1e-6), name


def layers(seed: int = 0, scale: float = 4.0) -> tuple[torch.Tensor, ...]:
    """Random inputs of :func:`palette_refinement`: a large U-Net output (every layer in use), a random warped face,
    a random palette and the regions of a happy target."""
    g = torch.Generator().manual_seed(seed)
    out = scale * torch.randn(2, 2 + len(PALETTE), SIZE, SIZE, generator=g)
    warped = torch.rand(2, 3, SIZE, SIZE, generator=g) * 2 - 1
    palette = torch.rand(2, len(PALETTE), 3, generator=g) * 2 - 1
    _, source = face("neutral", 0)
    _, target = face("happy", 4)
    source, target = source.expand(2, -1, -1), target.expand(2, -1, -1)
    return out, warped, palette, feature_region(source, target, SIZE), palette_region(target, SIZE)


def test_the_palette_refinement_is_a_shaded_mix_of_the_warped_face_and_the_palette() -> None:
    out, warped, palette, shading_region, region = layers()
    result = palette_refinement(out, warped, palette, shading_region, region)
    shading, weights, share = result["shading"], result["weights"], result["mask"]
    assert shading.shape == share.shape == (2, 1, SIZE, SIZE) and weights.shape == (2, len(PALETTE), SIZE, SIZE)
    assert shading.min() >= 0.5 - 1e-6 and shading.max() <= 2 + 1e-6
    assert weights.min() >= 0 and torch.all(share <= region + 1e-6)
    assert torch.allclose(share, weights.sum(1, keepdim=True))
    # by hand: softmax over [keep + KEEP_BIAS, palette logits], palette weights times the region
    logits = out[:, 1:].clone()
    logits[:, 0] += KEEP_BIAS
    by_hand = torch.softmax(logits, 1)[:, 1:] * region
    assert torch.allclose(weights, by_hand, atol=1e-6)
    base = (1 - share) * (warped + 1) / 2 + sum(by_hand[:, k : k + 1] * (palette[:, k, :, None, None] + 1) / 2
                                               for k in range(len(PALETTE)))
    assert torch.allclose(result["image"], (shading * base).clamp(0, 1) * 2 - 1, atol=1e-5)
    smooth = F.interpolate(F.avg_pool2d(out[:, :1], 2), scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(shading, 2 ** (torch.tanh(smooth) * shading_region), atol=1e-6)


def test_the_shading_has_no_pixel_sized_pattern() -> None:
    """A checkerboard in the shading logit (what a stride-2 transposed convolution makes) averages out: the shading
    stays 1; a smooth logit passes."""
    out, warped, palette, shading_region, region = layers()
    out[:, 0] = 3.0 * (torch.arange(SIZE)[:, None] + torch.arange(SIZE)[None, :]).remainder(2) * 2 - 3.0
    assert torch.allclose(palette_refinement(out, warped, palette, shading_region, region)["shading"],
                          torch.ones(2, 1, SIZE, SIZE))
    out[:, 0] = 1.0
    shading = palette_refinement(out, warped, palette, shading_region, region)["shading"]
    assert torch.allclose(shading, 2 ** (math.tanh(1.0) * shading_region), atol=1e-6)


def test_it_cannot_paint_a_colour_the_person_lacks() -> None:
    """A grey warped face W and a palette of one colour P: wherever the output is not clipped, dividing out the
    grey shading leaves a point of the segment from W to P (the output's colour is (1 - a) W + a P, a in [0, 1],
    times the shading). An orange band on a grey face with a grey palette is impossible; far from the features
    the output is the warped face itself."""
    out, warped, palette, shading_region, region = layers(seed=1, scale=6.0)
    warped = torch.full_like(warped, -0.2)  # grey
    p = torch.tensor([0.5, -0.3, -0.6])
    palette = p.expand_as(palette).clone()
    result = palette_refinement(out, warped, palette, shading_region, region)
    image01 = (result["image"] + 1) / 2
    unclipped = ((image01 > 1e-4) & (image01 < 1 - 1e-4)).all(1, keepdim=True)
    base = image01 / result["shading"]
    w, q = (warped[:, :, :1, :1] + 1) / 2, ((p + 1) / 2)[None, :, None, None]
    a = ((base - w) * (q - w)).sum(1, keepdim=True) / ((q - w) ** 2).sum(1, keepdim=True)
    residual = (base - (w + a * (q - w))).abs().amax(1, keepdim=True)
    assert residual[unclipped].max() < 1e-5
    assert a[unclipped].min() > -1e-5 and a[unclipped].max() < 1 + 1e-5
    assert unclipped.float().mean() > 0.5  # most pixels are checked
    far = (shading_region < 1e-6) & (region < 1e-6)
    assert far.float().mean() > 0.2
    assert torch.allclose(result["image"][far.expand_as(warped)], warped[far.expand_as(warped)], atol=1e-5)


def test_the_palette_generator_reads_the_palette_and_outputs_its_layers() -> None:
    config = ModelConfig(image_size=SIZE, ngf=4, ndf=4, **PALETTE_MODEL)
    free = ModelConfig(image_size=SIZE, ngf=4, ndf=4, generator="warp", stage2_landmark_image="drawn")
    ge = WarpExpressionGenerator(config).eval()
    assert ge.input_nc == WarpExpressionGenerator(free).input_nc + 3 * len(PALETTE)  # the palette as planes
    x, source = face("neutral", 0)
    _, target = face("surprise", 4)
    with torch.no_grad():
        out = ge(x, Landmarks(None, target, source), torch.zeros(1, config.num_labels))
    assert out["image"].shape == out["warped"].shape == x.shape
    assert out["palette"].shape == (1, len(PALETTE), 3)
    assert torch.allclose(out["palette"], palette_colours(x, source))
    assert out["shading"].shape == out["mask"].shape == (1, 1, SIZE, SIZE)
    assert "colour" not in out and "mask_logits" not in out
    # an untrained refinement mostly keeps the warped face: the keep layer starts KEEP_BIAS ahead of the 6 colours,
    # whose share is then 6 / (6 + e^4) = 0.1 where the region is 1
    assert out["mask"].max() < 0.15


def test_the_refinement_strength_scales_the_palette_refinements_change() -> None:
    model = tiny_model(**PALETTE_MODEL).eval()
    x = face("neutral", 0)[0][:, :, ::2, ::2]  # 32 x 32, the tiny model's size
    le, li = torch.tensor([4]), torch.tensor([4])
    with torch.no_grad():
        full = model.translate(x, le, li)
        half = model.translate(x, le, li, refinement=0.5)
        none = model.translate(x, le, li, refinement=0)
    assert torch.allclose(none["image"], full["warped"])
    assert torch.allclose(half["image"], 0.5 * (full["image"] + full["warped"]), atol=1e-6)
    out = {"image": full["image"], "warped": full["warped"]}
    assert torch.equal(blend_refinement(out, 1), full["image"])


def test_a_palette_model_folder_round_trips(tmp_path: Path) -> None:
    model = tiny_model(**PALETTE_MODEL).eval()
    folder = model.save_pretrained(tmp_path / "palette", discriminators=False)
    again = LandmarkGAN.from_pretrained(folder)
    assert again.config.refinement_colours == "palette"
    x = face("neutral", 0)[0][:, :, ::2, ::2]
    with torch.no_grad():
        a = model.translate(x, torch.tensor([1]), torch.tensor([3]))["image"]
        b = again.translate(x, torch.tensor([1]), torch.tensor([3]))["image"]
    assert torch.equal(a, b)


def test_palette_settings_are_checked() -> None:
    with pytest.raises(LandmarkGANError, match="model.refinement_colours must be one of free, palette"):
        ModelConfig(generator="warp", refinement_colours="painted")
    with pytest.raises(LandmarkGANError, match="needs model.generator=warp"):
        ModelConfig(refinement_colours="palette")
    with pytest.raises(LandmarkGANError, match="set model.colour_residual=false"):
        ModelConfig(generator="warp", refinement_colours="palette", colour_residual=True)
    with pytest.raises(LandmarkGANError, match="model.refinement_region=image"):
        ModelConfig(generator="warp", refinement_colours="palette", refinement_region="features")
    assert ModelConfig().refinement_colours == "free"  # today's refinement stays the default


def test_the_palette_generators_loss_has_no_colour_or_mask_terms() -> None:
    """The free refinement's colour and mask terms have nothing to act on; the change-weighted term applies."""
    model = tiny_model(**PALETTE_MODEL, lambda_change=10, identity_loss=False).train()
    x, source = face("neutral", 0)
    y, target = face("happy", 4)
    small = lambda t: t[:, :, ::2, ::2]  # noqa: E731
    batch = {"x": small(x), "y": small(y), "target_label": torch.tensor([1]), "target_intensity": torch.tensor([4]),
             "source_landmarks": source * 32 - 0.5, "target_landmarks": target * 32 - 0.5}
    total, parts = model.stage2_generator_loss(batch)
    assert {"gan", "reconstruction", "change"} <= set(parts) and not {"colour", "mask"} & set(parts)
    total.backward()
    assert all(p.grad is not None for p in model.ge.unet.parameters() if p.requires_grad)
