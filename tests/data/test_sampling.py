"""The training order: a function of (seed, epoch), resumable at any batch."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from jointsr.data.sampling import EpochSampler, ResumableLoader

DATA = TensorDataset(torch.arange(40))


def _epoch(loader: ResumableLoader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [batch[0].tolist() for batch in loader]


def test_the_order_depends_on_seed_and_epoch_only():
    first, again = EpochSampler(40, seed=3), EpochSampler(40, seed=3)
    torch.manual_seed(0)
    order = first.order(2)
    torch.manual_seed(1)  # the global generator plays no part
    assert again.order(2) == order and sorted(order) == list(range(40))
    assert first.order(3) != order and EpochSampler(40, seed=4).order(2) != order


def test_a_loader_resumed_mid_epoch_hands_out_exactly_the_remaining_batches():
    whole = _epoch(ResumableLoader(DATA, batch_size=6, seed=7), 1)
    assert len(whole) == 6 and all(len(batch) == 6 for batch in whole)  # 40 // 6: the last 4 dropped
    interrupted = ResumableLoader(DATA, batch_size=6, seed=7)
    interrupted.sampler.set_epoch(1)
    iterator = iter(interrupted)
    seen = [next(iterator)[0].tolist() for _ in range(4)]
    state = interrupted.state_dict()
    assert state["epoch"] == 1 and state["batches_done"] == 4 and seen == whole[:4]

    resumed = ResumableLoader(DATA, batch_size=6, seed=7)
    resumed.load_state_dict(state)
    assert _epoch(resumed, 1) == whole[4:]
    assert _epoch(resumed, 2) == _epoch(ResumableLoader(DATA, batch_size=6, seed=7), 2)  # then whole epochs


def test_a_position_of_another_epoch_or_configuration_skips_nothing():
    reference = _epoch(ResumableLoader(DATA, batch_size=6, seed=7), 2)
    loader = ResumableLoader(DATA, batch_size=6, seed=7)
    loader.load_state_dict({"epoch": 1, "batches_done": 3, "seed": 7, "samples": 40, "batch_size": 6})
    assert _epoch(loader, 2) == reference  # the saved epoch had ended
    other = ResumableLoader(DATA, batch_size=6, seed=7)
    other.load_state_dict({"epoch": 2, "batches_done": 3, "seed": 8, "samples": 40, "batch_size": 6})
    assert _epoch(other, 2) == reference  # another seed: another order, nothing to skip
    assert len(loader) == 6  # the length is the whole epoch's, resumed or not


def test_ranks_share_one_permutation_without_overlap():
    shares = [EpochSampler(41, seed=5, num_replicas=3, rank=rank) for rank in range(3)]
    for share in shares:
        share.set_epoch(4)
    taken = [list(share) for share in shares]
    assert all(len(part) == len(shares[0]) == 13 for part in taken)  # 41 // 3, the tail of 2 dropped
    assert sorted(sum(taken, [])) == sorted(shares[0].order(4)[:39])
