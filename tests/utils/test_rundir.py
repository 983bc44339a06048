"""RunDir: every path it names is where a real jointsr-train / jointsr-eval run wrote that file,
and every file such a run writes is one it names."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import compose_config, require_data
from omegaconf import OmegaConf

from jointsr.cli.eval import evaluate
from jointsr.cli.train import train
from jointsr.runs.folder import RunDir, parse_timed_checkpoint, timed_checkpoint_name

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "callbacks.rich_progress_bar=null",
        "data.max_test_images=1", "data.test_crop=64"]


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()}


@pytest.mark.slow
def test_paths_are_where_train_and_eval_wrote_their_files(tmp_path):
    require_data("rgbnir")
    run = RunDir(tmp_path / "train")
    cfg = compose_config("train", TINY + ["callbacks=curve", "trainer.max_steps=4", "trainer.val_check_interval=2",
                                          "callbacks.timed_checkpoints.every_minutes=1e-6"], run.root)
    train(cfg)

    # the best checkpoint is the one the test used; last.ckpt is the state at step 4
    document = json.loads(run.test_metrics.read_text())
    assert [f"best: {path.name}" for path in run.best_checkpoints()] == [document["training"]["tested"]]
    import torch

    (best,) = run.best_checkpoints()  # the tested step is the best checkpoint's own step, not the run's 4
    assert document["training"]["tested_step"] == torch.load(best, map_location="cpu", weights_only=True)["global_step"]

    assert torch.load(run.last_checkpoint, map_location="cpu", weights_only=True)["global_step"] == 4
    # timed checkpoints, one per step (the interval is shorter than a step), named as RunDir parses them
    timed = run.timed_checkpoints()
    assert [step for _, step, _ in timed] == [0, 1, 2, 3, 4]
    assert [path.name for _, _, path in timed] == [timed_checkpoint_name(minutes, step) for minutes, step, _ in timed]
    # a validation grid per validation (the start's at step 0, then steps 2 and 4), named by its epoch and step
    named_grids = {run.grid(epoch, step) for epoch in range(100) for step in (0, 2, 4)}
    assert len(run.grid_images()) == 3 and set(run.grid_images()) <= named_grids
    with run.metrics_csv.open(newline="") as stream:
        # the start's validation (step 0), then steps 2 and 4
        assert [int(row["step"]) for row in csv.DictReader(stream) if row.get("val/psnr")] == [0, 2, 4]
    assert OmegaConf.load(run.logged_config).cfg.model.net.k == 8
    assert json.loads(run.fingerprint.read_text())["config"]["model"]["net"]["k"] == 8
    # nothing else: every file of the run is one RunDir names (the data cache is configured elsewhere)
    named = {run.test_metrics, run.metrics_csv, run.logged_config, run.fingerprint, run.last_checkpoint,
             run.lock,
             *run.best_checkpoints(), *(path for _, _, path in timed), *run.grid_images()}
    assert _files(run.root) - {p for p in _files(run.root) if run.root / "cache" in p.parents} == named

    # jointsr-eval of a checkpoint and of the timed checkpoints: each into its own folder only
    before = {path: path.stat().st_mtime_ns for path in _files(run.root)}
    tested = RunDir(tmp_path / "eval")
    evaluate(compose_config("eval", TINY[-2:] + [f"ckpt_path={run.last_checkpoint}"], tested.root))
    assert json.loads(tested.test_metrics.read_text())["model"] == "jointsr"
    curve = RunDir(tmp_path / "eval_curve")
    evaluate(compose_config("eval", TINY[-2:] + [f"curve_dir={run.curve}"], curve.root))
    assert {path: path.stat().st_mtime_ns for path in _files(run.root)} == before, "the training run was written"
    with curve.test_curve.open(newline="") as stream:
        table = list(csv.DictReader(stream))
    assert [Path(row["checkpoint"]) for row in table] == [path for _, _, path in timed]
    for _, _, path in timed:
        assert json.loads(curve.curve_result(path).read_text())["training"]["steps"] == parse_timed_checkpoint(path.name)[1]
    assert not curve.test_metrics.exists() and not run.test_curve.exists()

    # finding them again
    assert RunDir.find([tmp_path]) == [RunDir(folder.root.resolve()) for folder in (tested, curve, run)]  # by path
    assert RunDir.holding(run.last_checkpoint) == run and RunDir.holding(timed[0][2]) == run
    assert RunDir.holding(tmp_path / "elsewhere.ckpt") is None

    # the report: the curve evaluation is the training run's test curve, not a run of its own
    from jointsr.report.runs import find_runs

    runs = {found.path: found for found in find_runs([tmp_path])}
    assert set(runs) == {run.root.resolve(), tested.root.resolve()}
    assert [(row["step"], row["psnr"]) for row in runs[run.root.resolve()].test_curve] == \
        [(int(row["step"]), float(row["psnr"])) for row in table]
    assert runs[run.root.resolve()].grid == run.grid_images()[-1]


def test_the_config_groups_place_files_where_rundir_says(tmp_path):
    """conf/callbacks and conf/logger name the run folder's sub-folders: the same as RunDir's."""
    cfg = compose_config("train", ["callbacks=curve", "logger=many"], tmp_path)
    run = RunDir.of(cfg)
    assert run.root == tmp_path
    callbacks = OmegaConf.to_container(cfg.callbacks, resolve=True)
    assert Path(callbacks["model_checkpoint"]["dirpath"]) == run.checkpoints
    assert Path(callbacks["last_checkpoint"]["dirpath"]) == run.checkpoints
    assert Path(callbacks["timed_checkpoints"]["dirpath"]) == run.curve
    import hydra

    logger = hydra.utils.instantiate(cfg.logger.csv)
    assert Path(logger.log_dir) == run.csv and logger.run_dir == run


def test_a_logger_that_would_write_elsewhere_is_refused(tmp_path):
    from jointsr.errors import ConfigError
    from jointsr.training.loggers import RunLogger

    with pytest.raises(ConfigError, match="name=csv"):
        RunLogger(tmp_path, name="lightning_logs")


def test_names_parse_and_a_missing_root_is_refused(tmp_path):
    run = RunDir(tmp_path / "a")
    assert RunDir(str(tmp_path / "a")) == run and run.root == tmp_path / "a"
    assert parse_timed_checkpoint("minutes0012.50-step0000300.ckpt") == (12.5, 300)
    assert parse_timed_checkpoint("last.ckpt") is None and run.timed_checkpoints() == []
    with pytest.raises(FileNotFoundError, match="not a run or sweep directory"):
        RunDir.find([tmp_path / "absent"])


def test_where_names_the_files_a_finished_run_left_and_how_to_report_it(tmp_path):
    run = RunDir(tmp_path)
    assert run.where() == [f"run folder: {tmp_path}"]  # nothing written yet: nothing named
    best = run.checkpoints / "step0000020-psnr33.100.ckpt"
    for path in (best, run.last_checkpoint, run.metrics_csv, run.test_metrics):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert run.where(best) == [
        f"run folder: {tmp_path}",
        "  checkpoint:  checkpoints/step0000020-psnr33.100.ckpt, checkpoints/last.ckpt",
        "  metrics:     csv/metrics.csv",
        "  test:        test_metrics.json",
        f"  report:      jointsr-report {tmp_path}"]
