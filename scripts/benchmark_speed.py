"""Speed and memory of LandmarkGAN, next to a plain pix2pix (unet_256 + 70x70 PatchGAN) in the same process.

Prints, at the paper's size (256x256, ngf = ndf = 64) and the default model's (128x128, ngf = ndf = 16):

* training images/s (one LandmarkGAN iteration = the Dl, Gl, De and Ge steps with the identity loss,
  run by the real trainer; one pix2pix iteration = its D and G steps with GAN + 100 L1), for eager
  PyTorch, channels_last, bf16 autocast and torch.compile, at each --train-batches size;
* inference ms/image (Gl then Ge; pix2pix's G) for the same modes plus the TorchScript and ONNX
  exports, at each --infer-batches size;
* peak memory of each measurement (CUDA: max_memory_allocated; CPU: the process's peak RSS, reset
  before each measurement through /proc/self/clear_refs);
* FLOPs counted by torch's FlopCounterMode and the achieved FLOP/s, against a measured matmul peak
  and, on the CPU, the theoretical peak from --peak-gflops;
* the LandmarkGAN / pix2pix time ratio per mode (LandmarkGAN runs two U-Nets, four PatchGANs and a
  face-recognition ResNet where pix2pix runs one U-Net and one PatchGAN).

    python scripts/benchmark_speed.py                          # CPU, everything
    python scripts/benchmark_speed.py --device cuda --sizes paper --train-batches 1 16
    python scripts/benchmark_speed.py --profile                # top operators of a training iteration
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from landmarkgan.data.synthetic import synthesize_dataset
from landmarkgan.devices import resolve_device
from landmarkgan.errors import LandmarkGANError
from landmarkgan.inference.export import Translator, example_inputs
from landmarkgan.models.networks import GANLoss, NLayerDiscriminator, UnetGenerator, init_weights
from landmarkgan.training.config import Config
from landmarkgan.training.trainer import Trainer

SIZES = {"paper": (256, 64), "demo": (128, 16), "tiny": (64, 8)}  # tiny: a smoke test of this script
MODES = ("eager", "channels_last", "bf16", "compile")
EXPORTS = ("torchscript", "onnx")


# ----------------------------------------------------------------------------- measuring
def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], object], device: torch.device, repeat: int, warmup: int = 1) -> tuple[float, float]:
    """(median seconds per call, peak memory MB) after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    reset_peak(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), peak_mb(device)


def count_flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def matmul_peak(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048) -> float:
    """Measured GFLOP/s of a large square matmul: what this machine's BLAS reaches."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    seconds, _ = timed(lambda: a @ b, device, repeat=5)
    return 2 * n**3 / seconds / 1e9


def autocast(mode: str, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()


# ----------------------------------------------------------------------------- pix2pix reference
class Pix2Pix:
    """pix2pix as its paper and code define it: unet_256 G, basic D on (input, output), BCE GAN + 100 L1."""

    def __init__(self, size: int, ngf: int, ndf: int, device: torch.device, mode: str) -> None:
        num_downs = size.bit_length() - 1
        self.g = init_weights(UnetGenerator(3, 3, num_downs, ngf, "batch", use_dropout=True)).to(device)
        self.d = init_weights(NLayerDiscriminator(6, ndf, 3, "batch")).to(device)
        if mode == "channels_last":
            self.g.to(memory_format=torch.channels_last)
            self.d.to(memory_format=torch.channels_last)
        if mode == "compile":
            self.g.compile()
            self.d.compile()
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
        self.gan = GANLoss()
        self.mode, self.device = mode, device

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        with autocast(self.mode, self.device):
            fake = self.g(x)
            self.opt_d.zero_grad(set_to_none=True)
            loss_d = 0.5 * (self.gan(self.d(torch.cat([x, y], 1)), True) + self.gan(self.d(torch.cat([x, fake.detach()], 1)), False))
        loss_d.backward()
        self.opt_d.step()
        self.d.requires_grad_(False)
        with autocast(self.mode, self.device):
            self.opt_g.zero_grad(set_to_none=True)
            loss_g = self.gan(self.d(torch.cat([x, fake], 1)), True) + 100 * F.l1_loss(fake.float(), y.float())
        loss_g.backward()
        self.opt_g.step()
        self.d.requires_grad_(True)


# ----------------------------------------------------------------------------- the measurements
def landmarkgan_trainer(data: Path, size: int, width: int, batch: int, device: torch.device, mode: str) -> Trainer:
    overrides = [f"train.data={data}", f"train.out={data.parent}/run-{mode}-{batch}", f"train.batch_size={batch}",
                 f"train.device={device}", "train.tensorboard=false", f"model.image_size={size}",
                 f"model.ngf={width}", f"model.ndf={width}",
                 f"train.channels_last={'true' if mode == 'channels_last' else 'false'}",
                 f"train.amp={'bf16' if mode == 'bf16' else 'off'}", f"train.compile={'true' if mode == 'compile' else 'false'}"]
    return Trainer(Config().with_overrides(overrides), progress_bar=False)


def training_rows(data: Path, size: int, width: int, batch: int, device: torch.device, modes, repeat: int) -> list[dict]:
    rows = []
    for mode in modes:
        trainer = landmarkgan_trainer(data, size, width, batch, device, mode)
        loader = torch.utils.data.DataLoader(trainer.dataset, batch_size=batch, shuffle=True, drop_last=True)
        item = trainer._to_device(next(iter(loader)))
        trainer.model.train()
        compile_start = time.perf_counter()
        trainer.train_step(item)  # also the warm-up (and compilation)
        compile_seconds = time.perf_counter() - compile_start
        seconds, memory = timed(lambda: trainer.train_step(item), device, repeat, warmup=1 if mode == "compile" else 0)
        flops = count_flops(lambda: trainer.train_step(item)) if mode == "eager" else None
        reference = Pix2Pix(size, width, width, device, mode)
        x, y = item["x"], item["y"]
        ref_seconds, ref_memory = timed(lambda: reference.train_step(x, y), device, repeat, warmup=2)
        ref_flops = count_flops(lambda: reference.train_step(x, y)) if mode == "eager" else None
        rows.append({"mode": mode, "batch": batch, "s": seconds, "mb": memory, "flops": flops, "ref_s": ref_seconds,
                     "ref_mb": ref_memory, "ref_flops": ref_flops,
                     "compile_s": compile_seconds if mode == "compile" else None})
        del trainer, reference
    return rows


def inference_rows(data: Path, size: int, width: int, batch: int, device: torch.device, modes, exports,
                   repeat: int) -> list[dict]:
    trainer = landmarkgan_trainer(data, size, width, 1, device, "eager")  # a real model with a fitted PDM
    model = trainer.model.eval()
    x, labels = (t.to(device) for t in example_inputs(model, batch))
    rows = []
    for mode in (*modes, *exports):
        translator = Translator(model).eval()
        reference = UnetGenerator(3, 3, size.bit_length() - 1, width, "batch", use_dropout=True).to(device).eval()
        inputs_x = x
        if mode == "channels_last":
            translator.to(memory_format=torch.channels_last)
            reference.to(memory_format=torch.channels_last)
            inputs_x = x.contiguous(memory_format=torch.channels_last)
        if mode == "compile":
            translator.compile()
            reference.compile()
        if mode in EXPORTS:
            run, run_ref = exported(translator, reference, mode, x, labels, device)
        else:
            def run(t=translator, m=mode, xi=inputs_x):
                with torch.no_grad(), autocast(m, device):
                    return t(xi, labels)

            def run_ref(r=reference, m=mode, xi=inputs_x):
                with torch.no_grad(), autocast(m, device):
                    return r(xi)
        if run is None:
            continue
        seconds, memory = timed(run, device, repeat, warmup=2)
        ref_seconds, ref_memory = timed(run_ref, device, repeat, warmup=2)
        flops = count_flops(run) if mode == "eager" else None
        ref_flops = count_flops(run_ref) if mode == "eager" else None
        rows.append({"mode": mode, "batch": batch, "s": seconds, "mb": memory, "flops": flops, "ref_s": ref_seconds,
                     "ref_mb": ref_memory, "ref_flops": ref_flops})
    return rows


def exported(translator, reference, fmt: str, x: torch.Tensor, labels: torch.Tensor, device: torch.device):
    """Callables running the TorchScript or ONNX (onnxruntime) exports of both models."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if fmt == "torchscript":
            traced = torch.jit.trace(translator, (x, labels))
            traced_ref = torch.jit.trace(reference, (x,))

            def run():
                with torch.no_grad():
                    return traced(x, labels)

            def run_ref():
                with torch.no_grad():
                    return traced_ref(x)

            return run, run_ref
        try:
            import onnxruntime
        except ImportError:
            print("  (onnx: pip install 'landmarkgan[onnx]' to measure the ONNX export)")
            return None, None
        folder = Path(tempfile.mkdtemp())
        cpu_x, cpu_labels = x.cpu(), labels.cpu()
        torch.onnx.export(translator.cpu(), (cpu_x, cpu_labels), folder / "t.onnx", dynamo=False)
        torch.onnx.export(reference.cpu(), (cpu_x,), folder / "r.onnx", dynamo=False)
        translator.to(device), reference.to(device)
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in onnxruntime.get_available_providers() and (device.type == "cuda" or p.startswith("CPU"))]
        if device.type == "cuda" and providers[0] != "CUDAExecutionProvider":
            print("  (onnx: this onnxruntime has no CUDAExecutionProvider; the ONNX rows run on the CPU)")
        session = onnxruntime.InferenceSession(str(folder / "t.onnx"), providers=providers)
        session_ref = onnxruntime.InferenceSession(str(folder / "r.onnx"), providers=providers)
        feeds = {i.name: v for i, v in zip(session.get_inputs(), (cpu_x.numpy(), cpu_labels.numpy()))}
        feeds_ref = {session_ref.get_inputs()[0].name: cpu_x.numpy()}
        return (lambda: session.run(None, feeds)), (lambda: session_ref.run(None, feeds_ref))


# ----------------------------------------------------------------------------- report
def print_rows(title: str, rows: list[dict], per: str, peak: float) -> None:
    print(f"\n{title}")
    print(f"  {'mode':<14}{'batch':>6}{'LandmarkGAN':>16}{'pix2pix':>14}{'ratio':>8}{'peak MB':>10}{'pix2pix MB':>12}"
          f"{'GFLOP':>9}{'GFLOP/s':>9}{'% peak':>8}")
    for r in rows:
        if per == "images/s":
            ours, ref = f"{r['batch'] / r['s']:.2f} img/s", f"{r['batch'] / r['ref_s']:.2f} img/s"
        else:
            ours, ref = f"{1000 * r['s'] / r['batch']:.1f} ms/img", f"{1000 * r['ref_s'] / r['batch']:.1f} ms/img"
        flops = f"{r['flops'] / 1e9:>9.1f}{r['flops'] / r['s'] / 1e9:>9.1f}{100 * r['flops'] / r['s'] / 1e9 / peak:>7.0f}%" \
            if r["flops"] else ""
        note = f"  (first call incl. compilation {r['compile_s']:.0f} s)" if r.get("compile_s") else ""
        print(f"  {r['mode']:<14}{r['batch']:>6}{ours:>16}{ref:>14}{r['s'] / r['ref_s']:>7.2f}x{r['mb']:>10.0f}"
              f"{r['ref_mb']:>12.0f}{flops}{note}")
        if r["ref_flops"]:
            print(f"  {'  pix2pix':<14}{'':>6}{'':>16}{'':>14}{'':>8}{'':>10}{'':>12}{r['ref_flops'] / 1e9:>9.1f}"
                  f"{r['ref_flops'] / r['ref_s'] / 1e9:>9.1f}{100 * r['ref_flops'] / r['ref_s'] / 1e9 / peak:>7.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--sizes", nargs="+", default=["paper", "demo"], choices=list(SIZES))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--exports", nargs="*", default=list(EXPORTS), choices=list(EXPORTS))
    parser.add_argument("--train-batches", nargs="+", type=int, default=[1, 4])
    parser.add_argument("--infer-batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per measurement (median)")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="the device's theoretical FP32 peak (default: measured matmul peak only)")
    parser.add_argument("--profile", action="store_true", help="print the top operators of a training iteration")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except LandmarkGANError as e:
        parser.error(str(e))
    measured = matmul_peak(device)
    peak = args.peak_gflops or measured
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"device {device} ({where}), torch {torch.__version__}; float32 matmul reaches "
          f"{measured:.0f} GFLOP/s" + (f" of a theoretical {args.peak_gflops:.0f}" if args.peak_gflops else "")
          + "; '% peak' is against " + ("the theoretical peak" if args.peak_gflops else "that matmul"))
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sizes:
            size, width = SIZES[name]
            data = Path(tmp) / f"data{size}"
            synthesize_dataset(data, num_identities=4, size=size, intensities=(4,), test_fraction=0.25)
            label = f"{name}: {size}x{size}, ngf = ndf = {width}"
            if args.profile:
                profile(data, size, width, device)
            for batch in args.train_batches:
                print_rows(f"training, {label} (LandmarkGAN: Dl+Gl+De+Ge steps; pix2pix: D+G steps)",
                           training_rows(data, size, width, batch, device, args.modes, args.repeat), "images/s", peak)
            for batch in args.infer_batches:
                print_rows(f"inference, {label} (LandmarkGAN: Gl then Ge; pix2pix: G)",
                           inference_rows(data, size, width, batch, device, args.modes, args.exports, args.repeat),
                           "ms/image", peak)


def profile(data: Path, size: int, width: int, device: torch.device) -> None:
    from torch.profiler import ProfilerActivity, profile as torch_profile

    trainer = landmarkgan_trainer(data, size, width, 8, device, "eager")
    item = trainer._to_device(next(iter(torch.utils.data.DataLoader(trainer.dataset, batch_size=8))))
    trainer.model.train()
    trainer.train_step(item)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        trainer.train_step(item)
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"\nprofile of one training iteration at {size}x{size}, batch 8:")
    print(prof.key_averages().table(sort_by=sort, row_limit=12))


if __name__ == "__main__":
    main()
