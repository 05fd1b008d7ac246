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


def test_asked_expression_scores_every_pair_asked_for_one_expression(tmp_path: Path) -> None:
    from landmarkgan.data.synthetic import synthesize_dataset
    from landmarkgan.evaluation.expression_classifier import save_classifier, train_on_folder
    from tests.helpers import tiny_model

    data = tmp_path / "data"
    synthesize_dataset(data, num_identities=6, size=32, intensities=(4,), seed=0)
    files = [save_classifier(train_on_folder(data, tiny_model().config.expressions, size=32, steps=2, seed=s,
                                             progress=False), tmp_path / f"c{s}.safetensors") for s in (0, 1)]
    model = tiny_model(generator="warp", stage2_landmark_image="drawn", refinement_colours="palette")
    model.save_pretrained(tmp_path / "model", discriminators=False)
    common = ["--data", str(data), "--model", str(tmp_path / "model"), "--classifier", *map(str, files)]
    neutral = subprocess.run([sys.executable, str(SCRIPTS / "asked_expression.py"), "--expression", "neutral", *common],
                             capture_output=True, text=True, timeout=600)
    assert neutral.returncode == 0, neutral.stderr[-3000:]
    lines = neutral.stdout.splitlines()
    # 1 test subject with a neutral face and 6 others: 6 pairs asked for neutral, scored under both classifiers
    assert lines[0] == "6 test pairs asked for neutral; share read as asked:"
    assert sum(line.startswith(f"| {f} |") for f in files for line in lines) == 2
    assert any(line.startswith("| mean |") for line in lines)
    assert [line.split("|")[1].strip() for line in lines if line.startswith("| neutral | 6 |")] == ["neutral"]
    sample = subprocess.run([sys.executable, str(SCRIPTS / "asked_expression.py"), "--pairs", "20", *common],
                            capture_output=True, text=True, timeout=600)
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert sample.stdout.splitlines()[0] == "20 test pairs (seed 0); share read as asked:"
