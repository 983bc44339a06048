"""Exact resume: a training process killed with SIGKILL at a random point (mid-epoch, during a
validation, halfway through writing ``last.ckpt``) and run again with the same command ends
with the same test metrics, to the last digit, as a run that was never interrupted (CPU, a
step budget), on the eager fp32, bf16 mixed-precision and compiled paths; it repeats at most
``callbacks.last_checkpoint.every_n_steps`` steps."""

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

from jointsr.runs.checkpoint import load_checkpoint
from jointsr.runs.folder import RunDir
from jointsr.training.loggers import RunLogger

TESTS = Path(__file__).resolve().parent
MAX_STEPS, VALIDATE_EVERY = 60, 10  # 64 patches / batch 4 = 16 batches an epoch: epochs end mid-interval
EVERY_N_STEPS = 7  # last.ckpt's step cadence: between validations, off their grid
COMMAND = ["logger=csv", "debug=fast", f"trainer.max_steps={MAX_STEPS}",
           "trainer.max_epochs=100", f"trainer.val_check_interval={VALIDATE_EVERY}", "data.max_train_patches=64",
           "data.batch_size=4", "data.max_test_images=2", "data.test_crop=96", "data.progress=false",
           "callbacks.rich_progress_bar=null", f"callbacks.last_checkpoint.every_n_steps={EVERY_N_STEPS}"]
SMALL = ["model.net.k=8", "model.net.K=3"]  # JointSR
# CoISTA draws its grid phase from the global generator at every step: resumed exactly only if
# the checkpoint carries the generators' state and no data loader draws from them
PATHS = {"fp32": SMALL, "bf16": [*SMALL, "trainer.precision=bf16-mixed"], "compiled": [*SMALL, "model.compile=true"],
         "coista": ["model=coista", "model.net.atoms=64"]}
KILLS = {  # where the process dies: the helper, and the steps it may be told (after the first last.ckpt)
    "step": ("KillAt", range(EVERY_N_STEPS + 1, MAX_STEPS)),
    "validation": ("KillInValidation", range(VALIDATE_EVERY, MAX_STEPS, VALIDATE_EVERY)),
    "checkpoint write": ("KillInCheckpointWrite", range(EVERY_N_STEPS + 1, MAX_STEPS - EVERY_N_STEPS)),
}
CASES = [("fp32", "step"), ("fp32", "validation"), ("fp32", "checkpoint write"), ("bf16", "step"),
         ("compiled", "step"), ("coista", "step")]


def _train(run_dir: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JOINTSR_DATA_DIR": str(DATA_DIR), "JOINTSR_CACHE_DIR": str(cache),
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "jointsr.cli.train", *COMMAND, f"hydra.run.dir={run_dir}", *extra],
                          capture_output=True, text=True, env=env, timeout=600)


def _logged(run_dir: Path, key: str) -> list[tuple[int, str]]:
    """``(step, value)`` of every row of the run's metrics.csv that logged ``key``, in file order
    (a step logged twice shows twice)."""
    with open(RunDir(run_dir).metrics_csv, newline="") as stream:
        return [(int(row["step"]), row[key]) for row in csv.DictReader(stream) if row.get(key)]


def _results(run_dir: Path) -> dict:
    """``test_metrics.json`` without the wall-clock minutes of training (they differ; nothing else may)."""
    document = json.loads((run_dir / "test_metrics.json").read_text())
    document.get("training", {}).pop("minutes", None)
    return document


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run of each path that nobody killed, trained once for the module."""
    root, runs = tmp_path_factory.mktemp("uninterrupted"), {}

    def run(path: str) -> Path:
        if path not in runs:
            runs[path] = root / path
            reference = _train(runs[path], root / "cache", *PATHS[path])
            assert reference.returncode == 0, reference.stderr[-3000:]
        return runs[path]

    return run


@pytest.mark.slow
@pytest.mark.parametrize(("path", "kill"), CASES, ids=[f"{path}-{kill.replace(' ', '-')}" for path, kill in CASES])
def test_a_killed_run_resumes_exactly(path, kill, uninterrupted, tmp_path):
    require_data("rgbnir")
    helper, steps = KILLS[kill]
    # JOINTSR_KILL_STEP=n repeats a failure
    kill_step = int(os.environ.get("JOINTSR_KILL_STEP") or random.choice(steps))
    where = f"{path}, killed {kill} at step {kill_step} (JOINTSR_KILL_STEP={kill_step} repeats it)"
    reference = uninterrupted(path)
    cache = reference.parent / "cache"

    run_dir = tmp_path / "killed"
    killed = _train(run_dir, cache, *PATHS[path], f"+callbacks.kill._target_=kill_helpers.{helper}",
                    f"+callbacks.kill.step={kill_step}")
    assert killed.returncode == -signal.SIGKILL, (where, killed.returncode, killed.stderr[-3000:])
    last = RunDir(run_dir).last_checkpoint
    assert last.is_file() and not (run_dir / "test_metrics.json").exists(), where
    cut = list(last.parent.glob(f".{last.name}.*"))
    assert bool(cut) == (kill == "checkpoint write"), (where, cut)  # the half-written file beside the whole one
    saved_step = int(load_checkpoint(last)["global_step"])  # loads: a cut write never replaced it
    assert 0 <= kill_step - saved_step <= EVERY_N_STEPS, (where, saved_step)  # the steps it will repeat

    resumed = _train(run_dir, cache, *PATHS[path])  # the same command again
    assert resumed.returncode == 0, (where, resumed.stderr[-3000:])
    assert "resuming an unfinished run from" in resumed.stdout + resumed.stderr
    assert "not resumable" not in resumed.stdout + resumed.stderr  # Lightning's mid-epoch warning
    assert not list(last.parent.glob(f".{last.name}.*")), where  # the cut write removed at the start

    expected, got = _results(reference), _results(run_dir)
    print(f"\n{where}: resumed from step {saved_step}; test PSNR {got['mean']['psnr']!r} resumed, "
          f"{expected['mean']['psnr']!r} uninterrupted")
    assert got == expected, where
    # one curve, as if never killed: the killed run's rows before its last checkpoint kept (the
    # CSV logger's job), the resumed run's after them, no step twice, validations included
    for key in ("train/loss", "val/psnr", "val/ssim"):
        assert _logged(run_dir, key) == _logged(reference, key), f"{where}: {key} differs"
    assert not (RunDir(run_dir).csv / RunLogger.HELD).exists()


@pytest.mark.slow
def test_a_finished_run_carried_further_equals_one_longer_run(tmp_path):
    """``ckpt_path=<a finished run's last.ckpt> trainer.max_steps=<more>`` in a new folder trains
    on from where that run ended, as if it had been given the longer budget from the start (a
    constant rate: a schedule over max_steps would differ); CoISTA, which draws at every step."""
    require_data("rgbnir")
    short = 30  # steps of the first run; the longer one runs MAX_STEPS
    constant = [*PATHS["coista"], "model.scheduler=null", "test_checkpoint=last"]
    longer, first, carried = tmp_path / "longer", tmp_path / "first", tmp_path / "carried"
    for run_dir, extra in ((longer, []), (first, [f"trainer.max_steps={short}"]),
                           (carried, [f"ckpt_path={RunDir(first).last_checkpoint}"])):
        done = _train(run_dir, tmp_path / "cache", *constant, *extra)
        assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(RunDir(first).last_checkpoint)["global_step"] == short
    assert _results(carried) == _results(longer)
    assert _logged(carried, "train/loss") == [row for row in _logged(longer, "train/loss") if row[0] >= short]
