"""Your own image pairs as a dataset (data=pairs): a folder per split, no subclassing."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from cli_helpers import assert_user_error, run_main
from conftest import require_data

from jointsr.data.datasets.base import DatasetNotFoundError
from jointsr.data.datasets.cave import CAVE
from jointsr.data.datasets.pairs import FolderPairs

TRAIN, TEST = ["balloons", "beads", "cd"], ["feathers"]


def _pairs(folder):
    """Real CAVE scenes as a folder of pairs (links to the shared files)."""
    cave = require_data("cave")
    for split, scenes in (("train", TRAIN), ("test", TEST)):
        (folder / split).mkdir(parents=True)
        for scene in scenes:
            os.symlink(cave / scene / f"{scene}_ms_25.png", folder / split / f"{scene}_target.png")
            os.symlink(cave / scene / f"{scene}_RGB.bmp", folder / split / f"{scene}_guide.bmp")
    return folder


def test_a_folder_of_pairs_loads_as_the_dataset_it_copies(tmp_path):
    root = _pairs(tmp_path / "mine")
    pairs = FolderPairs(root, name="mine")
    assert pairs.names("train") == [f"train/{s}" for s in sorted(TRAIN)]
    assert pairs.names("test") == ["test/feathers"]
    target, guide = pairs.load("test/feathers")
    expected_target, expected_guide = CAVE(require_data("cave")).load("feathers")
    np.testing.assert_array_equal(target, expected_target)
    np.testing.assert_array_equal(guide, expected_guide)


def test_a_target_without_its_guide_is_named(tmp_path):
    root = _pairs(tmp_path / "mine")
    (root / "train" / "cd_guide.bmp").unlink()
    with pytest.raises(DatasetNotFoundError, match="cd_target.png: no guide cd_guide"):
        FolderPairs(root)


def test_train_and_test_on_your_own_pairs(tmp_path, capsys, monkeypatch):
    root = _pairs(tmp_path / "mine")
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    result = run_main("train", ["data=pairs", f"data.dataset.root={root}", "data.val_names=[train/cd]",
                                "model.net.k=8", "model.net.K=3", "logger=csv", "trainer.max_steps=2",
                                "data.max_train_patches=32", "data.batch_size=4", "data.val_crop=48",
                                "data.test_crop=64", "data.progress=false", f"hydra.run.dir={run}"],
                      capsys, monkeypatch)
    assert result.code == 0, result.err[-3000:]
    document = json.loads((run / "test_metrics.json").read_text())
    assert document["data"] == "pairs" and [r["name"] for r in document["per_image"]] == ["test/feathers"]
    assert document["bicubic"]["per_image"]["test/feathers"]["psnr"] > 0


def test_a_missing_test_folder_says_the_layout(tmp_path, capsys, monkeypatch):
    root = _pairs(tmp_path / "mine")
    for path in (root / "test").iterdir():
        path.unlink()
    (root / "test").rmdir()
    monkeypatch.setenv("JOINTSR_CACHE_DIR", str(tmp_path / "cache"))
    result = run_main("eval", ["model=bicubic", "data=pairs", f"data.dataset.root={root}", "logger=csv",
                               f"hydra.run.dir={tmp_path / 'run'}"], capsys, monkeypatch)
    assert_user_error(result, "no test/ images", "_target.png")
