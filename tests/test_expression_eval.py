"""Expression recognition (Table II study) and identity (face verification) evaluation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.augmentation_study import ROWS, expression_recognition_study, format_table
from landmarkgan.evaluation.expression_classifier import (
    ClassifierConfig,
    ExpressionClassifier,
    NormalAugmentation,
    accuracy,
    batch_indices,
    load_classifier,
    normal_augment,
    predict,
    save_classifier,
    train_expression_classifier,
)
from landmarkgan.evaluation.identity_metrics import (
    detect_landmarks,
    face_descriptors,
    identity_report,
    mean_identity_distance,
    to_uint8_images,
    verification_rate,
)

SIZE = 32
WIDTHS = (16, 32, 64)  # a small classifier for 32-pixel test images
CLASSES = ("disc", "bar-h", "bar-v", "cross")


def shapes(n: int, seed: int, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """An easy 4-class task: a disc, horizontal bar, vertical bar or cross of random colour,
    size and position on a noisy background; every class is mirror-symmetric, so flips keep labels."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 4
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    images = torch.empty(n, 3, size, size)
    for i, label in enumerate(labels.tolist()):
        cy, cx = (size / 2 + (torch.rand(2, generator=g) * 2 - 1) * size / 8).tolist()
        r = size * (0.2 + 0.1 * torch.rand(1, generator=g).item())
        dy, dx = (ys - cy).abs(), (xs - cx).abs()
        horizontal, vertical = (dy <= r / 3.5) & (dx <= r), (dx <= r / 3.5) & (dy <= r)
        mask = [dy**2 + dx**2 <= r**2, horizontal, vertical, horizontal | vertical][label]
        background = torch.rand(3, generator=g) * 0.8 - 0.9
        foreground = torch.rand(3, generator=g) * 0.8 + 0.1
        image = torch.where(mask, foreground[:, None, None], background[:, None, None])
        images[i] = (image + 0.1 * torch.randn(3, size, size, generator=g)).clamp(-1, 1)
    return images, labels


@pytest.fixture(scope="module")
def task() -> dict[str, torch.Tensor]:
    train_x, train_y = shapes(240, seed=0)
    test_x, test_y = shapes(200, seed=1)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


@pytest.fixture(scope="module")
def trained(task: dict[str, torch.Tensor]) -> ExpressionClassifier:
    return train_expression_classifier(
        task["train_x"], task["train_y"], 4, epochs=6, batch_size=16, widths=WIDTHS, classes=CLASSES, progress=False
    )


# ---------------------------------------------------------------- the classifier


def test_trained_classifier_recognises_held_out_shapes_and_untrained_is_at_chance(
    trained: ExpressionClassifier, task: dict[str, torch.Tensor]
) -> None:
    assert accuracy(trained, task["test_x"], task["test_y"]) >= 0.9
    torch.manual_seed(0)
    untrained = ExpressionClassifier(ClassifierConfig(CLASSES, SIZE, WIDTHS)).eval()
    assert accuracy(untrained, task["test_x"], task["test_y"]) <= 0.45  # chance is 0.25
    assert trained.classes == CLASSES and not trained.training


def test_other_input_sizes_are_resized_to_the_classifier_size(
    trained: ExpressionClassifier, task: dict[str, torch.Tensor]
) -> None:
    big = torch.nn.functional.interpolate(task["test_x"][:40], size=(48, 48), mode="bilinear")
    assert predict(trained, big).shape == (40,)
    assert accuracy(trained, big, task["test_y"][:40]) >= 0.8


def test_training_is_seeded_and_leaves_the_global_rng_alone(task: dict[str, torch.Tensor]) -> None:
    x, y = task["train_x"][:64], task["train_y"][:64]

    def run(seed: int) -> dict[str, torch.Tensor]:
        model = train_expression_classifier(x, y, 4, batch_size=16, seed=seed, augment=True, widths=(8,),
                                            steps=5, progress=False)  # fmt: skip
        return model.state_dict()

    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    first, again, other = run(0), run(0), run(1)
    assert torch.equal(torch.rand(3), before)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["head.weight"], other["head.weight"])


def test_balanced_batches_draw_every_class_equally_often() -> None:
    """1 face of class 0 against 30 of class 1 and 9 of class 2: reshuffled passes show class 0 once per pass,
    balanced batches about a third of the time; the unbalanced stream is the passes it always was."""
    labels = torch.tensor([0] + [1] * 30 + [2] * 9)
    drawn = torch.cat([next(b) for b in [batch_indices(labels, 8, torch.Generator().manual_seed(0), True)]
                       for _ in range(3000)])
    shares = torch.bincount(labels[drawn], minlength=3).double() / len(drawn)
    assert torch.allclose(shares, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.02)
    passes = batch_indices(labels, 8, torch.Generator().manual_seed(0))
    order = torch.cat([next(passes) for _ in range(5)])
    expected = torch.randperm(40, generator=torch.Generator().manual_seed(0))
    assert torch.equal(order, expected)


def test_bad_training_inputs_are_explained(task: dict[str, torch.Tensor]) -> None:
    x, y = task["train_x"][:8], task["train_y"][:8]
    with pytest.raises(LandmarkGANError, match=r"\[-1, 1\]"):
        train_expression_classifier((x + 1) * 127.5, y, 4, progress=False)
    with pytest.raises(LandmarkGANError, match="0..3"):
        train_expression_classifier(x, y + 1, 4, progress=False)
    with pytest.raises(LandmarkGANError, match="one per image"):
        train_expression_classifier(x, y[:5], 4, progress=False)
    with pytest.raises(LandmarkGANError, match="square"):
        train_expression_classifier(x[..., :20], y, 4, progress=False)
    with pytest.raises(LandmarkGANError, match="too small"):
        train_expression_classifier(x, y, 4, widths=(8,) * 6, progress=False)
    with pytest.raises(LandmarkGANError, match="class names"):
        train_expression_classifier(x, y, 4, classes=("a", "b"), progress=False)


# ---------------------------------------------------------------- normal augmentation


def test_augmentation_keeps_shape_and_range_and_is_seeded() -> None:
    x = torch.rand(6, 3, SIZE, SIZE) * 2 - 1
    x[:, :, 0, 0], x[:, :, 1, 1] = 1.0, -1.0
    a = normal_augment(x, torch.Generator().manual_seed(7))
    b = normal_augment(x, torch.Generator().manual_seed(7))
    c = normal_augment(x, torch.Generator().manual_seed(8))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - x).abs().mean() > 0.05  # the default augmentation really changes the images


def test_flip_mirrors_and_no_op_settings_return_the_input() -> None:
    x = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    off = dict(max_rotation=0.0, max_translation=0.0, max_zoom=0.0, brightness=0.0, contrast=0.0)
    flipped = normal_augment(x, torch.Generator().manual_seed(0), NormalAugmentation(flip_prob=1.0, **off))
    torch.testing.assert_close(flipped, x.flip(-1), atol=1e-5, rtol=0)
    same = normal_augment(x, torch.Generator().manual_seed(0), NormalAugmentation(flip_prob=0.0, **off))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)


def test_brightness_only_shifts_every_pixel_by_one_drawn_amount() -> None:
    x = torch.zeros(3, 3, SIZE, SIZE)
    aug = NormalAugmentation(flip_prob=0.0, max_rotation=0.0, max_translation=0.0, max_zoom=0.0, contrast=0.0,
                             brightness=0.3)  # fmt: skip
    out = normal_augment(x, torch.Generator().manual_seed(3), aug)
    shifts = out.flatten(1)
    assert torch.allclose(shifts, shifts[:, :1].expand_as(shifts))
    assert shifts.abs().max() <= 0.3 and shifts[:, 0].unique().numel() == 3


# ---------------------------------------------------------------- saving and loading


def test_save_load_round_trip_gives_identical_predictions(
    trained: ExpressionClassifier, task: dict[str, torch.Tensor], tmp_path: Path
) -> None:
    path = save_classifier(trained, tmp_path / "sub" / "classifier.safetensors")
    loaded = load_classifier(path)
    assert loaded.config == trained.config and loaded.classes == CLASSES
    with torch.no_grad():
        torch.testing.assert_close(loaded(task["test_x"]), trained(task["test_x"]), atol=0, rtol=0)
    assert torch.equal(predict(loaded, task["test_x"]), predict(trained, task["test_x"]))


def test_corrupt_missing_and_foreign_files_are_refused(trained: ExpressionClassifier, tmp_path: Path) -> None:
    path = save_classifier(trained, tmp_path / "classifier.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(path.read_bytes()[:200])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, foreign)
    for bad, message in [(truncated, "corrupt"), (garbage, "corrupt"), (foreign, "not a landmarkgan"),
                         (tmp_path / "absent.safetensors", "does not exist")]:  # fmt: skip
        with pytest.raises(LandmarkGANError, match=message):
            load_classifier(bad)


# ---------------------------------------------------------------- Table II


def test_table_ii_study_gives_all_four_rows(task: dict[str, torch.Tensor]) -> None:
    real_x, real_y = task["train_x"], task["train_y"]
    syn_x, syn_y = shapes(80, seed=5, size=40)  # "generated" faces at another size
    wrong_x, wrong_y = shapes(80, seed=6)
    results = expression_recognition_study(
        real_x, real_y, task["test_x"], task["test_y"], syn_x, syn_y, wrong_x, (wrong_y + 1) % 4,
        classes=CLASSES, epochs=8, batch_size=16, widths=WIDTHS, progress=False,
    )  # fmt: skip
    assert tuple(results) == ROWS
    assert all(0.0 <= value <= 1.0 for value in results.values())
    assert results["Real/Real"] >= 0.8 and results["Real+Syn./Real"] >= 0.8
    assert results["Real/Syn."] <= 0.3  # tested on the generated test set, whose labels are all wrong

    table = format_table(results)
    assert table.splitlines()[0] == "| Training/Test | Accuracy (%) |"
    assert f"| Real/Syn. | {100 * results['Real/Syn.']:.2f} |" in table
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == list(ROWS)


def test_format_table_values_and_incomplete_results() -> None:
    results = {"Real/Real": 0.5, "Real/Syn.": 0.25, "Real+Normal-aug./Real": 0.875, "Real+Syn./Real": 1.0}
    assert format_table(results).splitlines()[2:] == [
        "| Real/Real | 50.00 |", "| Real/Syn. | 25.00 |", "| Real+Normal-aug./Real | 87.50 |",
        "| Real+Syn./Real | 100.00 |",
    ]  # fmt: skip
    with pytest.raises(LandmarkGANError, match="Real/Syn"):
        format_table({"Real/Real": 0.5})


def test_study_requires_generated_test_images_and_labels_together(task: dict[str, torch.Tensor]) -> None:
    x, y = task["train_x"][:8], task["train_y"][:8]
    with pytest.raises(LandmarkGANError, match="both"):
        expression_recognition_study(x, y, x, y, x, y, generated_test_images=x, progress=False)


# ---------------------------------------------------------------- identity (face verification)

from skimage import data as skdata  # noqa: E402


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skdata.astronaut()


def lfw_face(index: int, size: int = 150) -> np.ndarray:
    """Another person: a 25x25 LFW face from skimage, upscaled to a size dlib's detector finds."""
    face = torch.from_numpy(skdata.lfw_subset()[index]).float()[None, None]
    big = torch.nn.functional.interpolate(face, size=(size, size), mode="bicubic").clamp(0, 1)
    return np.repeat((big[0, 0].numpy() * 255).round().astype(np.uint8)[..., None], 3, axis=2)


def test_same_person_verifies_and_another_does_not(astronaut: np.ndarray) -> None:
    shifted = np.ascontiguousarray(astronaut[9:, 6:])
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    blank = np.full((120, 120, 3), 128, np.uint8)
    desc = face_descriptors([astronaut, shifted, flipped, lfw_face(0), blank])
    assert desc.shape == (5, 128) and np.isfinite(desc[:4]).all() and np.isnan(desc[4]).all()
    anchor = np.repeat(desc[:1], 4, axis=0)
    distances = np.linalg.norm(desc[1:] - anchor, axis=1)
    assert distances[0] < 0.6 and distances[1] < 0.6  # shifted, flipped: the same person
    assert distances[2] > 0.6  # the LFW face: someone else
    report = identity_report(anchor, desc[1:])
    assert report.pairs == 3 and report.missing == 1
    assert report.verification_rate == pytest.approx(2 / 3)
    assert report.mean_distance == pytest.approx(distances[:3].mean())


def test_given_landmarks_give_the_detected_face_descriptor(astronaut: np.ndarray) -> None:
    points = detect_landmarks(astronaut)
    assert points is not None and points.shape == (68, 2)
    with_points, detected = face_descriptors([astronaut, astronaut], [points, None])
    np.testing.assert_allclose(with_points, detected, atol=1e-6)
    with pytest.raises(LandmarkGANError, match="68"):
        face_descriptors([astronaut], [points[:5]])
    with pytest.raises(LandmarkGANError, match="landmark sets"):
        face_descriptors([astronaut], [points, points])
    with pytest.raises(LandmarkGANError, match="uint8"):
        face_descriptors([astronaut.astype(np.float32)])


def test_verification_rate_and_distance_on_hand_made_descriptors() -> None:
    a = np.zeros((5, 128))
    b = np.zeros((5, 128))
    b[:4, 0] = [0.1, 0.59, 0.61, 2.0]
    b[4] = np.nan  # no face found in that image
    assert verification_rate(a, b) == pytest.approx(2 / 4)
    assert verification_rate(a, b, threshold=1.0) == pytest.approx(3 / 4)
    assert mean_identity_distance(a, b) == pytest.approx((0.1 + 0.59 + 0.61 + 2.0) / 4)
    assert math.isnan(verification_rate(a[4:], b[4:]))
    with pytest.raises(LandmarkGANError, match="same shape"):
        verification_rate(a, b[:3])


def test_to_uint8_images_maps_the_model_range_to_pixels() -> None:
    images = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3).expand(1, 3, 2, 3)
    (pixels,) = to_uint8_images(images)
    assert pixels.dtype == np.uint8 and pixels.shape == (2, 3, 3)
    assert pixels[0, :, 0].tolist() == [0, 128, 255]
    with pytest.raises(LandmarkGANError, match="N, 3, H, W"):
        to_uint8_images(images[0])
