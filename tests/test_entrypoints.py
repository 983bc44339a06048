"""The entry points on the real configuration and real data: tiny but complete runs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import compose_config, refused_at_instantiation, require_data
from omegaconf import OmegaConf

from jointsr.cli.eval import evaluate
from jointsr.cli.summary import summarise
from jointsr.cli.train import train
from jointsr.errors import ConfigError
from jointsr.runs.folder import RunDir
from jointsr.training.build import load_checkpoint_model

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv"]


def test_train_config_composes_with_one_scale_read_everywhere(compose_cfg):
    cfg = compose_cfg("train", ["scale=x8"])
    assert cfg.scale == 8 and cfg.model.net.scale == 8 and cfg.data.scale == 8
    assert cfg.data.patch_size % cfg.scale == 0
    assert cfg.model.net.guide_channels == cfg.data.guide_channels
    assert cfg.model.optimizer._partial_ and cfg.model.scheduler._partial_
    OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves


@pytest.mark.parametrize("group,options", [
    ("model", ["bicubic", "jointsr", "jointsr_paper"]),
    ("scale", ["x2", "x4", "x8", "x16"]),
    ("trainer", ["default", "cpu", "gpu", "ddp"]),
    ("logger", ["csv", "wandb", "many", "tensorboard", "local"]),
    ("debug", ["fast", "overfit", "profile"]),
])
def test_every_group_option_composes(compose_cfg, group, options):
    for option in options:
        cfg = compose_cfg("train", [f"{group}={option}"])
        OmegaConf.to_container(cfg, resolve=True)


def test_wrong_patch_size_names_both_values(compose_cfg):
    import hydra

    cfg = compose_cfg("train", ["scale=x8", "data.patch_size=44"])
    with refused_at_instantiation("patch_size=44.*scale=8"):
        hydra.utils.instantiate(cfg.data)


@pytest.mark.slow
def test_fast_dev_run_on_real_rgbnir(compose_cfg, tmp_path):
    require_data("rgbnir")
    cfg = compose_cfg("train", TINY + ["debug=fast", "+trainer.fast_dev_run=true"])
    train(cfg)
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    assert document["model"] == "jointsr" and document["data"] == "rgbnir" and document["scale"] == 4
    # fast_dev_run tests one batch: the first test image, whole-image protocol on a crop
    assert [row["name"] for row in document["per_image"]] == ["urban/0004"]


@pytest.mark.slow
def test_short_fit_checkpoints_logs_and_tests_the_best(compose_cfg, tmp_path):
    require_data("rgbnir")
    cfg = compose_cfg("train", TINY + ["debug=fast", "trainer.max_steps=6", "trainer.val_check_interval=3"])
    monitored = train(cfg)
    assert monitored is not None and monitored > 10.0
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(p.startswith("step") for p in checkpoints)
    stored = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert stored["jointsr"]["model_cfg"]["net"]["k"] == 8
    metrics = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train/loss" in metrics and "val/psnr" in metrics and "test/psnr" in metrics
    assert list((tmp_path / "csv" / "grids").glob("*.png")), "the validation grid image is saved"
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    assert set(document["mean"]) == {"psnr", "ssim", "ssim_plain"}
    # the run records its network's parameter count (the report reads it, rebuilding nothing)
    tested = load_checkpoint_model(tmp_path / "checkpoints" / "last.ckpt", None).net
    assert document["params"] == sum(p.numel() for p in tested.parameters()) > 0
    assert all(set(row) == {"name", "psnr", "ssim", "ssim_plain"} for row in document["per_image"])


@pytest.mark.slow
def test_an_unfinished_run_continues_from_its_last_checkpoint(compose_cfg, tmp_path, caplog):
    """A killed job (last.ckpt, no test_metrics.json) run again resumes instead of restarting."""
    require_data("rgbnir")
    from kill_helpers import Interrupted

    budget = "trainer.max_time=00:00:05:00"  # a clock that must count on, not restart
    common = TINY + ["debug=fast", "trainer.max_steps=6", "trainer.val_check_interval=3", budget]
    # the same configuration (callbacks do not change what a run computes), stopped after step 3
    killed = compose_cfg("train", common + ["+callbacks.stop._target_=kill_helpers.StopAt", "+callbacks.stop.step=3"])
    with pytest.raises(Interrupted):
        train(killed)
    assert not (tmp_path / "test_metrics.json").exists()
    again = compose_cfg("train", common)
    with caplog.at_level("INFO", logger="jointsr"):
        train(again)
    assert "resuming an unfinished run from" in caplog.text
    assert "training: 6 steps" in caplog.text  # 3 restored + 3 new, not 6 new
    assert (tmp_path / "test_metrics.json").is_file()
    rows = [row for row in csv.DictReader((tmp_path / "csv" / "metrics.csv").open()) if row.get("train/loss")]
    steps = [int(row["step"]) for row in rows]
    # one curve: the killed run's rows, then the resumed run's, no step twice
    assert steps == sorted(set(steps)) and min(steps) < 3 <= max(steps), steps
    minutes = [float(row["train/minutes"]) for row in rows if row.get("train/minutes")]
    assert len(minutes) >= 4 and minutes == sorted(minutes), minutes  # the budget's clock went on


@pytest.mark.slow
def test_eval_of_a_trained_checkpoint_rebuilds_its_model(compose_cfg, tmp_path):
    require_data("rgbnir")
    cfg = compose_cfg("train", TINY + ["debug=fast", "trainer.max_steps=2", "trainer.val_check_interval=2", "test=false"])
    train(cfg)
    ckpt = RunDir(tmp_path).last_checkpoint
    eval_cfg = compose_config("eval", ["model=jointsr", f"ckpt_path={ckpt}", "data.max_test_images=1",
                                       "data.test_crop=64"], tmp_path / "eval")
    document = evaluate(eval_cfg)
    assert document["model"] == "jointsr" and len(document["per_image"]) == 1
    # into the eval run's folder only: the fit-only training run is left without a test
    assert json.loads(RunDir(tmp_path / "eval").test_metrics.read_text()) == document
    assert not RunDir(tmp_path).test_metrics.exists()
    with pytest.raises(ConfigError, match="its own folder"):  # never into the training run's folder
        evaluate(compose_cfg("eval", [f"ckpt_path={ckpt}"]))


@pytest.mark.slow
def test_timed_checkpoints_give_a_test_curve(compose_cfg, tmp_path):
    """callbacks=curve saves weights on a wall-clock interval; jointsr-eval curve_dir= tests each."""

    require_data("rgbnir")
    cfg = compose_cfg("train", TINY + ["debug=fast", "callbacks=curve", "trainer.max_steps=5",
                                       "callbacks.timed_checkpoints.every_minutes=1e-6", "test=false"])
    train(cfg)
    saved = sorted(p.name for p in (tmp_path / "curve").iterdir())
    # one at the start (step 0), then one per step (the interval is shorter than a step), one at the end
    assert saved[0] == "minutes0000.00-step0000000.ckpt" and len(saved) >= 6, saved
    assert saved[-1].endswith("step0000005.ckpt") and not saved[-2].endswith("step0000005.ckpt")  # once
    training = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    evaluation = RunDir(tmp_path / "eval")
    eval_cfg = compose_config("eval", [f"curve_dir={tmp_path / 'curve'}", "data.max_test_images=1",
                                       "data.test_crop=64"], evaluation.root)
    evaluate(eval_cfg)
    # everything in the eval run's folder; the training run's folder as training left it
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if evaluation.root not in p.parents
                  and p != evaluation.root) == training
    assert sorted(p.name for p in evaluation.curve.glob("*.json")) == [n.replace(".ckpt", ".json") for n in saved]
    with open(evaluation.test_curve) as stream:
        rows = list(csv.DictReader(stream))
    assert [Path(row["checkpoint"]).parent for row in rows] == [tmp_path / "curve"] * len(saved)
    assert [int(row["step"]) for row in rows] == sorted(int(row["step"]) for row in rows)
    assert len(rows) == len(saved) and all(15.0 < float(row["psnr"]) < 50.0 for row in rows)
    minutes = [float(row["minutes"]) for row in rows]
    assert minutes == sorted(minutes) and minutes[0] == 0.0
    assert len({row["psnr"] for row in rows}) > 1, "training changed the weights between checkpoints"
    with pytest.raises(FileNotFoundError, match="callbacks=curve"):
        evaluate(compose_cfg("eval", [f"curve_dir={tmp_path / 'checkpoints_nowhere'}"]))
    with pytest.raises(ConfigError, match="its own folder"):  # never into the training run's folder
        evaluate(compose_cfg("eval", [f"curve_dir={tmp_path / 'curve'}"]))


def test_eval_bicubic_writes_the_table(compose_cfg, tmp_path, capsys):
    require_data("rgbnir")
    cfg = compose_cfg("eval", ["model=bicubic", "scale=x2", "data.max_test_images=2"])
    document = evaluate(cfg)
    out = capsys.readouterr().out
    assert "urban/0004" in out and "mean" in out
    written = json.loads((tmp_path / "test_metrics.json").read_text())
    assert written == document
    assert written["params"] == 0  # no parameters: the same result for every seed
    # every image's numbers are the protocol's on MATLAB bicubic of its LR target, written out
    import hydra
    import numpy as np

    from jointsr.functional.imresize import imresize
    from jointsr.metrics.protocol import psnr, ssim

    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    scenes = datamodule.test_set.scenes
    assert [row["name"] for row in document["per_image"]] == sorted(scene.name for scene in scenes)
    rows = {row["name"]: row for row in document["per_image"]}
    for scene in scenes:
        upsampled = imresize(torch.from_numpy(scene.lr)[None], scale=2)[0, 0].numpy().clip(0, 1)
        assert rows[scene.name]["psnr"] == psnr(upsampled, scene.hr[0])
        assert rows[scene.name]["ssim"] == ssim(upsampled, scene.hr[0])
    assert document["mean"]["psnr"] == np.mean([row["psnr"] for row in document["per_image"]])


def test_eval_under_a_multi_process_trainer_tests_every_image_in_one_process(compose_cfg, tmp_path):
    """trainer=ddp with 2 CPU processes: the per-image rows would stay in the spawned workers
    and test_metrics.json would list no image; eval tests in one process instead."""
    require_data("rgbnir")
    cfg = compose_cfg("eval", ["model=bicubic", "scale=x2", "data.max_test_images=2", "trainer=ddp",
                               "trainer.accelerator=cpu", "trainer.devices=2"])
    document = evaluate(cfg)
    assert len(document["per_image"]) == 2
    single = evaluate(compose_cfg("eval", ["model=bicubic", "scale=x2", "data.max_test_images=2",
                                           f"hydra.run.dir={tmp_path / 'one'}"]))
    assert document["per_image"] == single["per_image"]


def test_eval_refuses_an_untrained_network(compose_cfg):
    require_data("rgbnir")
    cfg = compose_cfg("eval", ["model=jointsr"])
    with pytest.raises(ValueError, match="ckpt_path"):
        evaluate(cfg)


def test_summary_counts_params_and_flops(compose_cfg, capsys):
    cfg = compose_cfg("summary", ["model.net.k=8", "model.net.K=3", "lr_size=8"])
    result = summarise(cfg)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == result
    # the default JointSR (factorised, tied, skip) at x4, k=8 atoms of 3x3, counted by hand:
    # kernels 3x3 on the HR grid (conv), 8x8 between the grids (conv_up / conv_down, 2s = 8)
    k, grid, cross = 8, 9, 64
    guide_encoder = k * grid + 2 * k * grid + 2 * k          # W, D and E, two thresholds
    target_encoder = k * cross + 2 * k * cross + 2 * k
    rnn_step = 2 * k * cross + k * cross + k + 2 * k * grid + k * grid + k  # h: update, drive, mu; g: the same
    assert result["params"] == guide_encoder + target_encoder + rnn_step + k * grid + cross  # + Dx + skip
    assert result["flops_per_hr_pixel"] > 0


@pytest.mark.slow
def test_console_script_runs_as_a_hydra_app(tmp_path):
    """The installed command line, with overrides, writes into its Hydra run directory."""
    script = Path(sys.executable).parent / "jointsr-summary"
    if not script.exists():
        pytest.skip("jointsr is not installed as a package (run `make install`)")
    run_dir = tmp_path / "run"
    result = subprocess.run([str(script), "model=bicubic", "scale=x2", f"hydra.run.dir={run_dir}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["params"] == 0
    assert (run_dir / ".hydra" / "config.yaml").is_file()
