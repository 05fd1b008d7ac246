"""train.init: a run that starts from another model's weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from landmarkgan.errors import LandmarkGANError
from landmarkgan.models.weights import save_weights
from landmarkgan.training.init import init_from


def net(inputs: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, 8, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(8, outputs, 4, 2, 1))


def test_a_wider_first_convolution_computes_what_the_old_one_did(tmp_path):
    torch.manual_seed(0)
    old = net(3, 4)
    path = save_weights(old.state_dict(), tmp_path / "model.safetensors")
    new = net(5, 4)
    report = init_from(new, tmp_path)
    assert report == {"copied": ["0.bias", "2.weight", "2.bias"], "widened": ["0.weight"], "fresh": []}
    x = torch.randn(2, 3, 8, 8)
    extra = torch.randn(2, 2, 8, 8)  # whatever the new inputs hold, they start with no effect
    torch.testing.assert_close(new(torch.cat([x, extra], dim=1)), old(x))
    assert path.is_file()


def test_another_output_starts_fresh(tmp_path):
    """A transposed convolution's dim 1 is its outputs: 4 outputs are not 9 outputs' first four, so nothing is copied."""
    torch.manual_seed(0)
    save_weights(net(3, 4).state_dict(), tmp_path / "model.safetensors")
    new = net(3, 9)
    before = {k: v.clone() for k, v in new.state_dict().items()}
    report = init_from(new, tmp_path)
    assert report["fresh"] == ["2.weight", "2.bias"] and not report["widened"]
    torch.testing.assert_close(new.state_dict()["2.weight"], before["2.weight"])


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(LandmarkGANError, match="no weights file"):
        init_from(net(3, 4), tmp_path / "nowhere")
