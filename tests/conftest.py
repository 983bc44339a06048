"""Shared fixtures: the real data folder and the composed Hydra configuration."""

from __future__ import annotations

import contextlib
import logging
import os
import re
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


# JOINTSR_REQUIRE_DATA=1 (CI sets it): a test that needs the real data fails without it, never skips
_REQUIRED = os.environ.get("JOINTSR_REQUIRE_DATA") == "1"


def require_data(*parts: str) -> Path:
    """The real dataset folder (or file) under ``$JOINTSR_DATA_DIR``; without it the test is
    skipped saying what is missing, or fails where the data is required (CI)."""
    missing = pytest.fail if _REQUIRED else pytest.skip
    if not _DATA_ENV:
        missing("real data: set JOINTSR_DATA_DIR to the data folder (make test sets it)")
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        missing(f"real data not found at {path}: set JOINTSR_DATA_DIR to the shared data folder")
    return path


def pytest_sessionstart(session):
    """Where the data is required, a missing data folder stops the run before any test."""
    if _REQUIRED and not (_DATA_ENV and DATA_DIR.is_dir()):
        raise pytest.UsageError(f"JOINTSR_REQUIRE_DATA=1 but JOINTSR_DATA_DIR={_DATA_ENV!r} is not a folder: "
                                f"point it at the shared data folder")


@pytest.fixture(autouse=True)
def _console_handlers_stay_with_their_test():
    """A command run in-process (Hydra's job logging, jointsr-report's basicConfig) gives the
    root logger a handler on the console of that moment: under capsys a stream closed when the
    test ends, which every later test's log line then hits ("--- Logging error ---" in CI's
    output). The handlers a test added leave with it (pytest's own come and go by themselves)."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in before]:
        if type(handler).__module__.startswith("_pytest"):
            continue
        root.removeHandler(handler)
        handler.close()


@contextlib.contextmanager
def refused_at_instantiation(match: str):
    """Expect ``hydra.utils.instantiate`` to refuse a config value: Hydra's
    InstantiationException whose cause is our ConfigError, its message matching ``match``."""
    from hydra.errors import InstantiationException

    from jointsr.errors import ConfigError

    with pytest.raises(InstantiationException) as caught:
        yield caught
    assert isinstance(caught.value.__cause__, ConfigError), repr(caught.value.__cause__)
    assert re.search(match, str(caught.value.__cause__)), str(caught.value.__cause__)


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
