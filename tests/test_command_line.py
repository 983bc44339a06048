"""A command line without traps: scale=4, internal configs, enum-like keys, --help, the model
summary, the progress bar, and a validation interval that fits the run."""

from __future__ import annotations

import csv
import datetime
import subprocess
import sys

import pytest
from cli_helpers import COMMANDS, assert_user_error, run_main
from conftest import require_data

from jointsr.cli.arguments import group_options, normalise
from jointsr.training.callbacks import readable, validation_interval

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "data.progress=false", "data.max_train_patches=64",
        "data.max_test_images=1", "data.test_crop=64", "data.val_crop=48", "data.batch_size=4"]


def test_scale_as_a_number_means_the_scale_option():
    assert normalise(["scale=4", "data=cave"]) == ["scale=x4", "data=cave"]
    assert normalise(["scale=2,4"]) == ["scale=x2,x4"]  # a sweep
    assert normalise(["scale=x8"]) == ["scale=x8"]


def test_scale_4_composes_as_x4(capsys, monkeypatch):
    result = run_main("train", ["scale=4", "--cfg", "job", "--resolve"], capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    assert "\nscale: 4\n" in "\n" + result.out and "patch_size: 44" in result.out


@pytest.mark.parametrize("group", ["model", "data"])
def test_an_internal_base_config_is_refused_with_the_options(cli, group):
    line = assert_user_error(cli("train", f"{group}=base"), f"{group}=base", "internal")
    assert ", ".join(group_options(group)) in line and "base," not in line


@pytest.mark.parametrize("override,fragments", [
    ("model.net.form=factorized", ("form='factorized'", "'factorised'")),
    ("model.net.init=xavier", ("init='xavier'", "'ista' or 'random'")),
    ("model.loss=l2", ("model.loss='l2'", "l1, mse")),
    ("model.scheduler_interval=steps", ("model.scheduler_interval='steps'", "step, epoch")),
    ("data.guide_channels=2", ("data.guide_channels=2", "1, 3")),
    ("data.degradation._target_=jointsr.data.degradation.Gaussian", ("Gaussian", "Bicubic", "GaussianBlur")),
])
def test_enum_like_keys_name_the_allowed_values(cli, override, fragments):
    assert_user_error(cli("train", override, "logger=csv"), *fragments)


#: the commands on Hydra (score and report take paths as arguments: argparse, see jointsr/cli/__init__.py)
HYDRA_COMMANDS = sorted(set(COMMANDS) - {"score", "report"})


@pytest.mark.parametrize("command", HYDRA_COMMANDS)
def test_help_describes_the_command_without_internal_configs(command, capsys, monkeypatch):
    result = run_main(command, ["--help"], capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    first = result.out.splitlines()[0]
    assert first.startswith(f"jointsr-{command}: ") and len(first) > 40
    assert f"jointsr-{command} -sc install=bash" in result.out  # completion documented
    groups = [line for line in result.out.splitlines() if line.startswith(("model: ", "data: "))]
    assert all("base" not in line.split(": ", 1)[1].split(", ") for line in groups), groups
    if command in ("train", "eval", "data"):
        assert any(line.startswith("data: cave") for line in groups), groups
    if command == "predict":  # it reads no training groups
        assert "== Configuration groups" not in result.out and "trainer:" not in result.out
    if command == "train":
        assert "model: bicubic, coista, djf, jointsr" in result.out


@pytest.mark.parametrize("command", HYDRA_COMMANDS)
def test_help_imports_neither_torch_nor_lightning_and_shows_the_settings_with_their_comments(command):
    module, function = COMMANDS[command].split(":")
    code = (f"import sys; sys.argv = ['jointsr-{command}', '--help']; from {module} import {function}; "
            f"{function}(); print('heavy:', sorted(m for m in ('torch', 'lightning') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("heavy: []"), done.stdout[-500:]
    assert "== Settings (conf/" in done.stdout and "verbose: false       # true: also third-party tips" in done.stdout
    if command == "predict":
        assert "tile: null           # HR tile side in pixels" in done.stdout and "pretrained=nir_x4" in done.stdout


def test_readable_progress_numbers():
    assert readable(8.1234e-05) == "8.12e-05"  # an MSE, not 0.000
    assert readable(29.8123) == "29.81"
    assert readable(0.0) == "0"


def test_validation_interval_fits_the_budget():
    assert validation_interval("auto", 100, None) == (10, None)
    assert validation_interval("auto", 4, None) == (1, None)
    assert validation_interval("auto", -1, "00:00:02:00") == (datetime.timedelta(seconds=12), None)
    assert validation_interval("auto", -1, {"minutes": 20}) == (datetime.timedelta(seconds=120), None)
    assert validation_interval("auto", -1, None) == (500, None)  # an epoch budget
    interval, note = validation_interval(500, 100, None)  # the trap: never validated
    assert interval == 10 and "val_check_interval=500 > trainer.max_steps=100" in note
    assert validation_interval(100, -1, "00:00:20:00") == (100, None)  # explicit and reachable: kept


@pytest.mark.slow
def test_a_short_run_validates_and_shows_no_lightning_flops(cli, tmp_path):
    """max_steps=10 with the default interval: the start's and 10 validations (the old default, 500, gave none),
    a best checkpoint, and the model summary without Lightning's "Total FLOPs: 0"."""
    require_data("rgbnir")
    result = cli("train", *TINY, "trainer.max_steps=10", "test=false")
    assert result.code == 0, result.err[-3000:]
    with open(tmp_path / "run" / "csv" / "metrics.csv") as stream:
        validations = [row for row in csv.DictReader(stream) if row.get("val/psnr")]
    assert [int(row["step"]) for row in validations] == list(range(0, 11))  # the start, then after steps 1..10
    assert list((tmp_path / "run" / "checkpoints").glob("step*-psnr*.ckpt"))
    assert "Total FLOPs" not in result.out + result.err
    assert "trainable parameters" in result.out + result.err
    # a quiet console: none of Lightning's tips, hardware notes or library deprecation warnings
    for noise in ("Tip:", "GPU available", "LeafSpec", "is deprecated"):
        assert noise not in result.out + result.err, noise


@pytest.mark.slow
def test_verbose_keeps_what_the_quiet_console_leaves_out(cli):
    import logging

    require_data("rgbnir")
    # the levels a fresh process starts with (an earlier test's quiet console may have raised them)
    fresh = {"lightning.pytorch": logging.INFO, "lightning.pytorch.utilities.rank_zero": logging.NOTSET,
             "lightning.fabric": logging.NOTSET}
    saved = {name: logging.getLogger(name).level for name in fresh}
    for name, level in fresh.items():
        logging.getLogger(name).setLevel(level)
    try:
        result = cli("train", *TINY, "trainer.max_steps=1", "test=false", "verbose=true")
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    assert result.code == 0, result.err[-3000:]
    assert "GPU available" in result.out + result.err
