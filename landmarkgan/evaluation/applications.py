"""The paper's other applications (its Fig. 10) benchmarked: one model per task, with and without landmarks.

For each task (``model.task``: expression, colorize, inpaint, sketch) the benchmark harness trains and
evaluates LandmarkGAN and the same generator without landmarks (the label-only baseline) on the same data,
budget and test pairs, with one expression classifier for all. Each task's table and picture go to
``OUT/<task>/``; ``OUT/applications.md`` gathers the tables and ``OUT/applications.png`` shows, per task,
input | generated landmarks | output | ground truth like the paper's Fig. 10, with the baseline's output
next to LandmarkGAN's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from landmarkgan.data.images import save_image
from landmarkgan.evaluation.benchmark import VARIANTS, run_benchmark
from landmarkgan.evaluation.expression_classifier import classifier_name
from landmarkgan.evaluation.report import Evaluation
from landmarkgan.inference.sheets import make_sheet
from landmarkgan.training.config import Config

TASK_VARIANTS = ["pix2pix", "landmarkgan"]  # the label-only baseline, then LandmarkGAN
ROWS_PER_TASK = 3
SHORT_NAMES = {"pix2pix": "label-only", "landmarkgan": "LandmarkGAN"}  # column labels of applications.png


def run_applications(
    base: Config,
    out: str | os.PathLike,
    tasks: list[str],
    variants: list[str] | None = None,
    **options,
) -> dict[str, dict[str, Evaluation]]:
    """:func:`~landmarkgan.evaluation.benchmark.run_benchmark` of ``variants`` (default: the label-only
    baseline and LandmarkGAN) for every task, into ``out/<task>``; then ``applications.md`` and
    ``applications.png`` in ``out``. ``options`` go to run_benchmark."""
    out = Path(out)
    keys = variants or TASK_VARIANTS
    results = {}
    for task in tasks:
        print(f"==== task {task}", flush=True)
        classifier_file = out / classifier_name(options.get("classifier_seed", 0))  # one classifier for every task
        results[task] = run_benchmark(base.with_overrides([f"model.task={task}"]), out / task, keys,
                                      classifier_file=classifier_file, **options)
    tables = "".join(f"### {task}\n\n{(out / task / 'benchmark.md').read_text()}\n" for task in tasks)
    (out / "applications.md").write_text(tables)
    save_image(applications_sheet(results, keys), out / "applications.png")
    return results


def applications_sheet(results: dict[str, dict[str, Evaluation]], keys: list[str]) -> np.ndarray:
    """Per task, the first test pairs: input | generated landmarks (LandmarkGAN's) | each variant's output |
    ground truth."""
    rows, labels = [], []
    for task, by_variant in results.items():
        first = next(iter(by_variant.values())).examples
        landmarkgan = by_variant.get(VARIANTS["landmarkgan"][0])
        for k in range(min(ROWS_PER_TASK, len(first["output"]))):
            outputs = [by_variant[VARIANTS[key][0]].examples["output"][k] for key in keys]
            marks = landmarkgan.examples["landmarks"][k] if landmarkgan is not None else None
            rows.append([first["input"][k], marks, *outputs, first["target"][k]])
            labels.append(task)
    columns = ["input", "landmarks", *[SHORT_NAMES.get(key, key) for key in keys], "truth"]
    return make_sheet(rows, columns, labels, cell_size=96)
