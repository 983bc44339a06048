"""A training order that a killed run can resume exactly, mid-epoch included.

The order of epoch ``e`` is a pure function of ``(seed, e)`` (:class:`EpochSampler`), never
of a global random state, and :class:`ResumableLoader` knows how many batches of the
current epoch it has handed out. Lightning saves the loader's ``state_dict`` in every
checkpoint (the fit loop's ``combined_loader`` entry) and gives it back through
``load_state_dict`` before the resumed fit draws its first batch; the loader then starts
that epoch's order after the batches already trained on. A resumed run therefore sees the
same batches in the same order as an uninterrupted one, and (with the model, optimiser,
schedule and step restored by Lightning) ends with the same weights, bit for bit on a CPU.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def epoch_seed(seed: int, epoch: int) -> int:
    """A 63-bit seed for the order of ``epoch`` (independent streams per epoch)."""
    return int(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch)]).generate_state(2, np.uint64)[0] >> 1)


class EpochSampler(DistributedSampler):
    """A random permutation of ``count`` indices per epoch, from ``(seed, epoch)`` alone.

    Lightning calls :meth:`set_epoch` at the start of every epoch. :meth:`start_after`
    makes the next pass skip the first samples of its epoch's order (a resumed epoch).
    Under DDP each of ``num_replicas`` ranks takes every ``num_replicas``-th index of the
    same permutation (the tail that does not divide evenly is dropped); being a
    ``DistributedSampler``, Lightning keeps it instead of injecting its own.
    """

    def __init__(self, count: int, seed: int, num_replicas: int = 1, rank: int = 0) -> None:
        super().__init__(range(int(count)), num_replicas=num_replicas, rank=rank, shuffle=True, seed=int(seed),
                         drop_last=True)
        self.count = int(count)
        self._skip = 0

    def start_after(self, samples: int) -> None:
        self._skip = int(samples)

    def order(self, epoch: int) -> list[int]:
        """Every index, in the order of ``epoch`` (all ranks together)."""
        generator = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        return torch.randperm(self.count, generator=generator).tolist()

    def __len__(self) -> int:
        return self.num_samples  # the whole epoch's share, also when resumed: Lightning counts from the start

    def __iter__(self) -> Iterator[int]:
        skip, self._skip = self._skip, 0
        mine = self.order(self.epoch)[: self.total_size][self.rank::self.num_replicas]
        return iter(mine[skip:])


class ResumableLoader(DataLoader):
    """The training DataLoader: batches in :class:`EpochSampler` order, last partial batch
    dropped, with the position in the epoch as its state (``state_dict`` / ``load_state_dict``,
    the interface Lightning saves and restores)."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, num_workers: int = 0) -> None:
        replicas, rank = 1, 0
        if torch.distributed.is_available() and torch.distributed.is_initialized():  # one share per rank
            replicas, rank = torch.distributed.get_world_size(), torch.distributed.get_rank()
        # a generator of its own: starting an iteration draws the workers' base seed from it, not
        # from the global generator that a network may draw from while it trains (resumed runs
        # start their iterations at other points of that stream than the uninterrupted run)
        super().__init__(dataset, batch_size=batch_size, sampler=EpochSampler(len(dataset), seed, replicas, rank),
                         drop_last=True, num_workers=num_workers, persistent_workers=num_workers > 0,
                         generator=torch.Generator().manual_seed(int(seed)))
        self.seed = int(seed)
        #: batches of the current epoch handed out so far
        self.batches_done = 0
        self._resume: dict[str, int] | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.sampler.epoch, "batches_done": self.batches_done, "seed": self.seed,
                "samples": len(self.sampler), "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        same = (state.get("seed"), state.get("samples"), state.get("batch_size")) == \
            (self.seed, len(self.sampler), self.batch_size)
        # another seed, patch set or batch size: a different order, so nothing to skip
        self._resume = {"epoch": int(state["epoch"]), "batches_done": int(state["batches_done"])} if same else None

    def __iter__(self) -> Iterator:
        # A generator: this body runs at the first batch, after Lightning's set_epoch().
        resume, self._resume = self._resume, None
        self.batches_done = 0
        if resume is not None and resume["epoch"] == self.sampler.epoch:
            self.batches_done = resume["batches_done"]
            self.sampler.start_after(self.batches_done * self.batch_size)
        for batch in super().__iter__():
            self.batches_done += 1
            yield batch
