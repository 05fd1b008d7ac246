"""scripts/gpu_check.sh: its CPU mode runs every check and prints the report (so the GPU check cannot rot); it refuses
CUDA on a machine without a GPU, and a missing identity network, before any work; a failing check is recorded while
the others still run, and the exit status says so."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
HEADER = "| check | result | images/s | peak MiB | time | notes |"
CPU_CHECKS = ("paper-fp32", "paper-bf16", "paper-fp16", "paper-channels_last", "default-recipe", "resume", "torchrun",
              "translate", "evaluate", "export", "benchmark")


def gpu_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHON": sys.executable, **(env or {})}
    return subprocess.run(["bash", str(SCRIPTS / "gpu_check.sh"), *args], capture_output=True, text=True, timeout=1500,
                          env=environment)


def table(report: str) -> dict[str, list[str]]:
    """The report's table: check -> its cells (result, images/s, peak MiB, time, notes)."""
    rows = [line for line in report.splitlines() if line.startswith("| ") and line != HEADER]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in row.strip("|").split("|")] for row in rows)}


@pytest.mark.slow
def test_the_tiny_cpu_mode_passes_every_check_and_ends_with_the_table(tmp_path: Path) -> None:
    # the budget is the GPU lease's; here only the checks' own limits apply (a busy machine takes longer)
    result = gpu_check("--device", "cpu", "--tiny", "--budget", "1200", "--work", str(tmp_path / "work"),
                       "--report", str(tmp_path / "r.md"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    report = (tmp_path / "r.md").read_text()
    assert report.rstrip() in result.stdout and result.stdout.rstrip().endswith("gpu_check: every check passed")
    assert report.startswith("### GPU check: CPU (") and HEADER in report.splitlines()
    rows = table(report)
    assert {name: cells[0] for name, cells in rows.items()} == {
        "data": "ok", **dict.fromkeys(CPU_CHECKS, "ok"), "paper-compile": "skipped"}
    for name in CPU_CHECKS[:5]:  # the training checks: images/s, peak memory, a falling reconstruction loss
        images_per_s, peak, notes = float(rows[name][1]), float(rows[name][2]), rows[name][4]
        assert images_per_s > 0 and peak > 0 and "ge/reconstruction" in notes, name
    assert "grad scale" in rows["paper-fp16"][4] and "weights stay channels_last" in rows["paper-channels_last"][4]
    assert "weights and losses bit for bit equal" in rows["resume"][4] and "loaded on the CPU bit for bit" in rows["resume"][4]
    assert "1 process(es) on gloo" in rows["torchrun"][4]
    assert "4 of 4 faces" in rows["translate"][4] and "PSNR" in rows["evaluate"][4]
    assert "torchscript:" in rows["export"][4] and "onnx:" in rows["export"][4]
    assert "scripts/benchmark_speed.py --device cpu --sizes tiny" in report and "pix2pix" in report


def test_cuda_is_refused_without_a_gpu_before_any_work() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = gpu_check()  # no arguments: --device cuda
    assert result.returncode == 2 and result.stdout == ""
    assert "gpu_check: --device cuda asks for a GPU, but torch" in result.stderr
    assert "--device cpu --tiny" in result.stderr


def test_a_missing_identity_network_is_refused_before_any_work(tmp_path: Path) -> None:
    package = tmp_path / "site" / "face_recognition_models"  # found first, without its models/ folder
    package.mkdir(parents=True)
    (package / "__init__.py").touch()
    result = gpu_check("--device", "cpu", "--tiny", "--work", str(tmp_path / "work"),
                       env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 2 and result.stdout == "" and not (tmp_path / "work").exists()
    assert "needs dlib's face-recognition ResNet, dlib_face_recognition_resnet_model_v1.dat" in result.stderr
    assert "docs/performance.md" in result.stderr


@pytest.mark.slow
def test_a_failing_check_is_recorded_and_the_others_still_run(tmp_path: Path) -> None:
    """One training step cannot show a falling loss: that check fails, translate still runs, the exit status is 1."""
    result = gpu_check("--device", "cpu", "--tiny", "--only", "paper-fp32", "translate", "--steps", "1",
                       "--work", str(tmp_path / "work"))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    rows = table(result.stdout)
    assert rows["paper-fp32"][0] == "FAIL" and "not falling" in rows["paper-fp32"][4]
    assert rows["translate"][0] == "ok"
    assert "--- the end of paper-fp32's output ---" in result.stdout
    assert "2 of 3 checks passed, 1 failed (paper-fp32)" in result.stdout
    assert result.stdout.rstrip().endswith("gpu_check: FAILED: paper-fp32")


@pytest.fixture(scope="module")
def script() -> Iterator[ModuleType]:
    """scripts/gpu_check.py as a module (registered while it is used, as its dataclasses need)."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPTS / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["gpu_check"]


def test_a_check_past_its_time_limit_is_stopped_and_failed(script: ModuleType, tmp_path: Path) -> None:
    plan = script.make_plan("cpu", True, tmp_path, None)
    row = script.run_check("translate", plan, limit=0.5)
    assert row.check == "translate" and row.result == "FAIL" and row.notes.startswith("timed out after 0 s")
    assert not script.RUNNING


def test_an_exception_is_the_checks_failure(script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(plan: object) -> None:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setitem(script.CHECKS, "export", (broken, 60))
    row = script.run_one("export", script.make_plan("cpu", True, tmp_path, None))
    assert row.check == "export" and row.result == "FAIL"
    assert row.notes == "RuntimeError: CUDA error: an illegal memory access was encountered"
