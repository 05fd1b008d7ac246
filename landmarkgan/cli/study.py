"""``landmarkgan study``: the paper's Table II, generated faces as training data for expression recognition."""

from __future__ import annotations

import argparse

from landmarkgan.cli import add_model_arguments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "study",
        help="Table II: expression recognition trained on Real, Real + normal augmentation, Real + generated",
        description="Train an expression classifier on the real training faces of DATA, on them with normal "
        "augmentation (flip, zoom, shift, rotation, brightness, contrast), and on them plus faces the model "
        "generated from them (other expressions); test on the real test faces and on generated ones. Every "
        "classifier gets the same seed and number of steps. Writes OUT/table2.md and OUT/table2.json.",
    )
    add_model_arguments(p)
    p.add_argument("--data", required=True, help="data folder with manifest.jsonl")
    p.add_argument("--out", default="outputs/study", help="output folder (default outputs/study)")
    p.add_argument("--per-image", type=int, default=1, help="generated faces per real face (default 1)")
    p.add_argument("--size", type=int, default=64, help="classifier input size (default 64)")
    p.add_argument("--epochs", type=int, default=10, help="passes over the real training faces (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from landmarkgan.evaluation.augmentation_study import expression_recognition_study, format_table, generate_for_study
    from landmarkgan.evaluation.expression_classifier import load_expression_faces, resize_square
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, task="expression")
    size = pipe.image_size
    train_x, train_y = load_expression_faces(args.data, "train", size, pipe.expressions)
    test_x, test_y = load_expression_faces(args.data, "test", size, pipe.expressions)
    syn_train_x, syn_train_y = generate_for_study(pipe, train_x, train_y, args.per_image, args.seed)
    syn_test_x, syn_test_y = generate_for_study(pipe, test_x, test_y, 1, args.seed + 1)
    small = lambda x: resize_square(x, args.size).clamp(-1, 1)  # noqa: E731
    results = expression_recognition_study(
        small(train_x), train_y, small(test_x), test_y, small(syn_train_x), syn_train_y, small(syn_test_x), syn_test_y,
        classes=pipe.expressions, epochs=args.epochs, seed=args.seed, device=pipe.device,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = format_table(results)
    counts = (f"{len(train_x)} real training faces, {len(syn_train_x)} generated from them; {len(test_x)} real test "
              f"faces, {len(syn_test_x)} generated from them; classifier input {args.size}x{args.size}, "
              f"{args.epochs} epochs of the real training set per classifier")
    (out / "table2.md").write_text(table + "\n\n" + counts + "\n")
    (out / "table2.json").write_text(json.dumps({"accuracy": results, "setup": counts}, indent=1))
    print(table)
    print(counts)
    return 0
