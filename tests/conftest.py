"""Shared fixtures: the real data folder and the composed Hydra configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from jointsr import CONFIG_DIR

# The real data: only where JOINTSR_DATA_DIR says (`make test` sets it), never a machine path.
_DATA_ENV = os.environ.get("JOINTSR_DATA_DIR")
# eager training steps in tests (conf/model/jointsr.yaml: model.compile); test_fast.py compiles
# on purpose, and subprocesses of the CLI tests inherit this
os.environ.setdefault("JOINTSR_COMPILE", "false")
DATA_DIR = Path(_DATA_ENV).expanduser() if _DATA_ENV else Path("JOINTSR_DATA_DIR-is-not-set")


def require_data(*parts: str) -> Path:
    """The real dataset folder (or file) under ``$JOINTSR_DATA_DIR``, or skip the test saying
    what is missing."""
    if not _DATA_ENV:
        pytest.skip("real data: set JOINTSR_DATA_DIR to the data folder (make test sets it)")
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path}: set JOINTSR_DATA_DIR to the shared data folder")
    return path


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` as the entry point would, with its Hydra node set."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.data_dir = str(DATA_DIR)
        cfg.paths.cache_dir = str(output_dir / "cache")
        del cfg.hydra
    return cfg


@pytest.fixture
def compose_cfg(tmp_path):
    def _compose(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
        return compose_config(config_name, overrides or [], tmp_path)

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``cli(command, *args)``: runs the command with a run folder and a cache in ``tmp_path``."""
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))

    from cli_helpers import run_main

    def run(command: str, *args: str):
        return run_main(command, [*args, f"hydra.run.dir={tmp_path / 'run'}"], capsys, monkeypatch)

    return run
