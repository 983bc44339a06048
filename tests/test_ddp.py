"""DDP through jointsr-train's own path: ``train()`` with the composed ``trainer=ddp`` config, two
CPU processes (gloo), the default callbacks and the CSV logger, then ``jointsr-eval`` of its
checkpoint. The code is the GPU's: only the accelerator and the process group's backend differ."""

from __future__ import annotations

import csv
import json
import re

import pytest
from conftest import compose_config, require_data
from hydra.core.global_hydra import GlobalHydra

from jointsr.cli.eval import evaluate
from jointsr.cli.train import train
from jointsr.errors import ConfigError
from jointsr.runs.folder import RunDir
from jointsr.training.ranks import leave_process_group, processes_to_start

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "callbacks.rich_progress_bar=null",
        "data.progress=false", "data.test_crop=64"]
# three test images over two ranks: the distributed sampler deals out 2 + 2, one image twice
DDP = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "trainer.max_steps=4",
       "trainer.val_check_interval=2", "data.max_test_images=3"]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    require_data("rgbnir")
    run = RunDir(tmp_path_factory.mktemp("ddp") / "run")
    monitored = train(compose_config("train", TINY + DDP, run.root))
    GlobalHydra.instance().clear()
    return run, monitored


@pytest.mark.slow
def test_two_processes_fit_validate_checkpoint_and_test_every_image_once(ddp_run):
    run, monitored = ddp_run
    (best,) = run.best_checkpoints()
    assert run.last_checkpoint.is_file()
    # the best score comes back from rank 0: the checkpoint's, not the last validation's
    assert monitored == pytest.approx(float(re.search(r"psnr(\d+\.\d+)", best.name).group(1)), abs=1e-3)
    document = json.loads(run.test_metrics.read_text())
    names = [row["name"] for row in document["per_image"]]
    assert len(names) == 3 and names == sorted(set(names))  # every test image once
    assert document["training"]["steps"] == 4 and document["training"]["tested"] == f"best: {best.name}"
    assert document["training"]["tested_step"] == int(re.search(r"step(\d+)", best.name).group(1))
    for key in ("psnr", "ssim", "ssim_plain"):
        assert document["mean"][key] == pytest.approx(sum(row[key] for row in document["per_image"]) / 3, rel=1e-12)
    with run.metrics_csv.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(row["step"]) for row in rows if row.get("train/loss")] == [0, 1, 2, 3]  # each step once
    assert [int(row["step"]) for row in rows if row.get("val/psnr")] == [0, 2, 4]  # the start's, then steps 2, 4
    (tested,) = [row for row in rows if row.get("test/psnr")]
    assert float(tested["test/images"]) == 3.0
    assert float(tested["test/psnr"]) == pytest.approx(document["mean"]["psnr"], rel=1e-6)
    assert run.logged_config.is_file() and run.fingerprint.is_file()
    assert run.lock.read_text() == ""  # released: the folder is free for the next run


@pytest.mark.slow
def test_eval_of_the_ddp_checkpoint_in_one_process_gives_the_runs_test(ddp_run, tmp_path):
    run, _ = ddp_run
    (best,) = run.best_checkpoints()
    trained = json.loads(run.test_metrics.read_text())
    document = evaluate(compose_config("eval", [f"ckpt_path={best}", "data.max_test_images=3", "data.test_crop=64"],
                                       tmp_path / "eval"))
    assert document["model"] == "jointsr" and document["data"] == "rgbnir" and document["scale"] == 4
    assert [row["name"] for row in document["per_image"]] == [row["name"] for row in trained["per_image"]]
    # the same numbers to 1e-8: a fresh process differs from the training one in the last digits, as a
    # one-process jointsr-train does (30.157427717 against 30.157427752 dB on rgbnir x4)
    for tested, ranked in zip(document["per_image"], trained["per_image"]):
        for key in ("psnr", "ssim", "ssim_plain"):
            assert tested[key] == pytest.approx(ranked[key], rel=1e-8), (tested["name"], key)
    assert document["mean"] == pytest.approx(trained["mean"], rel=1e-8)


@pytest.mark.slow
def test_a_ranks_error_is_raised_where_the_job_started_and_the_run_resumes_under_ddp(tmp_path):
    """A rank stopped at step 6 (an in-process stand-in for a killed job): the starting process
    raises the rank's own error; the same command again resumes from last.ckpt on two ranks and
    ends where a run never stopped ends (the averaged gradients of NHWC weights included)."""
    require_data("rgbnir")
    from kill_helpers import Interrupted

    run = RunDir(tmp_path / "run")
    longer = ["trainer.max_steps=8", "trainer.val_check_interval=3", "data.max_train_patches=64", "data.batch_size=4"]
    stopped = compose_config("train", TINY + DDP + longer + ["+callbacks.stop._target_=kill_helpers.StopAt",
                                                             "+callbacks.stop.step=6"], run.root)
    with pytest.raises(Interrupted, match="stopped at step 6"):
        train(stopped)
    assert run.last_checkpoint.is_file() and not run.test_metrics.exists()
    train(compose_config("train", TINY + DDP + longer, run.root))
    assert json.loads(run.test_metrics.read_text())["training"]["steps"] == 8
    with run.metrics_csv.open(newline="") as stream:
        steps = [int(row["step"]) for row in csv.DictReader(stream) if row.get("train/loss")]
    assert steps == list(range(8))  # the stopped run's rows, then the resumed run's, each step once
    whole = RunDir(tmp_path / "whole")
    train(compose_config("train", TINY + DDP + longer, whole.root))
    resumed, uninterrupted = (json.loads(r.test_metrics.read_text()) for r in (run, whole))
    assert resumed["mean"] == uninterrupted["mean"]


@pytest.mark.parametrize("overrides,processes", [
    ([], 1),
    (["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"], 2),
    (["trainer=cpu", "trainer.devices=2"], 2),  # strategy auto over two devices: Lightning's plain ddp
    (["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=1"], 1),
])
def test_the_job_starts_its_ranks_where_nothing_started_them(compose_cfg, overrides, processes, monkeypatch):
    cfg = compose_cfg("train", overrides)
    assert processes_to_start(cfg.trainer) == processes
    monkeypatch.setenv("LOCAL_RANK", "0")  # torchrun (or this job) started the ranks already
    assert processes_to_start(cfg.trainer) == 1


@pytest.mark.parametrize("override,fragment", [
    ("trainer.strategy=ddp_spawn", "its workers run only the fit"),
    ("+trainer.num_nodes=2", "use launcher=slurm"),
])
def test_strategies_the_job_cannot_start_are_refused_before_any_work(compose_cfg, override, fragment):
    cfg = compose_cfg("train", ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", override])
    with pytest.raises(ConfigError, match=fragment):
        processes_to_start(cfg.trainer)


def test_a_rank_takes_its_process_group_down_before_it_exits():
    """The end of every rank's job (fit_and_test): a barrier, then the group destroyed while the
    interpreter is whole (a rank that exited with it alive aborted once in CI, SIGABRT). One rank
    of a one-process gloo group stands in for the job's ranks; no group at all is left alone."""
    import torch.distributed as dist

    leave_process_group()  # nothing started: nothing to do
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    assert dist.is_initialized()
    leave_process_group()
    assert not dist.is_initialized()
