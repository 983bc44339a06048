"""experiments/paper_tables/gpu.sh, the paper's budget on one GPU, run on the CPU with a tiny
budget: it measures each model's rate, keeps the horizons that fit, trains every model to the
same step, tests each kept horizon and writes the equal-step report."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_data

ROOT = Path(__file__).resolve().parents[1]


def _run(tmp_path: Path, name: str, budget: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "ACCEL": "cpu", "BUDGET_S": str(budget), "PROBE_STEPS": "4", "CANDIDATES": "2 4",
           "MODELS": "djf jointsr_paper_radam_ramp", "EXTRA": "data.max_test_images=1",
           "OUT": str(tmp_path / name / "report"),
           "BIN": str(Path(sys.executable).parent), "JOINTSR_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run(["bash", str(ROOT / "experiments/paper_tables/gpu.sh"), str(tmp_path / name / "logs")],
                          env=env, capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_gpu_script_on_a_cpu_trains_every_model_to_the_horizons_that_fit(tmp_path):
    require_data("cave")
    done = _run(tmp_path, "fits", budget=100_000)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "training every model to 4 steps, tested at [2,4]" in done.stdout
    with open(tmp_path / "fits" / "report" / "runs.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert {(r["model"], r["seed"], r["step"]) for r in rows} == {
        (m, "1", s) for m in ("djf", "jointsr_paper_radam_ramp") for s in ("2", "4")}
    assert all(10 < float(r["psnr"]) < 60 for r in rows)
    assert (tmp_path / "fits" / "report" / "plot.png").stat().st_size > 0

    short = _run(tmp_path, "short", budget=1)
    assert short.returncode != 0
    assert "horizon 2 dropped" in short.stdout and "no horizon fits" in short.stderr
