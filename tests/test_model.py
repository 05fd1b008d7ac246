"""ModelConfig, the PDM, both generators, every ablation switch, the four losses and input checks."""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.expressions import EXPRESSIONS
from landmarkgan.models import LandmarkGAN, ModelConfig, PointDistributionModel
from landmarkgan.models.generators import Landmarks, soft_crops
from landmarkgan.models.losses import change_weighted_loss, reconstruction_loss

S = 64
SMALL = dict(image_size=S, ngf=8, ndf=8, pdm_components=6, label_embed_dim=16)


def rotation(theta: float) -> np.ndarray:
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def random_shapes(n: int, seed: int = 0, modes: int = 3, deform: float = 0.02) -> np.ndarray:
    """n random similarity transforms of a base shape deformed along ``modes`` fixed directions ([0, 1] frame)."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.3, 0.3, (68, 2))
    directions = rng.normal(size=(modes, 68, 2))
    shapes = []
    for _ in range(n):
        shape = base + deform * np.einsum("k,kpd->pd", rng.normal(size=modes), directions)
        scale, theta, t = rng.uniform(0.6, 1.0), rng.uniform(-0.3, 0.3), rng.uniform(0.4, 0.6, 2)
        shapes.append(scale * shape @ rotation(theta).T + t)
    return np.stack(shapes)


def make_model(**overrides) -> LandmarkGAN:
    torch.manual_seed(0)
    model = LandmarkGAN(ModelConfig(**{**SMALL, **overrides}))
    return model.fit_pdm(random_shapes(40) * S - 0.5)


def make_batch(b: int = 2, size: int = S, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = lambda: torch.rand(b, 3, size, size, generator=g) * 2 - 1  # noqa: E731
    return {
        "x": image(),
        "y": image(),
        "target_landmark_image": image(),
        "source_label": torch.zeros(b, dtype=torch.long),
        "target_label": torch.arange(1, b + 1) % 7,
        "target_intensity": torch.arange(b) % 5,
        "target_landmarks": torch.from_numpy(random_shapes(b, seed=seed) * size - 0.5).float(),
    }


class ChannelMeans(nn.Module):
    """Stand-in face-recognition network: (B, 3, H, W) -> (B, 3) channel means."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


# -- config ------------------------------------------------------------------------------------------
def test_config_defaults_are_the_papers() -> None:
    c = ModelConfig()
    assert (c.image_size, c.ngf, c.ndf, c.n_layers_D, c.norm, c.dropout) == (256, 64, 64, 3, "batch", True)
    assert (c.lambda1, c.lambda2, c.lambda3) == (2.0, 100.0, 0.1)
    assert (c.label_to, c.recon_loss, c.soft_crops, c.dual_discriminator) == ("both", "l12", True, True)
    assert c.num_downs == 8 and ModelConfig(image_size=64).num_downs == 6
    assert ModelConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("image_size", 100, "power of two"),
        ("image_size", 16, "power of two"),
        ("norm", "group", "model.norm must be one of"),
        ("label_to", "both_gens", "model.label_to must be one of"),
        ("recon_loss", "l3", "model.recon_loss must be one of"),
        ("dropout", "yes", "model.dropout must be true or false"),
        ("ngf", 0, "model.ngf must be at least 1"),
        ("ngf", 8.5, "model.ngf must be an integer"),
        ("expressions", ["happy"], "at least 2 different"),
        ("expressions", ["happy", "joy"], "at least 2 different"),
        ("expressions", ["happy", "bored"], "unknown expression 'bored'"),
        ("expressions", "happy", "list of names"),
        ("num_intensities", -1, "num_intensities"),
        ("lambda1", -1.0, "model.lambda1 must be a finite number >= 0"),
        ("lambda3", float("nan"), "model.lambda3"),
        ("lambda_cls", -0.5, "model.lambda_cls must be a finite number >= 0"),
        ("soft_crop_sigma", 0.0, "soft_crop_sigma must be positive"),
        ("pdm_components", 133, "at most 132"),
        ("n_layers_D", 5, "too deep"),
    ],
)
def test_bad_config_values_raise(field: str, value: object, message: str) -> None:
    with pytest.raises(LandmarkGANError, match=message):
        ModelConfig.from_dict({**SMALL, field: value})


def test_unknown_config_key_raises() -> None:
    """Named, with what to do where it is an option an earlier version had (a saved config of a removed switch)."""
    with pytest.raises(LandmarkGANError, match=r"unknown model option\(s\) \['image_sise'\].*where they were off, delete"):
        ModelConfig.from_dict({"image_sise": 256})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"refinement_head": 16}, r"model.refinement_head=16 would do nothing: it belongs to the warp generator"),
        ({"refinement_region": "features"}, "model.refinement_region='features' would do nothing"),
        ({"colour_residual": True}, "colour_residual=True would do nothing"),
        ({"lambda_change": 10.0}, "lambda_change=10.0 would do nothing"),
        ({"cls_size": 16}, r"cls_size=16 would do nothing: it belongs to the expression classification loss"),
        ({"soft_crops": False, "soft_crop_sigma": 4.0}, "soft_crop_sigma=4.0 would do nothing"),
        ({"landmark_loss": False, "lambda1": 5.0}, "lambda1=5.0 would do nothing"),
        ({"identity_loss": False, "lambda3": 1.0}, "lambda3=1.0 would do nothing"),
    ],
)
def test_options_that_would_do_nothing_for_the_model_are_refused(options: dict, message: str) -> None:
    """An option set away from its default where the model does not use it is refused with a message saying what
    it belongs to; the same option where it applies, or left at its default, is accepted."""
    with pytest.raises(LandmarkGANError, match=message):
        ModelConfig.from_dict({**SMALL, **options})
    ModelConfig.from_dict({**SMALL, "generator": "warp", "refinement_head": 16, "colour_residual": True})
    ModelConfig.from_dict({**SMALL, "lambda_cls": 1.0, "cls_size": 16})
    ModelConfig.from_dict({**SMALL, "landmark_loss": False, "identity_loss": False, "soft_crops": False})


# -- PDM ---------------------------------------------------------------------------------------------
def test_pdm_round_trip_and_mean_shape() -> None:
    shapes = torch.from_numpy(random_shapes(200, modes=3)).float()
    pdm = PointDistributionModel(num_components=12).fit(shapes)
    recovered = pdm.decode(pdm.encode(shapes))
    assert (recovered - shapes).abs().max() < 1e-3 * 0.05  # < 0.05 px at 1000 px
    # zero parameters: the mean shape at the mean pose: a similarity image of every aligned shape,
    # centred on the average centroid
    mean = pdm.decode(torch.zeros(1, pdm.num_params))[0]
    assert torch.allclose(mean.mean(0), shapes.mean(dim=(0, 1)), atol=1e-6)
    assert torch.allclose(pdm.mean.norm(), torch.tensor(1.0)) and pdm.mean.mean(0).abs().max() < 1e-6
    assert torch.allclose(pdm.decode(pdm.encode(mean[None]))[0], mean, atol=1e-5)


def test_pdm_pure_similarity_transforms_round_trip_exactly() -> None:
    shapes = torch.from_numpy(random_shapes(30, modes=1, deform=0.0)).float()
    pdm = PointDistributionModel(num_components=4).fit(shapes)
    assert (pdm.decode(pdm.encode(shapes)) - shapes).abs().max() < 1e-5
    assert pdm.mode_std.max() < 1e-5  # no deformation: no shape variance


def test_pdm_with_fewer_shapes_than_modes_gives_zero_variance_modes() -> None:
    shapes = torch.from_numpy(random_shapes(5, modes=3)).float()
    pdm = PointDistributionModel(num_components=20).fit(shapes)
    assert (pdm.mode_std[5:] == 0).all() and (pdm.modes[5:] == 0).all()
    assert (pdm.decode(pdm.encode(shapes)) - shapes).abs().max() < 1e-5


def test_pdm_state_lives_in_buffers() -> None:
    pdm = PointDistributionModel(num_components=6).fit(random_shapes(30))
    fresh = PointDistributionModel(num_components=6)
    fresh.load_state_dict(pdm.state_dict())
    z = torch.randn(3, fresh.num_params)
    assert torch.equal(fresh.decode(z), pdm.decode(z))


def test_pdm_errors() -> None:
    with pytest.raises(LandmarkGANError, match="not fitted"):
        PointDistributionModel().decode(torch.zeros(1, 24))
    with pytest.raises(LandmarkGANError, match=r"\(N, 68, 2\)"):
        PointDistributionModel().fit(np.zeros((10, 5, 2)))
    with pytest.raises(LandmarkGANError, match="at least 2"):
        PointDistributionModel().fit(random_shapes(1))
    with pytest.raises(LandmarkGANError, match="all points at one place"):
        PointDistributionModel().fit(np.zeros((3, 68, 2)))
    bad = random_shapes(3)
    bad[1, 4, 0] = np.nan
    with pytest.raises(LandmarkGANError, match="NaN"):
        PointDistributionModel().fit(bad)


# -- generators and shapes --------------------------------------------------------------------------
@pytest.mark.parametrize("size", [64, 256])
def test_translate_shapes(size: int) -> None:
    model = make_model(image_size=size).eval()
    batch = make_batch(size=size)
    with torch.no_grad():
        out = model.translate(batch["x"], batch["target_label"])
    assert out["landmark_image"].shape == (2, 3, size, size) and out["image"].shape == (2, 3, size, size)
    assert out["landmarks"].shape == (2, 68, 2)
    assert out["image"].abs().max() <= 1 and out["landmark_image"].abs().max() <= 1
    preds = LandmarkGAN._judge(model.de, out["image"], batch["x"])
    side = size // 8 - 2
    assert [p.shape[-1] for p in preds] == [side, size // 16 - 2]


def test_untrained_gl_starts_at_mean_shape_in_pixels() -> None:
    model = make_model().eval()
    batch = make_batch()
    _, coords = model.generate_landmarks(batch["x"], batch["target_label"])
    mean = model.pdm.decode(torch.zeros(1, model.pdm.num_params))[0] * S - 0.5
    assert torch.allclose(coords, mean.expand(2, -1, -1), atol=1e-4)


def test_soft_crops_are_gaussians_around_points() -> None:
    image = torch.ones(1, 3, 16, 16)
    point = torch.tensor([[[(4 + 0.5) / 16, (10 + 0.5) / 16]]], requires_grad=True)  # centre of pixel (x=4, y=10)
    sigma = 2 / 16
    features = soft_crops(image, point, sigma)
    mask = features[0, 3]
    assert features.shape == (1, 4, 16, 16)
    assert mask[10, 4].item() == pytest.approx(1.0)
    assert mask[10, 7].item() == pytest.approx(math.exp(-9 / 8), rel=1e-5)  # 3 px away, sigma 2 px
    assert torch.equal(features[0, :3], mask.expand(3, -1, -1))
    features[0, 3, 10, 7].backward()
    assert point.grad[0, 0, 0] > 0  # moving the point right raises the mask at x = 7


# -- ablation switches ------------------------------------------------------------------------------
def first_conv_in(net: nn.Module) -> int:
    return net.unet.blocks[0].down[0].in_channels


def test_ge_input_channels_follow_switches() -> None:
    k = 7
    assert first_conv_in(make_model().ge) == 3 + 3 + k + 4
    assert first_conv_in(make_model(soft_crops=False).ge) == 3 + 3 + k
    assert first_conv_in(make_model(label_to="gl").ge) == 3 + 3 + 4
    assert first_conv_in(make_model(num_intensities=4).ge) == 3 + 3 + k + 4 + 4


def test_gl_label_embedding_follows_switches() -> None:
    both = make_model()
    assert both.gl.embed.net[0].in_features == 7
    assert make_model(num_intensities=4).gl.embed.net[0].in_features == 7 + 4
    assert make_model(expressions=list(EXPRESSIONS)).gl.embed.net[0].in_features == 8
    innermost = lambda m: m.gl.unet.blocks[-1].up[1].in_channels  # noqa: E731
    assert innermost(both) == 8 * 8 + 16
    ge_only = make_model(label_to="ge")
    assert ge_only.gl.embed is None and innermost(ge_only) == 8 * 8


def landmarks_for_two_labels(model: LandmarkGAN) -> tuple[torch.Tensor, torch.Tensor]:
    nn.init.normal_(model.gl.head.weight, 0, 0.5)  # as after training: the head reads the code
    model.eval()
    x = make_batch(1)["x"]
    with torch.no_grad():
        return (model.generate_landmarks(x, torch.tensor([1]))[1], model.generate_landmarks(x, torch.tensor([4]))[1])


def test_label_to_decides_which_generator_sees_the_expression() -> None:
    a, b = landmarks_for_two_labels(make_model(label_to="both"))
    assert (a - b).abs().max() > 1e-3
    a, b = landmarks_for_two_labels(make_model(label_to="ge"))
    assert torch.equal(a, b)
    model = make_model(label_to="gl").eval()
    x, lm = make_batch(1)["x"], torch.zeros(1, 3, S, S)
    points = torch.rand(1, 68, 2)
    labels = [torch.eye(7)[i : i + 1] for i in (1, 4)]
    with torch.no_grad():
        stage1 = Landmarks(lm, points)
        assert torch.equal(model.ge(x, stage1, labels[0])["image"], model.ge(x, stage1, labels[1])["image"])


def test_intensity_changes_the_label_vector() -> None:
    model = make_model(num_intensities=4)
    x = make_batch(1)["x"]
    le = torch.tensor([2])
    labels = [model._labels(x, le, torch.tensor([i])) for i in range(5)]
    assert labels[0].tolist() == [[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]]  # 0 = no level
    assert labels[3].tolist() == [[0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]]


def test_dual_discriminator_switch() -> None:
    assert (len(make_model().dl), len(make_model().de)) == (2, 2)
    single = make_model(dual_discriminator=False)
    assert (len(single.dl), len(single.de)) == (1, 1)


def test_identity_and_landmark_switches_change_the_loss_terms() -> None:
    batch = make_batch()
    model = make_model()
    _, parts = model.stage2_generator_loss(batch, identity_net=ChannelMeans())
    assert set(parts) == {"total", "gan", "reconstruction", "identity"}
    with pytest.raises(LandmarkGANError, match="identity_loss is on"):
        model.stage2_generator_loss(batch)
    _, parts = make_model(identity_loss=False).stage2_generator_loss(batch)
    assert set(parts) == {"total", "gan", "reconstruction"}
    assert parts["total"].item() == pytest.approx((parts["gan"] + 100.0 * parts["reconstruction"]).item(), rel=1e-5)
    _, parts = model.stage1_generator_loss(batch)
    assert set(parts) == {"total", "gan", "landmark"}
    assert parts["total"].item() == pytest.approx((parts["gan"] + 2.0 * parts["landmark"]).item(), rel=1e-5)
    _, parts = make_model(landmark_loss=False).stage1_generator_loss(batch)
    assert set(parts) == {"total", "gan"}


@pytest.mark.parametrize("kind", ["l1", "l2", "l12"])
def test_recon_loss_switch_and_lambdas(kind: str) -> None:
    model = make_model(recon_loss=kind, lambda2=7.0, lambda3=0.5).eval()
    batch = make_batch()
    total, parts = model.stage2_generator_loss(batch, identity_net=ChannelMeans())
    y_hat = model.translate(batch["x"], batch["target_label"])["image"]
    assert parts["reconstruction"].item() == pytest.approx(reconstruction_loss(y_hat, batch["y"], kind).item(), rel=1e-5)
    expected = (ChannelMeans()(y_hat) - ChannelMeans()(batch["y"])).abs().mean()
    assert parts["identity"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert total.item() == pytest.approx((parts["gan"] + 7.0 * parts["reconstruction"] + 0.5 * parts["identity"]).item(), rel=1e-5)


def test_landmark_loss_is_in_pixels_at_256() -> None:
    model = make_model().eval()
    batch = make_batch()
    _, parts = model.stage1_generator_loss(batch)
    _, coords = model.generate_landmarks(batch["x"], batch["target_label"])
    pixel_error = (coords - batch["target_landmarks"]).norm(dim=-1).mean()
    assert parts["landmark"].item() == pytest.approx(pixel_error.item() * 256 / S, rel=1e-4)


# -- training behaviour -----------------------------------------------------------------------------
def nets_with_grads(model: LandmarkGAN) -> set[str]:
    return {
        name for name in ("gl", "ge", "dl", "de")
        if any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, name).parameters())
    }


@pytest.mark.parametrize(
    "loss, trained",
    [
        ("stage1_discriminator_loss", {"dl"}),
        ("stage1_generator_loss", {"gl", "dl"}),  # the trainer freezes dl for this step
        ("stage2_discriminator_loss", {"de"}),
        ("stage2_generator_loss", {"ge", "de"}),  # the trainer freezes de; Gl is fixed in stage II
    ],
)
def test_losses_reach_the_right_networks(loss: str, trained: set[str]) -> None:
    model = make_model()
    batch = make_batch()
    kwargs = {"identity_net": ChannelMeans()} if loss == "stage2_generator_loss" else {}
    total, _ = getattr(model, loss)(batch, **kwargs)
    total.backward()
    assert nets_with_grads(model) == trained


def test_gradient_steps_update_only_the_stepped_network() -> None:
    model = make_model()
    batch = make_batch()
    before = {k: v.clone() for k, v in model.named_parameters()}
    for name, loss in (("gl", model.stage1_generator_loss), ("ge", lambda b: model.stage2_generator_loss(b, ChannelMeans()))):
        opt = torch.optim.Adam(getattr(model, name).parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt.zero_grad()
        loss(batch)[0].backward()
        opt.step()
    changed = {k.split(".")[0] for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert changed == {"gl", "ge"}
    assert not torch.equal(model.gl.head.weight, before["gl.head.weight"])  # landmark loss trains the PDM head


def test_state_dict_round_trips_through_safetensors(tmp_path) -> None:
    model = make_model().eval()
    path = tmp_path / "model.safetensors"
    save_file(model.state_dict(), str(path))
    fresh = LandmarkGAN(ModelConfig(**SMALL)).eval()  # PDM not fitted yet
    fresh.load_state_dict(load_file(str(path)))
    batch = make_batch()
    with torch.no_grad():
        a = model.translate(batch["x"], batch["target_label"])
        b = fresh.translate(batch["x"], batch["target_label"])
    assert all(torch.equal(a[k], b[k]) for k in a if a[k] is not None)


# -- bad inputs -------------------------------------------------------------------------------------
def test_wrong_inputs_raise_clear_errors() -> None:
    model = make_model()
    batch = make_batch()
    with pytest.raises(LandmarkGANError, match=r"x must be a \(B, 3, 64, 64\).*image_size is 64"):
        model.translate(torch.zeros(1, 3, 32, 32), torch.tensor([0]))
    with pytest.raises(LandmarkGANError, match=r"values must lie in 0..6"):
        model.translate(batch["x"], torch.tensor([0, 7]))
    with pytest.raises(LandmarkGANError, match="integer indices"):
        model.translate(batch["x"], torch.tensor([0.0, 1.0]))
    with pytest.raises(LandmarkGANError, match=r"\(2,\) tensor"):
        model.translate(batch["x"], torch.tensor([0]))
    with pytest.raises(LandmarkGANError, match="lacks target_landmarks"):
        model.stage1_generator_loss({k: v for k, v in batch.items() if k != "target_landmarks"})
    with pytest.raises(LandmarkGANError, match=r"target_landmarks must be \(2, 68, 2\)"):
        model.stage1_generator_loss({**batch, "target_landmarks": torch.zeros(2, 5, 2)})
    with pytest.raises(LandmarkGANError, match="y has 1 items"):
        model.stage2_discriminator_loss({**batch, "y": batch["y"][:1]})
    intensity = make_model(num_intensities=4)
    with pytest.raises(LandmarkGANError, match="controls intensity"):
        intensity.translate(batch["x"], batch["target_label"])
    with pytest.raises(LandmarkGANError, match=r"0..4"):
        intensity.translate(batch["x"], batch["target_label"], torch.tensor([1, 5]))
    with pytest.raises(LandmarkGANError, match="not fitted"):
        LandmarkGAN(ModelConfig(**SMALL)).translate(batch["x"], batch["target_label"])


def test_config_is_kept_on_the_model() -> None:
    model = make_model(expressions=list(EXPRESSIONS))
    assert dataclasses.asdict(model.config)["expressions"][-1] == "contempt" and model.config.num_expressions == 8


# -- baselines ---------------------------------------------------------------------------------------
def test_label_only_baseline_has_no_stage1_and_reads_x_and_labels() -> None:
    model = make_model(landmark_source="none").eval()
    assert model.gl is None and model.dl is None and model.pdm is None
    assert model.ge.input_nc == 3 + 7  # x and the label planes, even with labels "to Gl only"
    assert make_model(landmark_source="none", label_to="gl").ge.input_nc == 10
    batch = make_batch()
    out = model.translate_batch(batch)
    assert out["image"].shape == (2, 3, S, S) and out["landmarks"] is None and out["landmark_image"] is None
    for loss in (model.stage2_discriminator_loss, lambda b: model.stage2_generator_loss(b, ChannelMeans())):
        total, _ = loss(batch)
        assert torch.isfinite(total)
    with pytest.raises(LandmarkGANError, match="'none' baseline without it"):
        model.stage1_generator_loss(batch)


def test_ground_truth_baseline_reads_the_targets_landmarks() -> None:
    model = make_model(landmark_source="ground_truth").eval()
    assert model.gl is None and model.ge.input_nc == 3 + 3 + 7 + 4
    batch = make_batch()
    out = model.translate_batch(batch)
    assert torch.equal(out["landmark_image"], batch["target_landmark_image"])
    assert torch.allclose(out["landmarks"], batch["target_landmarks"], atol=1e-4)
    other = dict(batch, target_landmark_image=-batch["target_landmark_image"])
    with torch.no_grad():
        assert not torch.equal(model.translate_batch(other)["image"], out["image"])  # Ge reads them
    with pytest.raises(LandmarkGANError, match="needs the target's landmark image"):
        model.translate(batch["x"], batch["target_label"], batch["target_intensity"])


def test_warp_generator_loss_terms_and_change_weighting() -> None:
    """The warp generator's loss: GAN + lambda2 recon + lambda_colour colour + lambda_mask mask + lambda_change change,
    the change term being the recon error weighted by where the warp misses the target."""
    model = make_model(generator="warp", stage2_landmark_image="drawn", identity_loss=False, recon_loss="l1",
                       lambda_change=3.0).eval()
    batch = make_batch()
    batch["source_landmarks"] = batch["target_landmarks"].flip(0)
    torch.manual_seed(0)
    total, parts = model.stage2_generator_loss(batch)
    assert set(parts) == {"total", "gan", "reconstruction", "colour", "mask", "change"}
    out = model.translate(batch["x"], batch["target_label"], batch["target_intensity"])
    expected = change_weighted_loss(out["image"], batch["y"], out["warped"], "l1")
    assert parts["change"].item() == pytest.approx(expected.item(), rel=1e-4)
    c = model.config
    assert total.item() == pytest.approx((parts["gan"] + c.lambda2 * parts["reconstruction"] + c.lambda_colour
                                          * parts["colour"] + c.lambda_mask * parts["mask"] + 3.0 * parts["change"]).item(),
                                         rel=1e-5)
    _, parts = make_model(generator="warp", stage2_landmark_image="drawn", identity_loss=False).stage2_generator_loss(batch)
    assert "change" not in parts  # off by default: the paper's losses and ours of before


def test_expression_classification_loss_trains_dc_on_real_and_ge_on_fake() -> None:
    """lambda_cls adds the expression classifier Dc: De's step adds lambda_cls * CE(Dc(y), le) and trains Dc with
    De; Ge's loss adds lambda_cls * CE(Dc(y_hat), le). Off (the paper) there is no Dc."""
    plain = make_model()
    assert plain.dc is None and plain.stage2_critics is plain.de
    model = make_model(lambda_cls=2.0).eval()
    assert model.dc(torch.zeros(3, 3, S, S)).shape == (3, 7)
    critics = {id(p) for p in model.stage2_critics.parameters()}
    assert {id(p) for p in model.dc.parameters()} <= critics and {id(p) for p in model.de.parameters()} <= critics
    batch = make_batch()
    x, y, le = batch["x"], batch["y"], batch["target_label"]
    total, parts = model.stage2_discriminator_loss(batch)
    expected = F.cross_entropy(model.dc(y), le)
    assert parts["classification"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert total.item() == pytest.approx((0.5 * (parts["real"] + parts["fake"]) + 2.0 * expected).item(), rel=1e-5)

    total, parts = model.stage2_generator_loss(batch, identity_net=ChannelMeans())
    y_hat = model.translate(x, le, batch["target_intensity"])["image"]
    assert parts["classification"].item() == pytest.approx(F.cross_entropy(model.dc(y_hat), le).item(), rel=1e-5)
    c = model.config
    assert total.item() == pytest.approx((parts["gan"] + c.lambda2 * parts["reconstruction"] + c.lambda3
                                          * parts["identity"] + 2.0 * parts["classification"]).item(), rel=1e-5)
    # the term's gradient reaches Ge (through y_hat)
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model.dc(model.translate(x, le, batch["target_intensity"])["image"]), le).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.ge.parameters())
    with pytest.raises(LandmarkGANError, match="auxiliary classifier takes"):
        model.dc(torch.zeros(1, 1, S, S))


def test_classifier_reads_a_shrunk_face_when_cls_size_is_set() -> None:
    """model.cls_size=n: Dc reads the face averaged down to n x n, so a face and its n x n block average are one
    to it, while patterns finer than a block (a stripe a pixel wide) are invisible; 0 reads the whole face."""
    model = make_model(lambda_cls=1.0, cls_size=S // 4).eval()
    x = torch.rand(2, 3, S, S) * 2 - 1
    blocks = F.interpolate(F.avg_pool2d(x, 4), scale_factor=4, mode="nearest")
    same = functools.partial(torch.allclose, rtol=1e-3, atol=1e-9)  # Dc's logits are small at initialisation
    assert same(model.dc(x), model.dc(blocks))
    stripes = x.clone()
    stripes[:, :, ::2] += 0.5
    stripes[:, :, 1::2] -= 0.5
    assert same(model.dc(x), model.dc(stripes))
    full = make_model(lambda_cls=1.0).eval()
    assert not same(full.dc(x), full.dc(blocks))
    for bad in (4, 12, 2 * S):
        with pytest.raises(LandmarkGANError, match="cls_size must be 0"):
            make_model(lambda_cls=1.0, cls_size=bad)


def test_refinement_strength_scales_the_warp_generators_blending_mask() -> None:
    """refinement 1 is the model's own output, 0 the warp alone, 0.5 half way between them (the mask halved);
    the true-landmarks row of the evaluation follows the same strength."""
    model = make_model(generator="warp", stage2_landmark_image="drawn").eval()
    batch = make_batch()
    batch["source_landmarks"] = batch["target_landmarks"].flip(0)
    le, li = batch["target_label"], batch["target_intensity"]
    with torch.no_grad():
        own = model.translate(batch["x"], le, li)
        assert torch.equal(model.translate(batch["x"], le, li, refinement=1.0)["image"], own["image"])
        assert torch.equal(model.translate(batch["x"], le, li, refinement=0)["image"], own["warped"])
        half = model.translate(batch["x"], le, li, refinement=0.5)["image"]
        assert not torch.allclose(own["image"], own["warped"], atol=1e-3)  # the untrained refinement does change it
        torch.testing.assert_close(half, (own["image"] + own["warped"]) / 2, atol=1e-6, rtol=0)
        true_own = model.stage2_on_true_landmarks(batch)
        true_none = model.stage2_on_true_landmarks(batch, refinement=0.0)
        assert not torch.allclose(true_own, true_none, atol=1e-3)
        torch.testing.assert_close(model.stage2_on_true_landmarks(batch, refinement=0.25),
                                   0.75 * true_none + 0.25 * true_own, atol=1e-6, rtol=0)


@pytest.mark.parametrize("strength", [-0.1, 1.01, float("nan"), float("inf"), True, "0.5", None])
def test_refinement_strength_out_of_range_is_refused(strength: object) -> None:
    model = make_model(generator="warp", stage2_landmark_image="drawn").eval()
    batch = make_batch()
    with pytest.raises(LandmarkGANError, match="refinement strength is a number from 0"):
        model.translate(batch["x"], batch["target_label"], batch["target_intensity"], refinement=strength)


def test_refinement_strength_below_one_needs_the_warp_generator() -> None:
    model = make_model().eval()  # the paper's U-Net stage II
    batch = make_batch()
    with torch.no_grad():
        model.translate(batch["x"], batch["target_label"], batch["target_intensity"], refinement=1)
        with pytest.raises(LandmarkGANError, match="needs the warp generator"):
            model.translate(batch["x"], batch["target_label"], batch["target_intensity"], refinement=0.5)
