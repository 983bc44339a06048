"""The LightningModule: the network's data-driven start happens once, on the first training
batch, and what it reports is logged at every validation."""

from __future__ import annotations

import csv

import torch

from conftest import compose_config, require_data
from jointsr.train import train
from jointsr.utils.run import load_checkpoint_model

TINY = ["debug=fast", "logger=csv", "data=cave", "trainer.val_check_interval=2", "test=false",
        "model.net.k=12", "callbacks.rich_progress_bar=null"]


def _validation_rows(run) -> list[dict]:
    with open(run / "csv" / "metrics.csv") as stream:
        return [row for row in csv.DictReader(stream) if row.get("val/psnr")]


def test_first_batch_calibrates_and_the_first_validation_logs_live_sparse_codes(tmp_path, caplog):
    require_data("cave")
    cfg = compose_config("train", TINY + ["trainer.max_steps=2"], tmp_path / "run")
    with caplog.at_level("INFO", logger="jointsr"):
        train(cfg)
    calibrations = [r.getMessage() for r in caplog.records if "calibrated on" in r.getMessage()]
    assert len(calibrations) == 1
    assert "calibrated on 64 training patches" in calibrations[0], "all 64 of debug=fast, not one batch of 4"
    first = _validation_rows(tmp_path / "run")[0]
    densities = {k: float(v) for k, v in first.items() if k.startswith("val/density/") and v}
    assert set(densities) == {f"val/density/{s}" for s in ("u0", "u1", "u2", "v0", "v1", "v2", "h1", "h2", "h3", "g1", "g2")}
    assert all(0.05 <= v <= 0.60 for v in densities.values()), densities
    model = load_checkpoint_model(tmp_path / "run" / "checkpoints" / "last.ckpt", None)
    assert bool(model.net.calibrated), "the checkpoint must remember the calibration"


def test_a_resumed_run_is_never_calibrated_again(tmp_path, caplog):
    """Continuing from a checkpoint keeps its thresholds and dictionary: calibrating them
    again would undo training."""
    require_data("cave")
    train(compose_config("train", TINY + ["trainer.max_steps=2"], tmp_path / "a"))
    last = tmp_path / "a" / "checkpoints" / "last.ckpt"
    before = load_checkpoint_model(last, None).net.target_encoder.thresholds[0]().detach().clone()
    caplog.clear()  # the first run's records
    with caplog.at_level("INFO", logger="jointsr"):
        train(compose_config("train", TINY + ["trainer.max_steps=3", f"ckpt_path={last}"], tmp_path / "b"))
    assert any("seed" in r.message for r in caplog.records), "the resumed run's log is captured"
    assert not any("calibrated on" in r.message for r in caplog.records)
    after = load_checkpoint_model(tmp_path / "b" / "checkpoints" / "last.ckpt", None)
    change = (after.net.target_encoder.thresholds[0]() - before).abs().max().item()
    assert change < 0.1 * before.abs().max().item(), "one optimiser step, not a new calibration"


def test_last_checkpoint_is_the_final_state_whatever_the_metric_did(tmp_path):
    """``last.ckpt`` is what a killed run resumes from and what the paper protocol tests:
    it must hold the last step even when the last validation was not a new best. Of the two
    modes (max and min PSNR) at least one has its best before the last step, so the test
    always covers a run that ends without a new best."""
    require_data("cave")
    best_steps = []
    for mode in ("max", "min"):
        cfg = compose_config("train", TINY + ["trainer.max_steps=6", f"callbacks.model_checkpoint.mode={mode}"],
                             tmp_path / mode)
        train(cfg)
        checkpoints = tmp_path / mode / "checkpoints"
        assert torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)["global_step"] == 6
        assert not list(checkpoints.glob(".*partial")), "no temporary file is left behind"
        (best,) = checkpoints.glob("step*.ckpt")
        best_steps.append(torch.load(best, map_location="cpu", weights_only=True)["global_step"])
    assert min(best_steps) < 6, best_steps
