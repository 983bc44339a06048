"""A plain (non-editable) install works from any directory: the wheel carries the Hydra
configs (setup.py ships conf/ as jointsr.conf) and the pretrained weights, and a command run
outside the repository finds them and tests bicubic as the protocol does."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_data

REPO = Path(__file__).resolve().parent.parent


def bicubic_reference(image: str) -> float:
    """The bicubic PSNR of ``image`` at CAVE x4, from the bicubic study's committed table."""
    with open(REPO / "experiments" / "bicubic" / "bicubic.csv", newline="") as table:
        rows = [row for row in csv.DictReader(table) if (row["data"], row["scale"], row["image"]) == ("cave", "4", image)]
    (row,) = rows
    return round(float(row["psnr"]), 2)


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_finds_its_configs_and_evaluates(tmp_path):
    require_data("cave")
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    work.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
                   check=True, cwd=tmp_path, capture_output=True)
    wheel = next(wheels.glob("jointsr-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True)
    assert (target / "jointsr" / "conf" / "train.yaml").is_file()
    assert (target / "jointsr" / "conf" / "model" / "jointsr.yaml").is_file()
    # the shipped weights, their results and the card travel with the package
    for name in ("cave_x4.ckpt", "cave_x4.json", "MODEL_CARD.md"):
        assert (target / "jointsr" / "pretrained" / name).is_file(), name

    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", "import jointsr; print(jointsr.__file__); print(jointsr.CONFIG_DIR)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(target / "jointsr" / "__init__.py"), str(target / "jointsr" / "conf")]

    run = work / "run"
    result = subprocess.run([sys.executable, str(target / "bin" / "jointsr-eval"), "model=bicubic", "data=cave",
                             "scale=x4", "data.max_test_images=1", "logger=csv", f"hydra.run.dir={run}"],
                            cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads((run / "test_metrics.json").read_text())
    (row,) = document["per_image"]
    assert round(row["psnr"], 2) == bicubic_reference(row["name"])
