"""The command line: help on every subcommand, and the demo end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from landmarkgan.cli import COMMANDS, main
from landmarkgan.data.images import load_image


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: landmarkgan {command}" in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_demo_writes_sheets_and_landmarks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--out", str(tmp_path), "--size", "64"]) == 0
    assert "dlib found one face" in capsys.readouterr().out
    assert load_image(tmp_path / "synthetic_expressions.png").shape == (3 * 64, 7 * 64, 3)
    assert load_image(tmp_path / "photo_landmarks.png").shape == (64, 3 * 64, 3)
    record = json.loads((tmp_path / "photo_landmarks.json").read_text())
    aligned = np.array(record["landmarks_aligned"])
    assert aligned.shape == (68, 2) and ((aligned > 0) & (aligned < 64)).all()
