"""Table II of LandmarkGAN: are generated faces useful as training data for expression recognition?

Four rows, each "training data / test data":

- Real/Real: train on real faces, test on real test faces;
- Real/Syn.: the same classifier, tested on generated faces (the generated test set when
  given, else the generated training set, which that classifier never saw);
- Real+Normal-aug./Real: train on real faces with normal augmentation, test on real;
- Real+Syn./Real: train on real plus generated faces, test on real.

Every classifier is trained with the same seed and the same budget: the same number of
optimiser steps (``epochs`` passes over the real training set), batch size and learning
rate, so a row that adds data gets no extra compute. Generated faces of another size are
resized to the real faces' size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from landmarkgan.errors import LandmarkGANError
from landmarkgan.evaluation.expression_classifier import (
    DEFAULT_WIDTHS,
    ExpressionClassifier,
    accuracy,
    check_images,
    check_labels,
    resize_square,
    train_expression_classifier,
)

ROWS: tuple[str, ...] = ("Real/Real", "Real/Syn.", "Real+Normal-aug./Real", "Real+Syn./Real")


def expression_recognition_study(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    generated_train_images: torch.Tensor,
    generated_train_labels: torch.Tensor,
    generated_test_images: torch.Tensor | None = None,
    generated_test_labels: torch.Tensor | None = None,
    *,
    classes: Sequence[str] | None = None,
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    widths: Sequence[int] = DEFAULT_WIDTHS,
) -> dict[str, float]:
    """Expression recognition accuracy (in [0, 1]) for each row of ``ROWS``, in that order.

    All images are (N, 3, S, S) tensors in [-1, 1] with (N,) class-index labels; ``classes``
    names the K classes (default: K inferred from the labels). The generated faces are
    LandmarkGAN outputs with their target expressions as labels.
    """
    if (generated_test_images is None) != (generated_test_labels is None):
        raise LandmarkGANError("give both generated_test_images and generated_test_labels, or neither")
    syn_test_images = generated_train_images if generated_test_images is None else generated_test_images
    syn_test_labels = generated_train_labels if generated_test_labels is None else generated_test_labels
    sets = {
        "training": (train_images, train_labels),
        "test": (test_images, test_labels),
        "generated training": (generated_train_images, generated_train_labels),
        "generated test": (syn_test_images, syn_test_labels),
    }
    for name, (images, labels) in sets.items():
        check_images(images, f"{name} images")
        check_labels(labels, images.shape[0], torch.iinfo(torch.long).max, f"{name} labels")
    num_classes = len(classes) if classes is not None else 1 + max(int(labels.max()) for _, labels in sets.values())
    checked = {
        name: (images, check_labels(labels, images.shape[0], num_classes, f"{name} labels"))
        for name, (images, labels) in sets.items()
    }
    real_x, real_y = checked["training"]
    test_x, test_y = checked["test"]
    syn_x, syn_y = checked["generated training"]
    syn_test_x, syn_test_y = checked["generated test"]

    size = real_x.shape[-1]
    steps = epochs * -(-real_x.shape[0] // min(batch_size, real_x.shape[0]))

    def train(images: torch.Tensor, labels: torch.Tensor, augment: bool, name: str) -> ExpressionClassifier:
        return train_expression_classifier(
            images, labels, num_classes, epochs, batch_size, lr, seed, augment, device, progress,
            steps=steps, classes=classes, widths=widths, desc=f"{name} classifier",
        )  # fmt: skip

    real = train(real_x, real_y, False, "Real")
    augmented = train(real_x, real_y, True, "Real+Normal-aug.")
    mixed = train(torch.cat([real_x, resize_square(syn_x, size)]), torch.cat([real_y, syn_y]), False, "Real+Syn.")
    return {
        "Real/Real": accuracy(real, test_x, test_y),
        "Real/Syn.": accuracy(real, syn_test_x, syn_test_y),
        "Real+Normal-aug./Real": accuracy(augmented, test_x, test_y),
        "Real+Syn./Real": accuracy(mixed, test_x, test_y),
    }


def format_table(results: dict[str, float]) -> str:
    """A Markdown table of the study's accuracies, as percentages, in the paper's row order."""
    missing = [row for row in ROWS if row not in results]
    if missing:
        raise LandmarkGANError(f"the expression recognition results lack the rows {missing}")
    lines = ["| Training/Test | Accuracy (%) |", "|---|---:|"]
    lines += [f"| {row} | {100.0 * results[row]:.2f} |" for row in ROWS]
    return "\n".join(lines)


def generate_for_study(
    pipe, images: torch.Tensor, labels: torch.Tensor, per_image: int = 1, seed: int = 0, batch_size: int = 32,
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translate each real face (N, 3, S, S) in [-1, 1] to ``per_image`` other expressions, drawn at random
    (seeded; a random intensity level where the model has them). Returns the generated faces at the
    model's size and their expression labels (indices into ``pipe.expressions``)."""
    from tqdm import tqdm

    from landmarkgan.data.dataset import to_tensor, to_uint8

    if per_image < 1:
        raise LandmarkGANError(f"generate at least one face per image, got {per_image}")
    rng = torch.Generator().manual_seed(seed)
    k = len(pipe.expressions)
    jobs = []
    for index, label in enumerate(labels.tolist()):
        others = [e for e in range(k) if e != label]
        for choice in torch.randperm(len(others), generator=rng)[:per_image].tolist():
            level = pipe.intensities[int(torch.randint(len(pipe.intensities), (1,), generator=rng))] if pipe.intensities else 0
            expression = pipe.expressions[others[choice]]
            jobs.append((index, expression, 0 if expression == "neutral" else level))
    faces = to_uint8(resize_square(images, pipe.image_size))
    out_images, out_labels = [], []
    for start in tqdm(range(0, len(jobs), batch_size), desc="generating faces", unit="batch", disable=not progress):
        chunk = jobs[start : start + batch_size]
        results = pipe.translate_faces(faces[[i for i, _, _ in chunk]], [(e, lv) for _, e, lv in chunk])
        out_images += [to_tensor(r.image) for r in results]
        out_labels += [pipe.expressions.index(r.expression) for r in results]
    return torch.stack(out_images), torch.tensor(out_labels)
