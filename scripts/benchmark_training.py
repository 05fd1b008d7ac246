"""Training speed and peak memory of LandmarkGAN: images (pairs) per second and the memory high-water mark.

Runs the real trainer (all four optimiser steps of an iteration: Dl, Gl, De, Ge, with the identity loss)
on synthetic faces, at the paper's size (256x256, ngf = ndf = 64) and at the default model's size
(128x128, ngf = ndf = 16), for batch 1 and a larger batch. Each configuration runs in its own process,
so every peak is its own. On CUDA the peak is torch.cuda.max_memory_allocated; on the CPU the
process's maximum resident set size.

    python scripts/benchmark_training.py                      # CPU
    python scripts/benchmark_training.py --device cuda --amp bf16 --channels-last
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = {"paper": (256, 64), "demo": (128, 16)}


def measure(size: int, width: int, batch: int, steps: int, device: str, amp: str, channels_last: bool) -> dict:
    import torch

    from landmarkgan.data.synthetic import synthesize_dataset
    from landmarkgan.training.config import Config
    from landmarkgan.training.trainer import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        synthesize_dataset(Path(tmp) / "data", num_identities=4, size=size, intensities=(4,), test_fraction=0.25)
        config = Config().with_overrides([
            f"train.data={tmp}/data", f"train.out={tmp}/run", f"train.batch_size={batch}", f"train.device={device}",
            f"train.amp={amp}", f"train.channels_last={str(channels_last).lower()}", "train.tensorboard=false",
            f"model.image_size={size}", f"model.ngf={width}", f"model.ndf={width}",
        ])
        trainer = Trainer(config, progress_bar=False)
        loader = torch.utils.data.DataLoader(trainer.dataset, batch_size=batch, shuffle=True, drop_last=True)
        batches = [trainer._to_device(b) for b, _ in zip(loader, range(steps + 1))]
        trainer.model.train()
        trainer.train_step(batches[0])  # warm-up: allocator, kernels, caches
        sync = torch.cuda.synchronize if trainer.device.type == "cuda" else (lambda: None)
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        sync()
        start = time.perf_counter()
        for b in batches[1:]:
            trainer.train_step(b)
        sync()
        seconds = (time.perf_counter() - start) / (len(batches) - 1)
        if trainer.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
        return {"size": size, "ngf": width, "batch": batch, "s_per_step": seconds,
                "images_per_s": batch / seconds, "peak_mb": peak, "device": str(trainer.device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"))
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--steps", type=int, default=3, help="timed iterations after one warm-up (default 3)")
    parser.add_argument("--one", nargs=3, type=int, metavar=("SIZE", "NGF", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        size, width, batch = args.one
        print(json.dumps(measure(size, width, batch, args.steps, args.device, args.amp, args.channels_last)))
        return
    print(f"LandmarkGAN training, one iteration = Dl, Gl, De, Ge steps with the identity loss; device {args.device}, "
          f"amp {args.amp}, channels_last {args.channels_last}")
    print(f"{'config':>6} {'size':>5} {'ngf':>4} {'batch':>5} {'s/step':>8} {'images/s':>9} {'peak MB':>9}")
    for name in args.sizes:
        size, width = SIZES[name]
        for batch in args.batches:
            command = [sys.executable, __file__, "--one", str(size), str(width), str(batch), "--steps", str(args.steps),
                       "--device", args.device, "--amp", args.amp] + (["--channels-last"] if args.channels_last else [])
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"{name:>6} {size:>5} {width:>4} {batch:>5}  failed: {result.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{name:>6} {size:>5} {width:>4} {batch:>5} {r['s_per_step']:>8.3f} {r['images_per_s']:>9.2f} "
                  f"{r['peak_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
