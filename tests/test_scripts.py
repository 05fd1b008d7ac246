"""The benchmark scripts run (a smoke test at a tiny size; their figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def test_speed_benchmark_prints_every_mode_and_the_pix2pix_reference() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "benchmark_speed.py"), "--sizes", "tiny", "--modes", "eager", "channels_last",
         "bf16", "--exports", "torchscript", "onnx", "--train-batches", "2", "--infer-batches", "1", "--repeat", "1"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "float32 matmul reaches" in out
    assert out.count("training, tiny: 64x64") == 1 and out.count("inference, tiny: 64x64") == 1
    for mode in ("eager", "channels_last", "bf16", "torchscript", "onnx"):
        assert f"  {mode} " in out, mode
    assert "img/s" in out and "ms/img" in out and "pix2pix" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="refuses CUDA only where there is none")
def test_speed_benchmark_refuses_cuda_without_a_gpu() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "benchmark_speed.py"), "--device", "cuda"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--device asks for CUDA but no GPU is visible" in result.stderr
    assert result.stdout == ""  # refused before measuring anything


def test_server_benchmark_prints_latencies_and_memory() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "benchmark_server.py"), "--requests", "2", "--clients", "2", "--uploads", "2",
         "--bomb-side", "5000", "--large-side", "1200"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "idle after warm-up" in out and out.count("p50") == 4
    assert "statuses {413: 2}" in out and "afterwards an ordinary request: status 200" in out


def test_edit_benchmark_prints_latencies_throughput_and_the_split() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "benchmark_edit.py"), "--edits", "4", "--clients", "2",
                             "--megapixels", "0.3"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "load average before" in out and "load average after" in out and out.count("p50") == 3
    assert "edits/s" in out and "stage II" in out and "paste-back" in out

