"""The default recipe's guarantees (issue 7): seeded curves repeat, thresholds stay
non-negative, a non-finite loss stops training with a clear error."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import compose_config, require_data
from torch import nn

from jointsr.cli.train import train
from jointsr.models.blocks import Threshold
from jointsr.models.network import SRNetwork
from jointsr.training.build import load_checkpoint_model
from jointsr.training.module import SRModule, warmup_cosine

FAST = ["debug=fast", "logger=csv", "trainer.max_steps=6", "trainer.val_check_interval=3", "test=false",
        "data=cave", "model.optimizer.lr=5e-2"]  # a large lr: thresholds get pushed hard


def _losses(run: Path) -> list[float]:
    with open(run / "csv" / "metrics.csv") as stream:
        return [float(row["train/loss"]) for row in csv.DictReader(stream) if row.get("train/loss")]


@pytest.mark.slow
def test_same_seed_same_curve_and_thresholds_stay_non_negative(tmp_path):
    require_data("cave")
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        cfg = compose_config("train", FAST + [f"seed={seed}"], tmp_path / name)
        train(cfg)
        runs[name] = _losses(tmp_path / name)
    assert len(runs["a"]) == 6 and all(torch.isfinite(torch.tensor(runs["a"])))
    assert runs["a"] == runs["b"], "the same seed must give the same training curve"
    assert runs["a"] != runs["c"], "another seed draws other patches"
    model = load_checkpoint_model(tmp_path / "a" / "checkpoints" / "last.ckpt", None)
    thresholds = [m() for m in model.net.modules() if isinstance(m, Threshold)]
    assert thresholds and min(t.min().item() for t in thresholds) >= 0.0
    with open(tmp_path / "a" / "csv" / "metrics.csv") as stream:
        logged = [float(r["val/threshold/min"]) for r in csv.DictReader(stream) if r.get("val/threshold/min")]
    assert logged and min(logged) >= 0.0


def test_threshold_is_non_negative_for_any_raw_value():
    threshold = Threshold(4, init=0.05)
    with torch.no_grad():
        threshold.raw.copy_(torch.tensor([-1e4, -30.0, 0.0, 30.0]).view(1, 4, 1, 1))
    assert (threshold() >= 0).all()


class _Broken(SRNetwork):
    scale, guide_channels = 2, 1

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, lr, guide):
        return guide * self.weight * float("nan")


def test_a_non_finite_loss_stops_training_with_advice():
    module = SRModule(_Broken(), name="broken")
    batch = {"lr": torch.rand(2, 1, 4, 4), "guide": torch.rand(2, 1, 8, 8), "hr": torch.rand(2, 1, 8, 8)}
    with pytest.raises(FloatingPointError, match="broken.*nan.*gradient_clip_val"):
        module.training_step(batch, 0)


def _factors(scheduler_steps: int, **kwargs) -> list[float]:
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=1.0)
    scheduler = warmup_cosine(optimizer, **kwargs)
    factors = []
    for _ in range(scheduler_steps):
        factors.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return factors


def test_warmup_then_cosine_over_a_step_budget():
    f = _factors(12, warmup_steps=2, total_steps=10, final_factor=0.01)
    assert f[:2] == pytest.approx([0.5, 1.0])
    assert f[2] == pytest.approx(1.0) and f[6] == pytest.approx(0.505)  # half way: the mean
    assert f[10] == pytest.approx(0.01) and f[11] == pytest.approx(0.01)  # floor after the budget
    assert all(a >= b for a, b in zip(f[2:], f[3:]))
    assert _factors(5, warmup_steps=1) == [1.0] * 5  # no budget: constant after warm-up


def test_a_time_budget_drives_the_decay_and_the_nearer_end_wins():
    clock = {"spent": 0.0}
    f = _factors(3, warmup_steps=0, time_progress=lambda: clock["spent"])
    assert f == pytest.approx([1.0, 1.0, 1.0])
    clock["spent"] = 0.5
    assert _factors(2, time_progress=lambda: clock["spent"])[1] == pytest.approx(0.505)
    clock["spent"] = 1.0
    assert _factors(2, time_progress=lambda: clock["spent"])[1] == pytest.approx(0.01)
    # a step budget nearly spent beats a fresh clock, and the other way round
    clock["spent"] = 0.0
    assert _factors(10, total_steps=10, time_progress=lambda: clock["spent"])[9] < 0.05
    clock["spent"] = 1.0
    assert _factors(2, total_steps=1000, time_progress=lambda: clock["spent"])[1] == pytest.approx(0.01)


class _FakeClock:
    """``time.monotonic`` for Lightning's Timer, advanced one second per training batch by
    :class:`TickPerBatch`, so a time budget is spent in the same steps on any machine."""

    now = 1000.0

    @classmethod
    def monotonic(cls) -> float:
        return cls.now


class TickPerBatch(L.Callback):
    def on_train_batch_end(self, *args, **kwargs) -> None:
        _FakeClock.now += 1.0


@pytest.mark.slow
def test_a_time_bounded_fit_decays_the_rate_on_the_clock(tmp_path, monkeypatch):
    """max_time without max_steps: the schedule follows Lightning's Timer, not max_epochs x
    batches. An injected clock (1 s per batch, 8 s budget) makes it independent of speed."""
    import lightning.pytorch.callbacks.timer as timer_module

    require_data("cave")
    monkeypatch.setattr(timer_module, "time", _FakeClock)
    cfg = compose_config("train", ["debug=fast", "logger=csv", "data=cave", "test=false", "trainer.max_steps=-1",
                                   "trainer.max_epochs=1000", "trainer.max_time=00:00:00:08",
                                   "model.scheduler.warmup_steps=1", "trainer.val_check_interval=1000",
                                   "trainer.log_every_n_steps=1",
                                   "+callbacks.tick._target_=test_recipe.TickPerBatch"], tmp_path)
    train(cfg)
    with open(tmp_path / "csv" / "metrics.csv") as stream:
        rates = [float(r["lr-Adam"]) for r in csv.DictReader(stream) if r.get("lr-Adam")]
    peak = cfg.model.optimizer.lr
    assert len(rates) == 8, rates  # 8 one-second batches in the 8 s budget
    # after the 1-step warm-up, a cosine over the clock: the rate logged at step n >= 1 is the
    # schedule at (n - 1)/8 of the budget (the clock ticks at the end of each batch)
    expected = [0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * n / 8)) for n in range(0, 7)]
    assert rates[1:] == pytest.approx([peak * f for f in expected], rel=0.05), rates
