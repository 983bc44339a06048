"""One job folder, one configuration: `seed` names sweep jobs, and a folder holding another
configuration is refused (jointsr.runs.guard)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose_config, require_data
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from jointsr import CONFIG_DIR
from jointsr.runs.guard import FINGERPRINT_FILE, check_same_config, fingerprint


@pytest.fixture(autouse=True)
def _clear_hydra():
    yield
    GlobalHydra.instance().clear()


def _job_name(overrides: list[str]) -> str:
    """The folder name Hydra gives a sweep job with these overrides."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name="train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    return cfg.hydra.job.override_dirname


def test_seed_names_the_job_folder_and_where_or_whether_does_not():
    first = _job_name(["model=bicubic", "seed=1", "skip_done=false", "hydra.sweep.dir=/a"])
    second = _job_name(["hydra.sweep.dir=/b", "seed=2", "model=bicubic"])
    assert first == "model=bicubic,seed=1"
    assert second == "model=bicubic,seed=2"


def _cfg(tmp_path: Path, overrides: list[str], output_dir: Path | None = None):
    return compose_config("train", ["model.net.k=8", "model.net.K=3", *overrides], output_dir or tmp_path / "job")


def test_the_same_configuration_passes_and_records_its_fingerprint(tmp_path):
    cfg = _cfg(tmp_path, ["model.net.T=2"])
    job = Path(cfg.paths.output_dir)
    check_same_config(job, cfg)
    recorded = json.loads((job / FINGERPRINT_FILE).read_text())
    assert recorded == fingerprint(cfg)
    assert recorded["config"]["model"]["net"]["T"] == 2 and "paths" not in recorded["config"]
    # folders by their path names, not by where this folder or the data happen to be
    assert recorded["config"]["trainer"]["default_root_dir"] == "<paths.output_dir>"
    assert recorded["config"]["data"]["dataset"]["root"] == "<paths.data_dir>/rgbnir"
    check_same_config(job, cfg)  # again: nothing changes
    assert json.loads((job / FINGERPRINT_FILE).read_text()) == recorded


def test_another_configuration_in_the_same_folder_is_refused(tmp_path):
    job = tmp_path / "job"
    check_same_config(job, _cfg(tmp_path, ["model.net.T=2"]))
    with pytest.raises(ValueError) as refused:
        check_same_config(job, _cfg(tmp_path, ["model.net.T=3"]))
    message = str(refused.value)
    assert "\n" not in message
    assert f"{job} holds a run of another configuration" in message
    assert "model.net.T: 2 there, 3 here" in message and "hydra.sweep.dir" in message
    with pytest.raises(ValueError, match="seed: 12345 there, 7 here"):  # a seed is another run too
        check_same_config(job, _cfg(tmp_path, ["model.net.T=2", "seed=7"]))
    with pytest.raises(ValueError, match="ckpt_path"):  # not in the folder's name, but a different start
        check_same_config(job, _cfg(tmp_path, ["model.net.T=2", "ckpt_path=/elsewhere/last.ckpt"]))


def test_what_does_not_change_the_result_is_not_a_difference(tmp_path):
    job = tmp_path / "job"
    check_same_config(job, _cfg(tmp_path, ["model.net.T=2"], output_dir=tmp_path / "mount_a" / "job"))
    same = _cfg(tmp_path, ["model.net.T=2", "skip_done=false", "test=false", "logger=csv", "experiment_name=other",
                           "callbacks=curve", "callbacks.rich_progress_bar=null", "data.progress=false"],
                output_dir=tmp_path / "mount_b" / "job")
    with open_dict(same):
        same.paths.data_dir = "/another/copy/of/the/data"
        same.paths.cache_dir = str(tmp_path / "another_cache")
    check_same_config(job, same)


def test_a_damaged_fingerprint_says_which_file(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    (job / FINGERPRINT_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=FINGERPRINT_FILE):
        check_same_config(job, _cfg(tmp_path, []))


@pytest.mark.slow
def test_a_seed_sweep_runs_every_seed_and_its_rerun_skips_them(tmp_path):
    """`-m seed=1,2` runs one job per seed (seed is part of the folder name)."""
    require_data("rgbnir")
    script = Path(sys.executable).parent / "jointsr-train"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    sweep = tmp_path / "sweep"
    command = [str(script), "-m", "seed=1,2", "model=bicubic", "data=rgbnir", "scale=x4", "logger=csv",
               "debug=fast", f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "JOINTSR_CACHE_DIR": str(tmp_path / "cache")}
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode == 0, first.stderr[-2000:]
    jobs = sorted(path.parent.name for path in sweep.glob("*/test_metrics.json"))
    assert jobs == [f"data=rgbnir,debug=fast,logger=csv,model=bicubic,scale=x4,seed={seed}" for seed in (1, 2)]
    second = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert second.returncode == 0, second.stderr[-2000:]
    assert (second.stdout + second.stderr).count("skipping:") == 2
