"""Dashboards worth opening: a tiny offline wandb sweep, read back from its files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import run_main
from conftest import require_data
from wandb_records import read_run

from jointsr.training.tracking import short_name

SWEEP = ["model.net.k=8", "model.net.K=3", "data.progress=false", "data.max_train_patches=64", "data.batch_size=4",
         "data.val_crop=48", "data.max_test_images=1", "data.test_crop=64", "trainer.max_steps=4"]


def test_short_names_keep_the_last_part_of_a_key_unless_shared():
    overrides = ["model.net.T=1", "model.net.R=3", "data.batch_size=4"]
    assert short_name(overrides, ["model.net.T", "model.net.R"]) == "T=1,R=3"
    assert short_name(["model.net.k=8", "data.k=2"], ["model.net.k", "data.k"]) == "model.net.k=8,data.k=2"
    assert short_name(overrides, []) == ""


@pytest.mark.slow
def test_an_offline_sweep_is_grouped_named_tagged_and_keeps_its_best(tmp_path, capsys, monkeypatch):
    require_data("rgbnir")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))
    sweep = tmp_path / "my_sweep"
    result = run_main("train", ["-m", "model.net.T=1,2", *SWEEP, f"hydra.sweep.dir={sweep}"], capsys, monkeypatch)
    assert result.code == 0, result.err[-3000:]
    runs = sorted(sweep.glob("*/wandb/offline-run-*"))
    assert len(runs) == 2, runs
    names = set()
    for folder in runs:
        found = read_run(folder)
        job = folder.parent.parent
        run = found["run"]
        assert run["group"] == "my_sweep"  # the sweep, not "default"
        names.add(run["name"])
        assert {"jointsr", "rgbnir", "x4", "sweep:my_sweep"} <= set(run["tags"])
        assert found["metrics"]["val/psnr"]["max"]  # summarised as its best
        validated = [row["val/psnr"] for row in found["history"] if "val/psnr" in row]
        assert validated and found["summary"]["val/psnr"] == {"max": max(validated)}
        # the per-image test table, with bicubic beside it
        test = json.loads((job / "test_metrics.json").read_text())
        table_file = next(folder.glob("files/media/table/test/per_image*.table.json"))
        table = json.loads(table_file.read_text())
        assert table["columns"] == ["image", "psnr", "ssim", "ssim_plain", "bicubic_psnr", "gain_db"]
        assert [row[0] for row in table["data"]] == [item["name"] for item in test["per_image"]]
        assert table["data"][0][1] == test["per_image"][0]["psnr"]
        # the best checkpoint as an artifact (offline: uploaded by wandb sync)
        model = next(a for a in found["artifacts"] if a["type"] == "model")
        assert "best" in model["aliases"] and model["files"] == ["best.ckpt"]
    assert names == {"T=1", "T=2"}  # the overrides that differ, nothing else
    # the documented command finds every run of the sweep
    dry = subprocess.run([str(Path(sys.executable).parent / "wandb"), "sync", "--dry-run",
                          *map(str, sweep.glob("*/wandb/offline-run-*"))], capture_output=True, text=True,
                         timeout=120)
    assert "Would sync 2 run(s)" in dry.stdout + dry.stderr, dry.stdout + dry.stderr
