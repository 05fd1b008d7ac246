"""``landmarkgan benchmark``: the baselines, the paper's Table I ablations and the built-in model's recipe, trained
and evaluated on one data set."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from landmarkgan.data.degradations import TASKS
    from landmarkgan.evaluation.benchmark import DEFAULT_VARIANTS, VARIANTS

    m, t = BENCHMARK_DEFAULTS["model"], BENCHMARK_DEFAULTS["train"]
    p = subparsers.add_parser(
        "benchmark",
        help="train and evaluate the baselines, the paper's Table I and the built-in model's recipe; write the table",
        description="By default it trains and evaluates "
        + ", ".join(DEFAULT_VARIANTS)
        + ": the two baselines, LandmarkGAN with the paper's Table I ablations, and the built-in model's recipe, each "
        f"at {m['image_size']} x {m['image_size']} (ngf = ndf = {m['ngf']}, intensity control, batch "
        f"{t['batch_size']}) for {t['max_steps']} steps with the same seed, on 60 synthetic identities (about 12 "
        "minutes a variant on 2 CPU cores). Every variant is evaluated on the same test pairs with one expression "
        "classifier; OUT/benchmark.md, benchmark.json and benchmark.png hold the table and the first outputs. "
        "Finished runs in OUT/runs, and their evaluations, are reused, so a stopped benchmark continues. Other "
        "variants by name (--variants): "
        + "; ".join(f"{key} = {VARIANTS[key][0]}" for key in VARIANTS if key not in DEFAULT_VARIANTS)
        + ". With --task: the paper's other applications, per task LandmarkGAN against the label-only baseline "
        "(unless --variants) in OUT/<task>, with OUT/applications.md and applications.png.",
    )
    p.add_argument("--task", nargs="+", choices=TASKS, metavar="TASK",
                   help=f"benchmark these tasks ({', '.join(TASKS)}): each trains and evaluates its variants")
    p.add_argument("--config", default=None,
                   help="base config YAML that every variant changes (default: the sizes and steps above)")
    p.add_argument("--data", help="data folder (default: synthesise 60 identities at the model size into OUT/data)")
    p.add_argument("--out", default="outputs/benchmark", help="output folder (default outputs/benchmark)")
    p.add_argument("--variants", nargs="+", metavar="KEY",
                   help="these variants instead of the default run (keys as listed above)")
    p.add_argument("--pairs", type=int, default=200, help="test pairs per variant (default 200)")
    p.add_argument("--classifier-steps", type=int, default=1500)
    p.add_argument("--classifier-seed", type=int, default=0,
                   help="seed of the expression classifier (default 0; kept as OUT/expression_classifier_seedN."
                   "safetensors for another seed): rerun with other seeds to see how far its instance moves the "
                   "accuracies")
    p.add_argument("--no-identity", action="store_true", help="skip dlib (detected landmarks, verification)")
    p.add_argument("--no-perceptual", action="store_true", help="skip LPIPS, IS and FID")
    p.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                   help="base config overrides, e.g. --set train.max_steps=200 model.ngf=8")
    p.set_defaults(func=run)


BENCHMARK_DEFAULTS = {
    "model": {"image_size": 64, "ngf": 16, "ndf": 16, "num_intensities": 4},
    "train": {"batch_size": 8, "max_steps": 3000, "log_every": 50, "sample_every": 1000, "checkpoint_every": 500,
              "tensorboard": False},
}


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from landmarkgan.data.manifest import manifest_path
    from landmarkgan.data.synthetic import synthesize_dataset
    from landmarkgan.evaluation.applications import run_applications
    from landmarkgan.evaluation.benchmark import run_benchmark
    from landmarkgan.training.config import Config

    base = Config.load(args.config) if args.config else Config.from_dict(BENCHMARK_DEFAULTS)
    base = base.with_overrides(args.set)
    out = Path(args.out)
    data = Path(args.data) if args.data else out / "data"
    if not args.data and not manifest_path(data).is_file():
        print(f"synthesising the benchmark data set into {data}")
        synthesize_dataset(data, num_identities=60, size=base.model.image_size, seed=base.train.seed)
    base = base.with_overrides([f"train.data={data}"])
    options = dict(num_pairs=args.pairs, classifier_steps=args.classifier_steps, classifier_seed=args.classifier_seed,
                   identity=not args.no_identity, perceptual=not args.no_perceptual)
    if args.task:
        run_applications(base, out, args.task, args.variants, **options)
        print((out / "applications.md").read_text())
        print(f"written to {out}: applications.md, applications.png; per task benchmark.md, benchmark.json, "
              f"benchmark.png in {', '.join(str(out / t) for t in args.task)}")
        return 0
    run_benchmark(base, out, args.variants, **options)
    print((out / "benchmark.md").read_text())
    print(f"written to {out}: benchmark.md, benchmark.json, benchmark.png; runs in {out / 'runs'}")
    return 0
