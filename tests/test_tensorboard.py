"""logger=tensorboard: event files in the run folder holding the scalars and the validation grids
the CSV logger holds; composed alone, with the CSV logger (logger=local) or in a list."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import hydra
import numpy as np
import pytest
from conftest import compose_config, require_data

from jointsr.runs.folder import RunDir

TINY = ["model.net.k=8", "model.net.K=3", "data.progress=false", "data.max_train_patches=64",
        "data.max_test_images=1", "data.test_crop=64", "data.val_crop=48", "data.batch_size=4"]


def test_the_logger_groups_put_tensorboard_in_the_run_folder(tmp_path):
    cfg = compose_config("train", ["logger=local"], tmp_path)
    assert set(cfg.logger) == {"csv", "tensorboard"}
    logger = hydra.utils.instantiate(cfg.logger.tensorboard)
    assert Path(logger.log_dir) == RunDir.of(cfg).tensorboard
    assert set(compose_config("train", ["logger=tensorboard"], tmp_path).logger) == {"tensorboard"}
    assert set(compose_config("train", ["logger=[csv,wandb,tensorboard]"], tmp_path).logger) == \
        {"csv", "wandb", "tensorboard"}


def _events(run: RunDir):
    """The run's TensorBoard events, every scalar and image kept."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert run.event_files() and all(path.name.startswith("events.out.tfevents.") for path in run.event_files())
    events = EventAccumulator(str(run.tensorboard), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _decoded(image) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(image.encoded_image_string)).convert("L"))


def test_logger_tensorboard_alone_logs_val_psnr_and_labelled_grids(cli, tmp_path):
    require_data("rgbnir")
    result = cli("train", *TINY, "logger=tensorboard", "trainer.max_steps=4", "trainer.val_check_interval=2",
                 "test=false")
    assert result.code == 0, result.err[-3000:]
    run = RunDir(tmp_path / "run")
    assert not run.csv.exists()  # the one logger asked for
    events = _events(run)
    # val/psnr at the start (step 0) and each validation; the best checkpoint is named by its value
    logged = {event.step: event.value for event in events.Scalars("val/psnr")}
    assert sorted(logged) == [0, 2, 4]
    (best,) = run.best_checkpoints()
    assert best.name == f"step{max((2, 4), key=logged.get):07d}-psnr{max(logged[2], logged[4]):.3f}.ckpt"
    # a grid per validation: four 48-pixel panels under their label strip
    grids = events.Images("val/grid")
    assert [grid.step for grid in grids] == [0, 2, 4]
    height, width = _decoded(grids[-1]).shape
    assert width == 4 * 48 and height > 48


@pytest.mark.slow  # a second fit of the same size (4-10 s), for the comparison with the CSV logger
def test_with_the_csv_logger_tensorboard_holds_the_same_values_and_grids(cli, tmp_path):
    require_data("rgbnir")
    result = cli("train", *TINY, "logger=local", "trainer.max_steps=4", "trainer.val_check_interval=2", "test=false")
    assert result.code == 0, result.err[-3000:]
    run = RunDir(tmp_path / "run")
    events = _events(run)

    logged = {event.step: event.value for event in events.Scalars("val/psnr")}
    with run.metrics_csv.open(newline="") as stream:
        rows = {int(row["step"]): float(row["val/psnr"]) for row in csv.DictReader(stream) if row.get("val/psnr")}
    assert sorted(logged) == sorted(rows) == [0, 2, 4]
    assert all(math.isclose(logged[step], rows[step], rel_tol=1e-6) for step in rows)

    # the grid of every validation, pixel for pixel the PNG in csv/grids/
    from PIL import Image

    grids = events.Images("val/grid")
    assert [grid.step for grid in grids] == [0, 2, 4]
    for grid, png in zip(grids, run.grid_images()):
        np.testing.assert_array_equal(_decoded(grid), np.asarray(Image.open(png)))
