"""``landmarkgan augment``: every face of a data set in every other expression, as a data set of its own."""

from __future__ import annotations

import argparse

from landmarkgan.cli import add_model_arguments, add_refinement_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "augment",
        help="generate every other expression of each face of a data set (data augmentation)",
        description="The paper's augmentation use: for every image of DATA's manifest (its aligned faces), "
        "generate the other expressions (and intensities) the model knows and write them to OUT/images with "
        "OUT/manifest.jsonl (same subjects and splits, the generated landmarks, extra.source = the real image).",
    )
    p.add_argument("data", metavar="DATA", help="data folder with manifest.jsonl")
    p.add_argument("out", metavar="OUT", help="data folder to write")
    p.add_argument("--split", choices=("train", "test", "all"), default="train", help="which images (default train)")
    add_model_arguments(p)
    add_refinement_argument(p)
    p.add_argument("--batch-size", type=int, default=32, help="faces per forward pass (default 32)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.inference.augment import augment_dataset
    from landmarkgan.inference.pipeline import LandmarkGANPipeline

    pipe = LandmarkGANPipeline.from_pretrained(args.model, device=args.device, task="expression",
                                               refinement=args.refinement, refinement_area=args.refinement_area)
    samples = augment_dataset(pipe, args.data, args.out, split=args.split, batch_size=args.batch_size)
    print(f"generated {len(samples)} faces from {len({s.extra['source'] for s in samples})} images of {args.data} "
          f"into {args.out}")
    return 0
