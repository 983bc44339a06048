"""The fused training step (jointsr/training/fast.py, ``model.compile=true``) computes the same
function: the same seed gives the same loss curve with it on and off, in a real fit."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import compose_config, require_data

from jointsr.cli.train import train
from jointsr.training.fast import CompiledNetwork

TINY = ["debug=fast", "logger=csv", "data=cave", "test=false", "model.net.k=4", "model.net.K=3",
        "trainer.max_steps=4", "trainer.val_check_interval=4", "trainer.log_every_n_steps=1",
        "callbacks.rich_progress_bar=null"]


def _losses(run) -> list[float]:
    with open(run / "csv" / "metrics.csv") as stream:
        return [float(row["train/loss"]) for row in csv.DictReader(stream) if row.get("train/loss")]


@pytest.mark.slow
def test_the_compiled_step_gives_the_eager_loss_curve(tmp_path, caplog):
    require_data("cave")
    train(compose_config("train", TINY + ["model.compile=false"], tmp_path / "eager"))
    with caplog.at_level("WARNING", logger="jointsr"):
        train(compose_config("train", TINY + ["model.compile=true"], tmp_path / "compiled"))
    eager, compiled = _losses(tmp_path / "eager"), _losses(tmp_path / "compiled")
    assert len(eager) == len(compiled) == 4
    fallback = [r.getMessage() for r in caplog.records if "torch.compile is unavailable" in r.getMessage()]
    assert not fallback, f"the compiled path was not taken: {fallback}"
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-7)
    assert eager[0] != eager[-1], "the weights moved: the curve compares training, not one forward"


def test_a_compiler_failure_falls_back_to_eager_once(caplog):
    def no_compiler(graph, example_inputs):  # a backend as Inductor fails without a C++ compiler
        raise RuntimeError("no C++ compiler in this environment")

    class Guided(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 1, 3, padding=1)

        def forward(self, lr, guide):
            return self.conv(torch.cat([lr, guide], dim=1))

    network = CompiledNetwork(Guided(), backend=no_compiler)
    lr, guide = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    with caplog.at_level("WARNING", logger="jointsr"):
        first, second = network(lr, guide), network(lr, guide)
    assert network.failed and "no C++ compiler" in network.failed
    assert torch.equal(first, network.net(lr, guide)) and torch.equal(second, first)
    assert sum("torch.compile is unavailable" in r.getMessage() for r in caplog.records) == 1


def test_jointsr_trains_with_the_fused_step_by_default_and_the_environment_can_turn_it_off(monkeypatch, tmp_path):
    """The measured-faster path is the default for the JointSR models (1.69x the eager step,
    experiments/performance/); JOINTSR_COMPILE=false turns it off (as this suite does), and
    the baselines stay eager."""
    monkeypatch.delenv("JOINTSR_COMPILE", raising=False)
    assert compose_config("train", ["model=jointsr"], tmp_path).model.compile is True
    assert compose_config("train", ["model=jointsr_paper"], tmp_path).model.compile is True
    assert compose_config("train", ["model=coista"], tmp_path).model.compile is False
    monkeypatch.setenv("JOINTSR_COMPILE", "false")
    assert compose_config("train", ["model=jointsr"], tmp_path).model.compile is False
