"""One command that proves the CUDA paths of training and inference in a few minutes on one GPU.

    bash scripts/gpu_check.sh                               # on a GPU machine: --device cuda, at most 8 minutes
    bash scripts/gpu_check.sh --device cpu --tiny           # the same checks at tiny sizes on the CPU (CI)
    bash scripts/gpu_check.sh --only paper-bf16 resume      # some checks again
    bash scripts/gpu_check.sh --report gpu_check.md         # the report written to a file too

It synthesizes small sets of faces (``landmarkgan synthesize``), then runs each check in a process of its own under
a time limit, all of them within --budget seconds:

* paper-fp32, paper-bf16, paper-fp16, paper-channels_last, paper-compile: configs/paper.yaml (256 x 256, batch 1)
  trained for --steps steps in float32, bf16 autocast, fp16 autocast with the grad scaler, channels_last and
  torch.compile. Every logged loss must be finite and the reconstruction loss must fall (the mean of the last third
  of the steps below that of the first third). Images/s are timed between device synchronisations over the steps
  after the first third (compilation happens in that first third); peak memory is torch.cuda.max_memory_allocated
  on a GPU, the check's peak resident set on the CPU;
* default-recipe: configs/default_model.yaml, the built-in model's recipe (128 x 128, warp generator, batch 8; its
  learning rate kept constant, as its decay spans 5000 steps);
* resume: a run stopped half way and resumed on the device ends bit for bit where a straight run ends (weights and
  logged losses, with torch's deterministic algorithms on, and without the identity loss, whose resize has no
  deterministic CUDA backward); its checkpoint then loads on the CPU and trains a step more there;
* torchrun: ``torchrun --nproc_per_node=N -m landmarkgan train``, N the GPUs present (DDP on NCCL; on the CPU one
  process on gloo);
* translate, evaluate: the CLI with --device on a few synthetic test pairs, with the built-in model;
* export: TorchScript traced on the device, and export_model's TorchScript and ONNX, of the paper's networks on the
  device (untrained), checked against them; the device's model must stay where it is;
* benchmark: scripts/benchmark_speed.py --device at the paper's and the default model's sizes, pix2pix beside.

The report ends the output: a table ready for docs/performance.md, then the benchmark's tables. The exit status is
0 when every check passed, 1 when any failed (each failure is recorded and the other checks still run), and 2 when
the checks cannot run here (said before any work): no GPU for --device cuda, or no dlib face-recognition network
for the paper recipe's identity loss. --tiny takes configs/tiny.yaml's model sizes (32 x 32, narrow networks) and 12
steps; on a CPU it runs two checks at a time with one thread each, and leaves torch.compile out (compiling takes
minutes on a CPU).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial
from pathlib import Path

import numpy as np
import torch
import yaml

import landmarkgan
from landmarkgan.cli import INTERRUPTED
from landmarkgan.cli import main as landmarkgan_cli
from landmarkgan.devices import resolve_device
from landmarkgan.dlib_files import packaged_model_path
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.loading import load_model
from landmarkgan.models.identity import MODEL_FILE
from landmarkgan.models.landmarkgan import LandmarkGAN
from landmarkgan.training.checkpoint import latest_checkpoint
from landmarkgan.training.config import Config
from landmarkgan.training.trainer import LOG_NAME, Trainer

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
BUDGET = 480.0  # seconds: 8 minutes of a GPU lent for about 15
# recipe: (config, data set, overrides); the default recipe's learning rate decays over 5000 steps, which over a
# few dozen would keep it near 0
RECIPES = {"paper": ("paper.yaml", "data-paper", []),
           "default": ("default_model.yaml", "data-recipe", ["train.lr_decay_steps=0"])}
MODES = {"fp32": [], "bf16": ["train.amp=bf16"], "fp16": ["train.amp=fp16"],
         "channels_last": ["train.channels_last=true"], "compile": ["train.compile=true"]}
RESUME_STEPS = 8  # the resume check's straight run; the other stops half way
# the identity loss's antialiased resize has no deterministic CUDA backward (atomicAdd), so a run with it is not
# reproducible bit for bit on a GPU, resumed or not; the resume check trains without it
RESUME_OVERRIDES = ["model.identity_loss=false"]
EXPORT_TOLERANCE = 1e-3  # exported file against eager PyTorch on the same (CPU) inputs
DEVICE_TOLERANCE = 0.05  # exported file (CPU) against the model on the device: TF32 convolutions and kernels differ


@dataclass(frozen=True)
class Plan:
    """How large each check is: the paper's sizes, or with --tiny configs/tiny.yaml's."""

    device: str  # "cuda" or "cpu"
    tiny: bool
    work: Path  # data sets, run folders, logs and results
    steps: int  # training steps of each training check
    sizes: tuple[str, ...]  # model.* overrides of every training run (configs/tiny.yaml's model section with --tiny)
    paper_size: int  # image side of the paper recipe's data
    recipe_size: int  # image side of the default recipe's data
    processes: int  # torchrun's --nproc_per_node
    benchmark: tuple[str, ...]  # scripts/benchmark_speed.py's options besides --device


def make_plan(device: str, tiny: bool, work: Path, steps: int | None) -> Plan:
    processes = torch.cuda.device_count() if device == "cuda" else 1
    if tiny:
        model = yaml.safe_load((CONFIGS / "tiny.yaml").read_text())["model"]
        return Plan(device, tiny, work, steps or 12, tuple(f"model.{k}={v}" for k, v in model.items()),
                    model["image_size"], model["image_size"], processes,
                    ("--sizes", "tiny", "--modes", "eager", "--exports", "torchscript", "--train-batches", "1",
                     "--infer-batches", "1", "--repeat", "1"))
    return Plan(device, tiny, work, steps or 30, (), 256, 128, processes,
                ("--sizes", "paper", "demo", "--modes", "eager", "bf16", "--exports", "torchscript", "--train-batches",
                 "1", "8", "--infer-batches", "1", "--repeat", "5"))


@dataclass
class Row:
    """One check's line of the report."""

    check: str
    result: str = "ok"  # ok, FAIL or skipped
    seconds: float = 0.0  # wall time of the check's process
    images_per_s: float | None = None
    peak_mib: float | None = None
    notes: str = ""
    details: str = ""  # long output shown after the table (the benchmark's tables)
    device_name: str = ""


# ----------------------------------------------------------------------------- measuring
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_mib(device: torch.device) -> float | None:
    """torch.cuda.max_memory_allocated on a GPU; on the CPU this process's peak resident set (Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.is_file() else []
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:")), None)


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else ""


class TimedTrainer(Trainer):
    """The trainer, timing each iteration between two device synchronisations (and saying so in the log)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.step_seconds: list[float] = []

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        synchronize(self.device)
        start = time.perf_counter()
        logs = super().train_step(batch)
        synchronize(self.device)
        self.step_seconds.append(time.perf_counter() - start)
        print(f"step {len(self.step_seconds)}: {self.step_seconds[-1]:.3f} s", flush=True)
        return logs


def logged_losses(run: Path) -> list[dict]:
    """The loss records of a run's training log, one per logged step."""
    records = [json.loads(line) for line in (run / LOG_NAME).read_text().splitlines()]
    return [r for r in records if "losses" in r]


def loss_verdict(records: list[dict]) -> tuple[bool, str]:
    """(finite and falling, what to say): every logged loss finite, the reconstruction loss's last third below its
    first third."""
    bad = sorted({k for r in records for k, v in r["losses"].items() if not math.isfinite(v)})
    recon = [r["losses"]["ge/reconstruction"] for r in records]
    third = max(1, len(recon) // 3)
    first, last = statistics.mean(recon[:third]), statistics.mean(recon[-third:])
    said = f"ge/reconstruction {first:.3f} -> {last:.3f}"
    if bad:
        return False, f"{said}; not finite: {', '.join(bad)}"
    return last < first, said if last < first else f"{said}: not falling"


# ----------------------------------------------------------------------------- the checks (each in its own process)
def training_overrides(plan: Plan, data: str, out: Path, steps: int, device: str | None = None) -> list[str]:
    return [*plan.sizes, f"train.data={plan.work / data}", f"train.out={out}", f"train.device={device or plan.device}",
            f"train.max_steps={steps}", "train.log_every=1", f"train.sample_every={steps}",
            f"train.checkpoint_every={10 * steps}", "train.tensorboard=false"]


def training_check(recipe: str, mode: str, plan: Plan) -> Row:
    config_file, data, overrides = RECIPES[recipe]
    device = resolve_device(plan.device)
    out = plan.work / f"run-{recipe}-{mode}"
    config = Config.load(CONFIGS / config_file).with_overrides(
        training_overrides(plan, data, out, plan.steps) + overrides + MODES[mode])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer = TimedTrainer(config, progress_bar=False)
    trainer.train()
    ok, notes = loss_verdict(logged_losses(out))
    warmup = len(trainer.step_seconds) // 3
    timed = trainer.step_seconds[warmup:]
    if mode == "fp16":
        notes += f"; grad scale {trainer.scaler.get_scale():g}"
    if mode == "channels_last":
        kept = all(p.is_contiguous(memory_format=torch.channels_last) for p in trainer.model.parameters() if p.dim() == 4)
        ok, notes = ok and kept, notes + ("; weights stay channels_last" if kept else "; weights lost channels_last")
    if mode == "compile":
        notes += f"; the first {warmup} steps (compilation) took {sum(trainer.step_seconds[:warmup]):.0f} s"
    return Row("", "ok" if ok else "FAIL", images_per_s=config.train.batch_size * len(timed) / sum(timed),
               peak_mib=peak_mib(device), notes=notes, device_name=device_name(device))


def differing(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    """The names whose tensors are not bit for bit the same (or are in one dict only)."""
    return sorted(set(a) ^ set(b)) + [k for k in a if k in b and not torch.equal(a[k], b[k])]


def resume_check(plan: Plan) -> Row:
    device = resolve_device(plan.device)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; read at its first use
    torch.use_deterministic_algorithms(True, warn_only=True)
    stop = RESUME_STEPS // 2

    def run(name: str, steps: int, resume: bool = False, on: str | None = None) -> Trainer:
        config = Config.load(CONFIGS / "paper.yaml").with_overrides(
            training_overrides(plan, "data-paper", plan.work / name, steps, on) + RESUME_OVERRIDES)
        trainer = Trainer(config, resume=resume, progress_bar=False)
        trainer.train()
        return trainer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        straight = run("resume-straight", RESUME_STEPS)
        run("resume-stopped", stop)
        resumed = run("resume-stopped", RESUME_STEPS, resume=True)
    weights = differing(straight.model.state_dict(), resumed.model.state_dict())
    after = [[r for r in logged_losses(plan.work / name) if r["step"] > stop] for name in ("resume-straight", "resume-stopped")]
    on_device = {k: v.cpu() for k, v in resumed.model.state_dict().items()}
    on_cpu = differing(on_device, load_model(plan.work / "resume-stopped").state_dict())
    continued = run("resume-stopped", RESUME_STEPS + 1, resume=True, on="cpu")
    ok = not weights and after[0] == after[1] and not on_cpu and continued.progress.step == RESUME_STEPS + 1
    notes = [f"{RESUME_STEPS} steps straight vs {stop} + {RESUME_STEPS - stop} resumed on {device} (no identity loss): "
             + ("weights and losses bit for bit equal" if not weights and after[0] == after[1] else
                f"{len(weights)} weights differ (first: {', '.join(weights[:3])}), losses "
                + ("equal" if after[0] == after[1] else "differ"))]
    notes.append("loaded on the CPU " + ("bit for bit" if not on_cpu else f"with {len(on_cpu)} tensors changed")
                 + f", then trained to step {continued.progress.step} there")
    nondeterministic = sorted({str(w.message).splitlines()[0] for w in caught if "deterministic" in str(w.message)})
    if nondeterministic and not ok:
        notes.append("torch warned: " + " / ".join(nondeterministic))
    return Row("", "ok" if ok else "FAIL", notes="; ".join(notes), device_name=device_name(device))


def torchrun_check(plan: Plan) -> Row:
    steps = 4
    out = plan.work / "run-torchrun"
    backend = "nccl" if plan.device == "cuda" else "gloo"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={plan.processes}",
               "-m", "landmarkgan", "train", "--config", str(CONFIGS / "paper.yaml"),
               *training_overrides(plan, "data-paper", out, steps)]
    result = subprocess.run(command, capture_output=True, text=True)
    print(result.stdout, result.stderr[-6000:], sep="\n")
    said = f"distributed: {plan.processes} process(es), backend {backend}" in result.stderr
    checkpoint = latest_checkpoint(out)
    ok = result.returncode == 0 and said and checkpoint is not None and checkpoint.name == f"step_{steps:08d}"
    if not ok:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return Row("", "FAIL", notes=f"exit status {result.returncode}, backend {backend} "
                   + ("named" if said else "not named") + f", checkpoint {checkpoint}; last line: {last}")
    finite = all(math.isfinite(v) for r in logged_losses(out) for v in r["losses"].values())  # rank 0's
    return Row("", "ok" if finite else "FAIL",
               notes=f"{plan.processes} process(es) on {backend}, {steps} steps, losses "
               + ("finite" if finite else "not finite"))


def held_out_images(data: Path, count: int) -> list[Path]:
    rows = [json.loads(line) for line in (data / "manifest.jsonl").read_text().splitlines()]
    return [data / r["image"] for r in rows if r["split"] == "test"][:count]


def translate_check(plan: Plan) -> Row:
    device = resolve_device(plan.device)
    images = held_out_images(plan.work / "data-faces", 4)
    out = plan.work / "translate"
    status = landmarkgan_cli(["translate", *map(str, images), "-e", "happy", "--no-align", "--device", plan.device,
                              "-o", str(out)])
    written = sorted(path for path in out.glob("*_happy*") if path.suffix in (".png", ".jpg"))
    ok = status == 0 and len(written) == len(images)
    return Row("", "ok" if ok else "FAIL", peak_mib=peak_mib(device),
               notes=f"{len(written)} of {len(images)} faces translated by the built-in model")


def dlib_installed() -> bool:
    """Whether dlib imports: a GPU machine's image may lack it, and evaluate then leaves the identity metrics out."""
    try:
        import dlib  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate_check(plan: Plan) -> Row:
    out = plan.work / "evaluate"
    dlib = dlib_installed()
    options = ["--no-perceptual"] if plan.tiny else []
    if plan.tiny or not dlib:
        options.append("--no-identity")
    status = landmarkgan_cli(["evaluate", "--data", str(plan.work / "data-faces"), "--pairs", "4", "--batch-size", "4",
                              "--classifier-steps", "10", "--device", plan.device, "--out", str(out), *options])
    metrics = json.loads((out / "metrics.json").read_text())["metrics"] if status == 0 else {}
    psnr = metrics.get("psnr", float("nan"))
    ok = status == 0 and math.isfinite(psnr)
    skipped = " (dlib is not installed: --no-identity)" if not dlib else ""
    return Row("", "ok" if ok else "FAIL", peak_mib=peak_mib(resolve_device(plan.device)),
               notes=f"4 test pairs, PSNR {psnr:.2f} dB{skipped}; options: {' '.join(options) or 'none'}")


def model_to_export(plan: Plan) -> LandmarkGAN:
    """The paper's networks at the plan's sizes, untrained, their PDM fitted on the paper recipe's data (a U-Net graph
    exports in seconds, where the built-in warp generator's takes a minute of a CPU)."""
    config = Config.load(CONFIGS / "paper.yaml").with_overrides(list(plan.sizes))
    rows = (plan.work / "data-paper" / "manifest.jsonl").read_text().splitlines()
    return LandmarkGAN(config.model).fit_pdm(np.array([json.loads(row)["landmarks"] for row in rows])).eval()


def export_check(plan: Plan) -> Row:
    from landmarkgan.inference.export import FORMATS, Translator, example_inputs, export_model, run_exported

    device = resolve_device(plan.device)
    model = model_to_export(plan).to(device)
    x, labels = (t.to(device) for t in example_inputs(model, batch=3, seed=1))
    with torch.no_grad():
        reference = Translator(model)(x, labels)[0]
    ok, notes = True, []
    if device.type == "cuda":  # on the CPU export_model below does just this
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes
            traced = torch.jit.trace(Translator(model), (x, labels), check_trace=False)
            on_device = float((traced(x, labels)[0] - reference).abs().max())
        ok, notes = on_device < EXPORT_TOLERANCE, [f"TorchScript traced on {device}: {on_device:.1e}"]
    for fmt in FORMATS:
        path, difference = export_model(model, plan.work / "export" / f"translator.{'onnx' if fmt == 'onnx' else 'pt'}", fmt)
        against_device = float(abs(run_exported(path, fmt, x.cpu(), labels.cpu())[0] - reference.cpu().numpy()).max())
        stayed = next(model.parameters()).device == device
        ok = ok and difference < EXPORT_TOLERANCE and against_device < DEVICE_TOLERANCE and stayed
        notes.append(f"{fmt}: {difference:.1e} from CPU PyTorch, {against_device:.1e} from the {device.type} model"
                     + ("" if stayed else ", which export moved off its device"))
    return Row("", "ok" if ok else "FAIL", notes="; ".join(notes))


def benchmark_check(plan: Plan) -> Row:
    options = ["--device", plan.device, *plan.benchmark]
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark_speed.py"), *options],
                            capture_output=True, text=True)
    print(result.stdout, result.stderr[-6000:], sep="\n")
    tables = result.stdout.count("\ntraining, ") + result.stdout.count("\ninference, ")
    ok = result.returncode == 0 and tables > 0 and "pix2pix" in result.stdout
    notes = f"{tables} tables, below" if ok else f"exit status {result.returncode}; see the log"
    return Row("", "ok" if ok else "FAIL", notes=notes, details=f"scripts/benchmark_speed.py {' '.join(options)}\n\n"
               + result.stdout.strip())


CHECKS: dict[str, tuple[Callable[[Plan], Row], float]] = {  # name: (check, its time limit in seconds), in order
    **{f"paper-{mode}": (partial(training_check, "paper", mode), 90) for mode in MODES if mode != "compile"},
    "default-recipe": (partial(training_check, "default", "fp32"), 90),
    "resume": (resume_check, 150),
    "torchrun": (torchrun_check, 120),
    "translate": (translate_check, 60),
    "evaluate": (evaluate_check, 120),
    "export": (export_check, 120),
    "benchmark": (benchmark_check, 200),
    "paper-compile": (partial(training_check, "paper", "compile"), 300),
}
LEFT_OUT_ON_A_TINY_CPU = {"paper-compile": "left out with --device cpu --tiny: torch.compile takes minutes on a CPU"}


def run_one(name: str, plan: Plan) -> Row:
    """Run one check in this process; an exception is the check's failure."""
    try:
        row = CHECKS[name][0](plan)
    except Exception as e:  # noqa: BLE001 (any error is this check's failure, reported and survived)
        traceback.print_exc()
        row = Row("", "FAIL", notes=f"{type(e).__name__}: {e}")
    row.check = name
    return row


# ----------------------------------------------------------------------------- the driver
def child_environment(plan: Plan) -> dict[str, str]:
    """The checks import the very package this script imported; with --tiny on a CPU one thread each, so a few
    shared cores are not oversubscribed."""
    package_root = str(Path(landmarkgan.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    extra = {"OMP_NUM_THREADS": "1"} if plan.tiny and plan.device == "cpu" else {}
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", **extra}


RUNNING: set[subprocess.Popen] = set()  # the checks' processes, each in a session of its own (out of Ctrl-C's reach)


def stop(process: subprocess.Popen) -> None:
    """End a check's process group: SIGTERM (torchrun passes it to its workers), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=grace)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def last_lines(log: Path, count: int) -> list[str]:
    return log.read_text(errors="replace").splitlines()[-count:] if log.is_file() else []


def run_check(name: str, plan: Plan, limit: float) -> Row:
    """Run one check in a new process (and process group) under ``limit`` seconds; its output goes to a log."""
    log, result = plan.work / "logs" / f"{name}.log", plan.work / "results" / f"{name}.json"
    log.parent.mkdir(exist_ok=True)
    result.parent.mkdir(exist_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--device", plan.device, "--work", str(plan.work),
               "--steps", str(plan.steps), "--run-one", name, *(["--tiny"] if plan.tiny else [])]
    start = time.perf_counter()
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=child_environment(plan),
                                   start_new_session=True)
        RUNNING.add(process)
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            stop(process)
            last = (last_lines(log, 1) or ["nothing"])[0]
            return Row(name, "FAIL", time.perf_counter() - start,
                       notes=f"timed out after {limit:.0f} s; its last output: {last[:200]}")
        finally:
            RUNNING.discard(process)
    seconds = time.perf_counter() - start
    if not result.is_file():
        return Row(name, "FAIL", seconds, notes=f"its process exited with status {process.returncode} and no result")
    row = Row(**json.loads(result.read_text()))
    row.seconds = seconds
    return row


def synthesize(plan: Plan) -> Row:
    """The data sets: the paper recipe's, the default recipe's (intensity levels 1-4) and 128 px faces for the
    built-in model."""
    start = time.perf_counter()
    sets = {"data-paper": (plan.paper_size, 10, ["4"], "0.2"), "data-recipe": (plan.recipe_size, 6, ["1", "2", "3", "4"], "0.2"),
            "data-faces": (128, 4, ["4"], "0.5")}
    try:
        for folder, (size, identities, levels, test) in sets.items():
            status = landmarkgan_cli(["synthesize", str(plan.work / folder), "--identities", str(identities),
                                      "--size", str(size), "--intensities", *levels, "--test-fraction", test])
            if status == INTERRUPTED:  # Ctrl-C, which the CLI turns into a status
                raise KeyboardInterrupt
            if status:
                return Row("data", "FAIL", time.perf_counter() - start, notes=f"synthesize {folder}: status {status}")
    except Exception as e:  # noqa: BLE001 (reported as the data's failure)
        return Row("data", "FAIL", time.perf_counter() - start, notes=f"{type(e).__name__}: {e}")
    sides = ", ".join(f"{size} px" for size, *_ in sets.values())
    return Row("data", seconds=time.perf_counter() - start, notes=f"synthetic faces at {sides}")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def described(args: argparse.Namespace) -> str:
    """The command, without the folders it wrote to."""
    words = ["bash scripts/gpu_check.sh", "--device", args.device, *(["--tiny"] if args.tiny else []),
             *(["--only", *args.only] if args.only else []), *(["--steps", str(args.steps)] if args.steps else []),
             *(["--budget", f"{args.budget:g}"] if args.budget != BUDGET else [])]
    return " ".join(words)


def cpu_name() -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.is_file() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), platform.machine())
    return f"CPU ({model}, {os.cpu_count()} cores)"


def report(rows: list[Row], plan: Plan, command: str, seconds: float) -> str:
    """The markdown for docs/performance.md: what ran where, the table, the benchmark's output."""
    name = next((r.device_name for r in rows if r.device_name), "cuda") if plan.device == "cuda" else cpu_name()
    revision = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    at = f" at {revision.stdout.strip()}" if revision.returncode == 0 else ""
    cuda = f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" if plan.device == "cuda" else ""
    memory = "torch.cuda.max_memory_allocated" if plan.device == "cuda" else "the check's peak resident set"
    lines = [f"### GPU check: {name}, {date.today().isoformat()}", "",
             f"`{command}`{at}: torch {torch.__version__}{cuda}, {plan.processes} process(es) for torchrun. Each "
             f"training check runs {plan.steps} steps on synthetic faces; images/s over the steps after the first "
             f"third; peak memory is {memory}.", "",
             "| check | result | images/s | peak MiB | time | notes |", "|---|---|---:|---:|---:|---|"]
    lines += [f"| {r.check} | {r.result} | {number(r.images_per_s, 2)} | {number(r.peak_mib, 0)} | {r.seconds:.0f} s "
              f"| {cell(r.notes)} |" for r in rows]
    failed = [r.check for r in rows if r.result == "FAIL"]
    passed = sum(r.result == "ok" for r in rows)
    lines += ["", f"{passed} of {len(rows)} checks passed" + (f", {len(failed)} failed ({', '.join(failed)})" if failed
              else "") + f", in {seconds:.0f} s."]
    for r in rows:
        if r.details:
            lines += ["", "```text", r.details, "```"]
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="where to run the checks (default cuda)")
    parser.add_argument("--tiny", action="store_true", help="configs/tiny.yaml's sizes and few steps: the CI mode")
    parser.add_argument("--only", nargs="+", choices=list(CHECKS), metavar="CHECK",
                        help=f"run only these checks, among: {', '.join(CHECKS)}")
    parser.add_argument("--steps", type=int, help="training steps of each training check (default 30; --tiny 12)")
    parser.add_argument("--jobs", type=int, help="checks run at once (default 1, so each check's timings and memory "
                        "peak are its own; 2 with --device cpu --tiny)")
    parser.add_argument("--budget", type=float, default=BUDGET,
                        help=f"seconds for everything; a check that would start after it is a failure (default {BUDGET:.0f})")
    parser.add_argument("--work", type=Path, help="a new or empty folder for the data, runs and logs (default: a "
                        "temporary one, removed at the end)")
    parser.add_argument("--report", type=Path, help="also write the report (markdown) to this file")
    parser.add_argument("--run-one", choices=list(CHECKS), help=argparse.SUPPRESS)  # the driver's way to run a check
    return parser.parse_args(argv)


def refusal(device: str) -> str | None:
    """Why the checks cannot run on ``device`` here, or None: said before any work."""
    if device == "cuda" and not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA: a CPU-only build"
        return (f"--device cuda asks for a GPU, but torch {torch.__version__} ({build}) sees none. Run this on a "
                "machine with a GPU and a CUDA build of torch (scripts/gpu_check.sh runs $PYTHON, else "
                ".venv/bin/python, else python3), or run the CPU mode: --device cpu --tiny")
    try:
        weights = packaged_model_path(MODEL_FILE)
    except LandmarkGANError as e:
        return no_identity_weights(str(e))
    return None if weights.is_file() else no_identity_weights(f"{weights} is missing")


def no_identity_weights(why: str) -> str:
    return (f"the paper recipe's identity loss needs dlib's face-recognition ResNet, {MODEL_FILE} ({why}): pip install "
            f"face_recognition_models, or put a folder face_recognition_models/models/ holding {MODEL_FILE} (with an "
            "empty __init__.py beside models/) on PYTHONPATH, as docs/performance.md shows")


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    problem = refusal(args.device)
    if problem:
        print(f"gpu_check: {problem}", file=sys.stderr)
        return 2
    if args.run_one:
        plan = make_plan(args.device, args.tiny, args.work, args.steps)
        row = run_one(args.run_one, plan)
        (plan.work / "results" / f"{args.run_one}.json").write_text(json.dumps(asdict(row)))
        return 0 if row.result != "FAIL" else 1
    if args.work is not None and args.work.exists() and any(args.work.iterdir()):
        print(f"gpu_check: --work {args.work} is not empty; give a new or empty folder", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu_check-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return drive(args, make_plan(args.device, args.tiny, work.resolve(), args.steps))
    except KeyboardInterrupt:
        print("gpu_check: interrupted; the checks' processes are stopped", file=sys.stderr)
        return INTERRUPTED
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def drive(args: argparse.Namespace, plan: Plan) -> int:
    start = time.monotonic()
    names = args.only or list(CHECKS)
    data = synthesize(plan)
    print(f"data: {data.result} in {data.seconds:.0f} s, {data.notes}", flush=True)

    def check(name: str) -> Row:
        left = args.budget - (time.monotonic() - start)
        if plan.tiny and plan.device == "cpu" and name in LEFT_OUT_ON_A_TINY_CPU:
            row = Row(name, "skipped", notes=LEFT_OUT_ON_A_TINY_CPU[name])
        elif data.result == "FAIL":
            row = Row(name, "FAIL", notes="not run: no data")
        elif left < 5:
            row = Row(name, "FAIL", notes=f"not run: the {args.budget:.0f} s budget was spent")
        else:
            row = run_check(name, plan, min(CHECKS[name][1], left))
        print(f"{name}: {row.result} in {row.seconds:.0f} s, {row.notes}", flush=True)
        return row

    jobs = args.jobs or (2 if plan.tiny and plan.device == "cpu" else 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            rows = [data, *pool.map(check, names)]
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            for process in list(RUNNING):
                stop(process)
            raise
    for row in rows:
        log = plan.work / "logs" / f"{row.check}.log"
        if row.result == "FAIL" and log.is_file():
            print(f"\n--- the end of {row.check}'s output ---", *last_lines(log, 25), sep="\n")
    text = report(rows, plan, described(args), time.monotonic() - start)
    print("\n" + text)
    if args.report:
        args.report.write_text(text + "\n")
    failed = [r.check for r in rows if r.result == "FAIL"]
    print(f"\ngpu_check: {'FAILED: ' + ', '.join(failed) if failed else 'every check passed'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
