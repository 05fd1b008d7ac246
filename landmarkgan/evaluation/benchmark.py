"""Baselines and ablations trained and evaluated by one harness on one data set (Table I of the paper).

Each variant is the base config plus a few switches; all share the data, the seed, the number of
training steps, the test pairs and one expression classifier. Finished runs are reused, and so are their
evaluations while the model, the pairs and the classifier are unchanged, so a stopped benchmark continues
where it stopped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from landmarkgan.data.images import save_image
from landmarkgan.errors import LandmarkGANError, TrainingStopped
from landmarkgan.evaluation.evaluate import evaluate
from landmarkgan.evaluation.report import REFERENCES, Evaluation, by_expression_table, markdown_table
from landmarkgan.inference.sheets import make_sheet
from landmarkgan.training.checkpoint import latest_checkpoint, load_checkpoint
from landmarkgan.training.config import Config

WARP = ["model.generator=warp", "model.stage2_landmark_image=drawn", "model.colour_residual=true",
        "model.recon_loss=l1", "model.lambda_change=10"]  # our warp-and-refine stage II, as the built-in model has it
# the built-in model's recipe (configs/default_model.yaml's switches) at the benchmark's size and schedule
DEFAULT_MODEL = [*WARP, "model.lambda_cls=1", "model.cls_size=32", "train.stage1_jitter=0.08", "train.ema=0.999"]
# key -> (name in tables, overrides of the base config)
VARIANTS: dict[str, tuple[str, list[str]]] = {
    "pix2pix": ("pix2pix-style, labels only (no landmarks)", ["model.landmark_source=none"]),
    "c2gan": ("C2GAN-style, given the true target landmarks", ["model.landmark_source=ground_truth"]),
    "landmarkgan": ("LandmarkGAN", []),
    "no-dual-d": ("w/o dual discriminators", ["model.dual_discriminator=false"]),
    "no-identity": ("w/o identity loss", ["model.identity_loss=false"]),
    "no-landmark-loss": ("w/o landmark loss", ["model.landmark_loss=false"]),
    "l1": ("L1 reconstruction", ["model.recon_loss=l1"]),
    "l2": ("L2 reconstruction", ["model.recon_loss=l2"]),
    "labels-gl": ("labels to Gl only", ["model.label_to=gl"]),
    "labels-ge": ("labels to Ge only", ["model.label_to=ge"]),
    "no-soft-crops": ("w/o soft-crops", ["model.soft_crops=false"]),
    "default-model": ("the built-in model's recipe (warp-and-refine stage II and its switches; ours)", DEFAULT_MODEL),
    "warp": ("LandmarkGAN + warp-and-refine stage II (ours)", WARP),
    "warp-head": ("warp-and-refine with a full-resolution head on the refinement U-Net",
                  [*WARP, "model.refinement_head=16"]),
    "warp-region": ("warp-and-refine, refinement near the facial features only",
                    [*WARP, "model.refinement_region=features"]),
    "palette": ("the built-in model's recipe with the palette refinement (colours from the person; ours)",
                [*(o for o in DEFAULT_MODEL if o != "model.colour_residual=true"), "model.refinement_colours=palette"]),
}
# what `landmarkgan benchmark` trains unless told: the baselines, the paper's Table I and the built-in model's recipe
DEFAULT_VARIANTS = list(VARIANTS)[: list(VARIANTS).index("default-model") + 1]
# whose warp the "warp only" reference row shows: the first of these that runs (else the first variant)
REFERENCE_VARIANTS = ("default-model", "warp", "landmarkgan")
EVALUATION_SETTING = "benchmark_setting.json"  # next to a variant's evaluation: what it was made with, for reuse
TABLE_METRICS = ["psnr", "ssim", "psnr_hole", "fid", "landmark_l2_detected", "landmark_l2_model", "displacement_l2_model",
                 "face_detected", "verification_rate", "expression_accuracy", "expression_accuracy_changed"]


def run_benchmark(
    base: Config,
    out: str | os.PathLike,
    variants: list[str] | None = None,
    num_pairs: int | None = 200,
    classifier_steps: int = 1500,
    classifier_seed: int = 0,
    identity: bool = True,
    perceptual: bool = True,
    progress: bool = True,
    classifier_file: str | os.PathLike | None = None,
) -> dict[str, Evaluation]:
    """Train (or reuse) and evaluate ``variants`` (keys of :data:`VARIANTS`; default :data:`DEFAULT_VARIANTS`);
    write ``benchmark.md``, ``benchmark.json`` and ``benchmark.png`` into ``out``. ``base.train.data`` is the data folder, ``base.train.max_steps`` the budget,
    ``base.model.task`` the task. The expression classifier is read from ``classifier_file`` (default
    ``out/`` :func:`classifier_name`), or trained (with ``classifier_seed``) and saved there when it does not
    exist."""
    from landmarkgan.evaluation.expression_classifier import (
        classifier_digest,
        classifier_name,
        load_classifier,
        save_classifier,
        train_on_folder,
    )
    from landmarkgan.inference.loading import load_model
    from landmarkgan.devices import resolve_device
    from landmarkgan.training.trainer import Trainer

    keys = variants or DEFAULT_VARIANTS
    unknown = [k for k in keys if k not in VARIANTS]
    if unknown:
        raise LandmarkGANError(f"unknown benchmark variant(s) {unknown}; choose from: {', '.join(VARIANTS)}")
    if base.train.max_steps is None:
        raise LandmarkGANError("the benchmark needs a step budget: set train.max_steps")
    out = Path(out)
    data = base.train.data
    device = resolve_device(base.train.device, option="train.device")
    classifier_file = Path(classifier_file or out / classifier_name(classifier_seed))
    if classifier_file.is_file():
        classifier = load_classifier(classifier_file, device)
    else:
        classifier = train_on_folder(data, data_expressions(data), steps=classifier_steps, seed=classifier_seed,
                                     device=device, progress=progress)
        save_classifier(classifier, classifier_file)

    digest = classifier_digest(classifier_file)
    reference = next((k for k in REFERENCE_VARIANTS if k in keys), keys[0])
    results: dict[str, Evaluation] = {}
    trained: dict[str, int] = {}  # steps each evaluated model had (a reused run may have more than max_steps)
    for key in keys:
        name, overrides = VARIANTS[key]
        run = out / "runs" / key
        config = base.with_overrides([*overrides, f"train.out={run}"])
        done = latest_checkpoint(run)
        if done is None or load_checkpoint(done)[0].step < config.train.max_steps:
            print(f"== training {name} ({config.train.max_steps} steps) in {run}", flush=True)
            trainer = Trainer(config, resume=done is not None, progress_bar=progress)
            step = trainer.train().step
            if trainer.stopped_early:  # evaluating a half-trained variant would put it in the table
                raise TrainingStopped(
                    f"the benchmark was stopped while training {name}, at step {step} of {config.train.max_steps} "
                    f"(checkpoint saved in {run}); run the same command again to continue: finished variants "
                    "and their evaluations are reused")
        model = load_model(run)
        trained[name] = model.metadata["step"]
        setting = {"step": trained[name], "data": str(data), "pairs": num_pairs, "classifier": digest,
                   "identity": identity, "perceptual": perceptual, "references": key == reference}
        folder = run / "evaluation"
        saved = saved_evaluation(folder, setting)
        if saved is not None:
            print(f"== reusing the evaluation of {name} (same model, pairs and classifier)", flush=True)
            results[name] = saved
            continue
        print(f"== evaluating {name}", flush=True)
        (folder / EVALUATION_SETTING).unlink(missing_ok=True)  # written again once the new one is complete
        results[name] = evaluate(model, data, num_pairs=num_pairs, device=device, classifier=classifier,
                                 identity=identity, perceptual=perceptual, references=key == reference,
                                 progress=progress)
        results[name].write(folder, title=name)
        (folder / EVALUATION_SETTING).write_text(json.dumps(setting, indent=1))
    write_benchmark(results, base, out, num_pairs, trained)
    return results


def saved_evaluation(folder: Path, setting: dict) -> Evaluation | None:
    """The evaluation a previous benchmark left in ``folder``, if it was made with the same ``setting`` (the model's
    step, the data, the number of pairs, the classifier file's SHA-256, the metric switches, whether the reference
    rows were scored); else None."""
    try:
        if json.loads((folder / EVALUATION_SETTING).read_text()) != setting:
            return None
        return Evaluation.read(folder)
    except (OSError, ValueError, LandmarkGANError):
        return None


def data_expressions(data: str | os.PathLike) -> list[str]:
    """The expressions of a data folder, in the canonical order (what training gives the model)."""
    from landmarkgan.data.manifest import read_manifest
    from landmarkgan.expressions import EXPRESSIONS

    present = {s.expression for s in read_manifest(data)}
    return [e for e in EXPRESSIONS if e in present]


def write_benchmark(results: dict[str, Evaluation], base: Config, out: Path, num_pairs: int | None,
                    trained: dict[str, int] | None = None) -> None:
    """The table (Markdown + JSON) and one picture: input, ground truth and every variant's output. ``trained``
    holds the steps each variant's model had, when they are known (else the config's budget is stated)."""
    out.mkdir(parents=True, exist_ok=True)
    m = base.model
    counts = sorted(set(trained.values())) if trained else [base.train.max_steps]
    steps = f"{counts[0]} steps" if len(counts) == 1 else "steps " + ", ".join(
        f"({i + 1}) {trained[name]}" for i, name in enumerate(results))
    setup = (f"Task {m.task}; data `{base.train.data}`; every variant: {m.image_size}x{m.image_size}, ngf {m.ngf}, "
             f"ndf {m.ndf}, batch {base.train.batch_size}, {steps}, seed {base.train.seed}; "
             f"{num_pairs or 'all'} test pairs of held-out subjects. Columns of benchmark.png: input, ground truth, "
             "then the variants in table order.")
    reference_run = next((r for r in results.values() if r.references), None)  # the variant scored with them
    references = reference_run.references if reference_run is not None else {}
    rows = {REFERENCES[k]: values for k, values in references.items()}
    rows |= {f"({i + 1}) {name}": r.metrics for i, (name, r) in enumerate(results.items())}
    shown = [k for k in TABLE_METRICS if any(np.isfinite(r.get(k, np.nan)) for r in rows.values())]
    by_expression = {REFERENCES[k]: v for k, v in reference_run.by_expression.items() if k in REFERENCES} \
        if reference_run is not None else {}
    by_expression |= {f"({i + 1}) {name}": r.by_expression["model"] for i, (name, r) in enumerate(results.items())
                      if "model" in r.by_expression}
    (out / "benchmark.md").write_text(markdown_table(rows, shown) + "\n" + setup + "\n"
                                      + by_expression_table(by_expression))
    (out / "benchmark.json").write_text(json.dumps(
        {"setup": setup, "references": references,
         "results": {n: {"metrics": r.metrics, "notes": r.notes,
                         "expression_accuracy_by_expression": r.by_expression.get("model", {})}
                     for n, r in results.items()}}, indent=1))
    save_image(variants_sheet(results), out / "benchmark.png")


def variants_sheet(results: dict[str, Evaluation]) -> np.ndarray:
    """input | ground truth | each variant's output, for the first test pairs."""
    first = next(iter(results.values()))
    count = min(6, len(first.examples["output"]))
    rows = [[first.examples["input"][k], first.examples["target"][k], *[r.examples["output"][k] for r in results.values()]]
            for k in range(count)]
    labels = ["input", "truth", *[f"({i + 1})" for i in range(len(results))]]
    return make_sheet(rows, labels, [p["expression"] for p in first.pairs[:count]], cell_size=96)
