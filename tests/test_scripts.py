"""The benchmark scripts run (a smoke test at a tiny size; their figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_photo_mouth_ceiling_prints_the_model_and_the_exact_warps() -> None:
    result = subprocess.run([sys.executable, str(SCRIPTS / "photo_mouth_ceiling.py"), "--expression", "happy",
                             "--shares", "0.5", "1"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("happy 4: mouth width") and "the model's output: dlib reads" in lines[1]
    assert [line.split("|")[0].strip() for line in lines[3:]] == ["0.50", "1.00"]
    assert all(len(line.split("|")) == 3 for line in lines[3:])
