"""The command line: help on every subcommand, and the demo end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from landmarkgan.cli import COMMANDS, main
from landmarkgan.data.images import load_image
from landmarkgan.errors import LandmarkGANError


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: landmarkgan {command}" in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo_translates_the_bundled_faces_with_the_built_in_model(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "dlib found the face" in printed and "synthetic faces only" in printed
    for stem in ("astronaut", "synthetic_syn0002", "synthetic_syn0026", "synthetic_syn0034"):
        sheet = load_image(tmp_path / f"{stem}_all.png")
        assert sheet.shape[0] > 9 * 128 and sheet.shape[1] > 8 * 128
        records = json.loads((tmp_path / f"{stem}_landmarks.json").read_text())
        assert len(records) == 25 and np.array(records[0]["faces"][0]["landmarks"]).shape == (68, 2)
    assert load_image(tmp_path / "astronaut_detected_landmarks.png").shape == (128, 128, 3)
    strip = load_image(tmp_path / "astronaut_before_after.png")  # the whole 512 x 512 photo, before and 3 afters
    assert strip.shape[1] > 4 * 384 and "before and after" in printed
    assert load_image(tmp_path / "overview.png").shape[0] > 8 * 128  # 4 faces x (translations, landmarks)


def test_device_names_resolve_or_are_named() -> None:
    from landmarkgan.devices import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(LandmarkGANError, match=r"unknown device 'gpu' in --device .*use auto, cpu, cuda or cuda:N"):
        resolve_device("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(LandmarkGANError, match="train.device asks for CUDA .* use train.device=cpu"):
            resolve_device("cuda", option="train.device")
        with pytest.raises(LandmarkGANError, match="--device asks for CUDA .* use --device cpu"):
            resolve_device("cuda:1")
