"""What expression classifiers read in a model's held-out outputs: on every test pair asked for one expression, or
on the seeded sample of pairs ``landmarkgan evaluate --pairs N`` draws, under classifier files already trained.

``landmarkgan evaluate --pairs 300`` asks for neutral in about a dozen pairs (each subject of the built-in synthetic
set has one neutral face and 24 others), too few to judge; ``--expression neutral`` takes every test pair asked for
neutral (960 there). ``--pairs 300`` scores evaluate's own sample again under each classifier file given (e.g. the
four that ``evaluate --classifier-seed 0 1 2 3`` kept), without training them again. Per classifier it prints the
share read as asked for the model, the warp alone, the model's stage II on the true landmarks, the input copied and
the real targets (the outputs quantised to 8 bits, as evaluate scores them); then, per asked expression, the model's
share under each classifier and what its misses are read as.

    python scripts/asked_expression.py --data data/synthetic --expression neutral \\
        --classifier outputs/eval/expression_classifier*.safetensors [--model runs/x] [--refinement 1]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import torch
from torch.utils.data import DataLoader

from landmarkgan.data.dataset import ExpressionPairDataset, to_tensor, to_uint8
from landmarkgan.evaluation.expression_classifier import load_classifier, predict
from landmarkgan.expressions import canonical_expression
from landmarkgan.inference.loading import load_model

ROWS = ("model", "warp alone", "stage II on the true landmarks", "copy the input", "real targets")


def translations(model, dataset: ExpressionPairDataset, refinement: float, batch_size: int = 32
                 ) -> dict[str, torch.Tensor]:
    """Every pair's output, warp alone, output on the true landmarks, input and target (N, 3, S, S), quantised."""
    rows: dict[str, list[torch.Tensor]] = {name: [] for name in ROWS}
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size):
            out = model.translate_batch(batch, refinement)
            images = (out["image"], out["warped"], model.stage2_on_true_landmarks(batch, refinement), batch["x"],
                      batch["y"])
            for name, image in zip(ROWS, images):
                rows[name] += [to_tensor(face) for face in to_uint8(image)]
    return {name: torch.stack(faces) for name, faces in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--expression", help="every test pair asked for this expression")
    which.add_argument("--pairs", type=int, help="evaluate's seeded sample of this many test pairs")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (evaluate's --seed)")
    parser.add_argument("--classifier", nargs="+", required=True, help="expression classifier files")
    parser.add_argument("--model", help="model folder or run (default: the built-in model)")
    parser.add_argument("--refinement", type=float, default=1.0)
    args = parser.parse_args()

    model = load_model(args.model).eval()
    expressions = model.config.expressions
    dataset = ExpressionPairDataset(args.data, split="test", image_size=model.config.image_size,
                                    pairs="sample" if args.pairs else "all", num_pairs=args.pairs, seed=args.seed,
                                    expressions=expressions)
    if args.expression:
        asked = canonical_expression(args.expression)
        dataset.pairs = dataset.pairs[[dataset.samples[int(j)].expression == asked for j in dataset.pairs[:, 1]]]
    labels = torch.tensor([expressions.index(dataset.samples[int(j)].expression) for j in dataset.pairs[:, 1]])
    images = translations(model, dataset, args.refinement)
    what = f"asked for {asked}" if args.expression else f"(seed {args.seed})"
    print(f"{len(dataset)} test pairs {what}; share read as asked:\n")
    print("| classifier | " + " | ".join(ROWS) + " |\n|---|" + "---:|" * len(ROWS))
    by_expression: dict[str, list[float]] = {}
    instead: dict[str, Counter] = {}
    shares = []
    for file in args.classifier:
        classifier = load_classifier(file)
        reads = {name: predict(classifier, faces) for name, faces in images.items()}
        shares.append([(reads[name] == labels).double().mean().item() for name in ROWS])
        print(f"| {file} | " + " | ".join(f"{v:.3f}" for v in shares[-1]) + " |")
        for k, name in enumerate(expressions):
            chosen = labels == k
            if chosen.any():
                by_expression.setdefault(name, []).append((reads["model"][chosen] == k).double().mean().item())
                misses = reads["model"][chosen & (reads["model"] != labels)].tolist()
                instead.setdefault(name, Counter()).update(expressions[m] for m in misses)
    if len(shares) > 1:
        print("| mean | " + " | ".join(f"{v:.3f}" for v in np.mean(shares, axis=0)) + " |")
    print("\n| asked | pairs | model, by classifier | mean | misses read as (all classifiers) |\n|---|---:|---|---:|---|")
    for name, values in by_expression.items():
        total = sum(instead[name].values())
        misses = ", ".join(f"{e} {n / total:.2f}" for e, n in instead[name].most_common()) if total else "none"
        print(f"| {name} | {int((labels == expressions.index(name)).sum())} | "
              + " ".join(f"{v:.3f}" for v in values) + f" | {np.mean(values):.3f} | {misses} |")


if __name__ == "__main__":
    main()
