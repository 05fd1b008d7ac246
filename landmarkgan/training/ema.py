"""An exponential moving average (EMA) of the generators' weights, the copy a finished run is used with.

After every iteration each floating-point weight and buffer w of Gl and Ge moves its average a towards it,
``a <- d a + (1 - d) w`` with ``d = min(decay, (1 + t) / (10 + t))`` at update t (the short ramp keeps the
random initial weights from lingering), and integer buffers are copied. GAN generators' weights wander
from step to step as their discriminators push them; the average sits in the middle of that walk, which
smooths away much of the blotchy texture of single iterates (ProGAN, StyleGAN and BigGAN all sample from
such an average). The discriminators keep training against the raw weights; the average only watches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

EMA_NETWORKS = ("gl", "ge")  # what translation uses; the discriminators are not averaged
UPDATES_KEY = "ema.updates"  # the update count, stored beside the averaged weights


class WeightAverage:
    """The EMA of the ``networks`` of ``model`` (state-dict keys as in the model: ``gl.…``, ``ge.…``)."""

    def __init__(self, model: nn.Module, decay: float, networks: tuple[str, ...] = EMA_NETWORKS) -> None:
        self.decay = decay
        self.updates = 0
        state = model.state_dict(keep_vars=True)
        names = [k for k in state if k.split(".", 1)[0] in networks]  # the baselines have no Gl, hence no "gl." keys
        self.live = {k: state[k] for k in names}  # the model's own tensors (parameters and buffers)
        self.average = {k: v.detach().clone() for k, v in self.live.items()}
        self._float = [k for k in names if self.live[k].is_floating_point()]
        self._other = [k for k in names if not self.live[k].is_floating_point()]

    @torch.no_grad()
    def update(self) -> None:
        """Move the average one step towards the current weights."""
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        torch._foreach_lerp_([self.average[k] for k in self._float], [self.live[k].detach() for k in self._float], 1 - d)
        for k in self._other:
            self.average[k].copy_(self.live[k])

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights (model state-dict keys) and the update count, for checkpoints."""
        return {**self.average, UPDATES_KEY: torch.tensor(self.updates)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.updates = int(state[UPDATES_KEY])
        with torch.no_grad():
            for k, v in self.average.items():
                v.copy_(state[k])

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Run the model with the averaged weights inside the block (its own weights come back after)."""
        saved = {k: v.detach().clone() for k, v in self.live.items()}
        with torch.no_grad():
            for k, v in self.live.items():
                v.copy_(self.average[k])
        try:
            yield
        finally:
            with torch.no_grad():
                for k, v in self.live.items():
                    v.copy_(saved[k])


def averaged_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model weights of an EMA checkpoint file (without the update count)."""
    return {k: v for k, v in state.items() if k != UPDATES_KEY}
