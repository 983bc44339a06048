"""Exact resume: a training process killed with SIGKILL at a random step (mid-epoch included)
and run again with the same command ends with the same test metrics, to the last digit, as a
run that was never interrupted (CPU, a step budget)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA_DIR, require_data

from jointsr.runs.folder import RunDir
from jointsr.training.loggers import RunLogger

TESTS = Path(__file__).resolve().parent
MAX_STEPS, VALIDATE_EVERY, BATCHES_PER_EPOCH = 60, 10, 16  # 64 patches / batch 4: epochs end mid-interval
COMMAND = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", f"trainer.max_steps={MAX_STEPS}",
           "trainer.max_epochs=100", f"trainer.val_check_interval={VALIDATE_EVERY}", "data.max_train_patches=64",
           "data.batch_size=4", "data.max_test_images=2", "data.test_crop=96", "data.progress=false",
           "callbacks.rich_progress_bar=null"]


def _train(run_dir: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOINTSR_DATA_DIR": str(DATA_DIR), "JOINTSR_CACHE_DIR": str(cache),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "jointsr.cli.train", *COMMAND, f"hydra.run.dir={run_dir}", *extra],
                          capture_output=True, text=True, env=env, timeout=300)


def _logged(run_dir: Path, key: str) -> list[tuple[int, str]]:
    """``(step, value)`` of every row of the run's metrics.csv that logged ``key``, in file order
    (a step logged twice shows twice)."""
    with open(RunDir(run_dir).metrics_csv, newline="") as stream:
        return [(int(row["step"]), row[key]) for row in csv.DictReader(stream) if row.get(key)]


@pytest.mark.slow
def test_a_run_killed_at_a_random_step_resumes_exactly(tmp_path):
    require_data("rgbnir")
    # any step after the first checkpoint (step 10); JOINTSR_KILL_STEP=n repeats a failure
    kill_step = int(os.environ.get("JOINTSR_KILL_STEP") or random.randrange(VALIDATE_EVERY + 1, MAX_STEPS))
    cache = tmp_path / "cache"
    reference = _train(tmp_path / "uninterrupted", cache)
    assert reference.returncode == 0, reference.stderr[-3000:]

    run_dir = tmp_path / "killed"
    killed = _train(run_dir, cache, "+callbacks.kill._target_=kill_helpers.KillAt", f"+callbacks.kill.step={kill_step}")
    assert killed.returncode == -signal.SIGKILL, (kill_step, killed.returncode, killed.stderr[-3000:])
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and not (run_dir / "test_metrics.json").exists()

    resumed = _train(run_dir, cache)  # the same command again
    assert resumed.returncode == 0, (kill_step, resumed.stderr[-3000:])
    assert "resuming an unfinished run from" in resumed.stdout + resumed.stderr
    assert "not resumable" not in resumed.stdout + resumed.stderr  # Lightning's mid-epoch warning

    expected = json.loads((tmp_path / "uninterrupted" / "test_metrics.json").read_text())
    got = json.loads((run_dir / "test_metrics.json").read_text())
    for document in (expected, got):  # the wall-clock minutes of training differ; nothing else may
        document.get("training", {}).pop("minutes", None)
    print(f"\nkilled at step {kill_step} (epoch {kill_step // BATCHES_PER_EPOCH}, batch "
          f"{kill_step % BATCHES_PER_EPOCH}): test PSNR {got['mean']['psnr']!r} resumed, "
          f"{expected['mean']['psnr']!r} uninterrupted")
    assert got == expected, f"killed at step {kill_step} (JOINTSR_KILL_STEP={kill_step} repeats it)"
    # one curve, as if never killed: the killed run's rows before its last checkpoint kept (the
    # CSV logger's job), the resumed run's after them, no step twice, validations included
    for key in ("train/loss", "val/psnr", "val/ssim"):
        assert _logged(run_dir, key) == _logged(tmp_path / "uninterrupted", key), f"kill step {kill_step}: {key} differs"
    assert not (RunDir(run_dir).csv / RunLogger.HELD).exists()
