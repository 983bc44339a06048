"""Checkpoints are read without running code: a crafted checkpoint (a pickle whose unpickling
writes a marker file) is planted in every path that reads one, and refused in each."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import (
    assert_user_error,
    malicious_checkpoint,
    run_folder_files,
    run_main,
)
from conftest import compose_config, require_data

from jointsr.data.io import write_image
from jointsr.runs.checkpoint import load_checkpoint

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv"]


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory) -> Path:
    """checkpoints/last.ckpt of a real 2-step jointsr-train run (its content is reused)."""
    require_data("rgbnir")
    from hydra.core.global_hydra import GlobalHydra

    from jointsr.cli.train import train

    run = tmp_path_factory.mktemp("trained")
    train(compose_config("train", TINY + ["debug=fast", "trainer.max_steps=2", "trainer.val_check_interval=2",
                                          "test=false", "data.progress=false"], run))
    GlobalHydra.instance().clear()
    return run / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_the_planted_checkpoint_does_run_code_when_unpickled(real_checkpoint, tmp_path):
    """The test's premise: loading the planted file the old way executes its payload."""
    marker = tmp_path / "marker"
    evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real_checkpoint)
    torch.load(evil, map_location="cpu", weights_only=False)
    assert marker.read_text() == "code ran"


def test_real_checkpoints_load_safely(real_checkpoint):
    checkpoint = load_checkpoint(real_checkpoint)
    assert checkpoint["jointsr"]["model_cfg"]["net"]["k"] == 8 and "optimizer_states" in checkpoint


PATHS = ["predict", "eval ckpt_path", "eval curve_dir", "train auto-resume", "train ckpt_path"]


@pytest.mark.parametrize("path", PATHS)
def test_a_malicious_checkpoint_runs_no_code_in_any_path(path, real_checkpoint, tmp_path, capsys, monkeypatch):
    marker = tmp_path / "marker"
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))
    run_dir = tmp_path / "run"
    hydra_run = [f"hydra.run.dir={run_dir}"]
    if path == "predict":
        evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real_checkpoint)
        target = write_image(tmp_path / "lr.png", np.full((8, 8), 0.5), bits=8)
        guide = write_image(tmp_path / "hr.png", np.full((32, 32), 0.5), bits=8)
        result = run_main("predict", [f"ckpt_path={evil}", f"target={target}", f"guide={guide}",
                                      f"out={tmp_path / 'sr.png'}", *hydra_run], capsys, monkeypatch)
    elif path == "eval ckpt_path":
        evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real_checkpoint)
        result = run_main("eval", [f"ckpt_path={evil}", "logger=csv", *hydra_run], capsys, monkeypatch)
    elif path == "eval curve_dir":
        evil = malicious_checkpoint(tmp_path / "train" / "curve" / "minutes0000.00-step0000000.ckpt", marker,
                                    real_checkpoint)
        result = run_main("eval", [f"curve_dir={evil.parent}", "logger=csv", *hydra_run], capsys, monkeypatch)
    elif path == "train auto-resume":  # a killed run's folder, its last.ckpt replaced
        evil = malicious_checkpoint(run_dir / "checkpoints" / "last.ckpt", marker, real_checkpoint)
        result = run_main("train", [*TINY, *hydra_run], capsys, monkeypatch)
    else:
        evil = malicious_checkpoint(tmp_path / "evil.ckpt", marker, real_checkpoint)
        result = run_main("train", [*TINY, f"ckpt_path={evil}", *hydra_run], capsys, monkeypatch)
    line = assert_user_error(result, str(evil), "is not a trusted checkpoint", "would call `exec`")
    print(f"\n[{path}] exit status {result.code}: {line}")
    assert not marker.exists(), "the checkpoint's code ran"
    # nothing written but the run folder's lock, released (emptied) as the command ended
    assert [p for p in run_folder_files(run_dir) if p not in ("checkpoints/last.ckpt", ".run.lock")] == []
    assert not (run_dir / ".run.lock").exists() or (run_dir / ".run.lock").read_text() == ""
