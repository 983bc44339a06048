"""RunLogger: a resumed run's CSV keeps the killed run's rows before the resumed step, and
nothing else of an earlier run; the rows are never only in memory. (The exact-resume test,
tests/test_resume.py, compares a killed and resumed run's curves with an uninterrupted one.)"""

from __future__ import annotations

import csv

import pytest
from conftest import compose_config, require_data

from jointsr.cli.train import train
from jointsr.runs.folder import RunDir
from jointsr.training.loggers import RunLogger


def _rows(run: RunDir) -> list[dict]:
    with run.metrics_csv.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _killed_run(run: RunDir, steps: range) -> None:
    """metrics.csv as a run that logged ``train/loss`` at ``steps`` and was killed leaves it."""
    logger = RunLogger(run.root)
    for step in steps:
        logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    logger.save()


def test_rows_before_the_resumed_step_stay_and_the_new_ones_follow(tmp_path):
    run = RunDir(tmp_path)
    _killed_run(run, range(10))
    resumed = RunLogger(run.root)
    resumed.log_hyperparams({"cfg": {"seed": 1}})  # as jointsr-train does before the fit
    assert not run.metrics_csv.exists() and (run.csv / RunLogger.HELD).is_file(), "set aside, on disk"
    resumed.keep_rows_before(6)  # what on_load_checkpoint does with the checkpoint's global_step
    resumed.log_metrics({"train/loss": 0.5, "val/psnr": 30.0}, step=6)
    resumed.finalize("success")
    rows = _rows(run)
    assert [int(row["step"]) for row in rows] == [0, 1, 2, 3, 4, 5, 6]
    assert [row["train/loss"] for row in rows[:6]] == [str(1.0 / (step + 1)) for step in range(6)]
    assert rows[6]["val/psnr"] == "30.0" and rows[0]["val/psnr"] == ""  # the union of the columns
    assert not (run.csv / RunLogger.HELD).exists()


def test_a_run_killed_again_before_it_resumed_loses_no_row(tmp_path):
    run = RunDir(tmp_path)
    _killed_run(run, range(8))
    RunLogger(run.root).experiment  # set aside, then killed (no finalize)
    again = RunLogger(run.root)
    again.log_hyperparams({})
    again.keep_rows_before(8)
    again.finalize("success")
    assert [int(row["step"]) for row in _rows(run)] == list(range(8))


def test_a_fit_that_fails_before_it_starts_puts_the_rows_back(tmp_path):
    run = RunDir(tmp_path)
    _killed_run(run, range(5))
    failed = RunLogger(run.root)
    failed.log_hyperparams({})
    failed.finalize("failed")
    assert [int(row["step"]) for row in _rows(run)] == list(range(5))
    assert not (run.csv / RunLogger.HELD).exists()


def test_a_test_alone_starts_a_new_file(tmp_path):
    run = RunDir(tmp_path)
    _killed_run(run, range(5))
    tested = RunLogger(run.root)
    tested.log_metrics({"test/psnr": 31.0}, step=0)
    tested.finalize("success")
    assert [row["test/psnr"] for row in _rows(run)] == ["31.0"]
    assert not (run.csv / RunLogger.HELD).exists()


@pytest.mark.slow
def test_a_fresh_fit_in_a_used_folder_does_not_keep_the_earlier_rows(tmp_path):
    """skip_done=false runs the same configuration again from scratch: one curve, not two."""
    require_data("rgbnir")
    run = RunDir(tmp_path)
    overrides = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "trainer.max_steps=4",
                 "trainer.val_check_interval=2", "test=false", "trainer.log_every_n_steps=1"]
    train(compose_config("train", overrides, run.root))
    first = [(row["step"], row["train/loss"]) for row in _rows(run) if row.get("train/loss")]
    assert [int(step) for step, _ in first] == [0, 1, 2, 3]
    train(compose_config("train", overrides + ["skip_done=false"], run.root))
    assert [(row["step"], row["train/loss"]) for row in _rows(run) if row.get("train/loss")] == first
