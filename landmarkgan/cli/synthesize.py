"""``landmarkgan synthesize``: render the built-in synthetic facial-expression data set."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synthesize",
        help="render the built-in synthetic expression data set (stylised faces, exact landmarks)",
        description="Render stylised faces of random identities, each neutral once and with every other "
        "expression at every intensity, and write OUT/images/*.png and OUT/manifest.jsonl (labels, "
        "subject-disjoint train/test split, the exact 68 landmarks). Same seed, same bytes.",
    )
    p.add_argument("out", metavar="OUT", help="data folder to write")
    p.add_argument("--identities", type=int, default=200, help="number of subjects (default 200)")
    p.add_argument("--size", type=int, default=128, help="side of the square images in pixels (default 128)")
    p.add_argument("--seed", type=int, default=0, help="seed of identities and split (default 0)")
    p.add_argument("--contempt", action="store_true", help="add contempt as an eighth expression (as in RaFD)")
    p.add_argument("--intensities", type=int, nargs="+", default=[1, 2, 3, 4], metavar="LEVEL",
                   help="intensity levels to render, among 1 2 3 4 (default all; 4 strongest)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="fraction of the subjects in the test split (default 0.2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from landmarkgan.data.synthetic import synthesize_dataset
    from landmarkgan.expressions import BASIC_EXPRESSIONS, EXPRESSIONS

    expressions = EXPRESSIONS if args.contempt else BASIC_EXPRESSIONS
    samples = synthesize_dataset(args.out, num_identities=args.identities, size=args.size, seed=args.seed,
                                 expressions=expressions, intensities=args.intensities,
                                 test_fraction=args.test_fraction)
    splits = {split: sum(s.split == split for s in samples) for split in ("train", "test")}
    subjects = {split: len({s.subject for s in samples if s.split == split}) for split in ("train", "test")}
    print(f"synthesized {len(samples)} images of {args.identities} identities ({len(expressions)} expressions, "
          f"{args.size}x{args.size}) in {args.out}: train {splits['train']} images / {subjects['train']} subjects, "
          f"test {splits['test']} images / {subjects['test']} subjects")
    return 0
