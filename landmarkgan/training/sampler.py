"""Seeded, resumable data order: epoch e visits a permutation drawn from (seed, e), sharded by rank.

Because the order of an epoch depends only on the seed and the epoch number, a resumed run can
skip exactly the batches it already trained on and see the same data as an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Indices of one epoch for one rank, starting after ``start_batch`` batches."""

    def __init__(self, num_samples: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0
        self.start_batch = 0

    def batches_per_epoch(self) -> int:
        per_rank = -(-self.num_samples // self.world_size)
        return per_rank // self.batch_size

    def set_position(self, epoch: int, start_batch: int) -> None:
        self.epoch = epoch
        self.start_batch = start_batch

    def _rank_indices(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.num_samples, generator=g).tolist()
        per_rank = -(-self.num_samples // self.world_size)
        order += order[: per_rank * self.world_size - len(order)]  # pad so every rank has as many
        mine = order[self.rank :: self.world_size]
        return mine[: self.batches_per_epoch() * self.batch_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self._rank_indices()[self.start_batch * self.batch_size :])

    def __len__(self) -> int:
        return (self.batches_per_epoch() - self.start_batch) * self.batch_size
