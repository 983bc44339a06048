"""Every dataset on the real data: every data config of conf/data/ (found by discovery) builds its
DataModule and loads its images; the shipped datasets' split sizes, documented ranges and the
publishers' layouts as written here."""

from __future__ import annotations

import shutil

import discovery
import hydra
import numpy as np
import pytest
from conftest import DATA_DIR, require_data
from hydra.core.global_hydra import GlobalHydra
from PIL import Image

from jointsr.data.datasets import (
    CAVE,
    RGBNIR,
    DatasetNotFoundError,
    GuidedSRDataset,
    Lu6,
    Middlebury30,
    Middlebury2005,
    NYUv2,
    Sintel,
)
from jointsr.data.datasets.depth import MIDDLEBURY30_SAME_AS_2005

# (class, folder under the data dir, {split: size}, quantisation step of the target)
DATASETS = [
    (CAVE, ("cave",), {"train": 20, "test": 7}, 1 / 65535),
    (RGBNIR, ("rgbnir",), {"train": 20, "test": 8}, 1 / 255),
    (Middlebury30, ("depth", "middlebury30"), {"train": 24, "all": 30}, 1 / 255),
    (Middlebury2005, ("depth", "middlebury2005"), {"test": 6}, 1 / 255),
    (Lu6, ("depth", "lu6"), {"test": 6}, 1 / 255),
    (NYUv2, ("depth", "nyuv2_sample"), {"test": 3}, None),
    (Sintel, ("depth", "sintel"), {"test": 4}, 1 / 255),
]


@pytest.mark.parametrize("data", discovery.DATA)
def test_every_data_config_builds_its_datamodule_on_the_real_data(data, tmp_path):
    """The config's dataset (and test dataset) are datasets of the shared data folder with a
    training and a test split; the DataModule accepts them (its validation images are training
    images), names what it tests, and the first test image of each loads in [0, 1]."""
    require_data()
    cfg = discovery.data_config(data, tmp_path)
    GlobalHydra.instance().clear()
    datamodule = hydra.utils.instantiate(cfg.data)
    train, test = datamodule.dataset, datamodule.test_dataset
    for dataset in (train, test):
        assert isinstance(dataset, GuidedSRDataset)
        assert dataset.root.is_relative_to(DATA_DIR), dataset.root
        assert dataset.is_available(), dataset.missing()[:3]
    assert train.names("train") and test.names("test")
    assert datamodule.name == test.name and isinstance(test.name, str) and test.name
    assert set(datamodule.val_names) <= set(train.names("train"))
    for dataset, split in ((train, "train"), (test, "test")):
        target, guide = dataset.load(dataset.names(split)[0])
        assert target.dtype == np.float32 and target.ndim == 2 and guide.shape == (*target.shape, 3)
        assert 0.0 <= target.min() and target.max() <= 1.0 and 0.0 <= guide.min() and guide.max() <= 1.0


@pytest.mark.parametrize("cls,parts,sizes,step", DATASETS, ids=[d[0].name for d in DATASETS])
def test_dataset_loads_real_images_in_range(cls, parts, sizes, step):
    dataset = cls(require_data(*parts))
    assert {split: len(dataset.names(split)) for split in dataset.splits} == sizes
    assert dataset.is_available(), dataset.missing()[:3]
    for split in dataset.splits:
        name = dataset.names(split)[0]
        target, guide = dataset.load(name)
        assert target.dtype == np.float32 and target.ndim == 2
        assert guide.dtype == np.float32 and guide.shape == (*target.shape, 3)
        assert 0.0 <= target.min() and target.max() <= 1.0 and target.max() > 0.05
        assert 0.0 <= guide.min() and guide.max() <= 1.0
        if step is not None:  # integer images: values on the documented grid
            np.testing.assert_allclose(target / step, np.round(target / step), atol=2e-3)


def test_splits_are_disjoint_and_match_the_readme():
    for cls in (CAVE, RGBNIR):
        assert not set(cls.splits["train"]) & set(cls.splits["test"])
    assert "urban/0017" in RGBNIR.splits["test"] and "urban/0017" not in RGBNIR.splits["train"]


def test_middlebury30_training_leaves_out_the_2005_test_scenes():
    train = set(Middlebury30.splits["train"])
    assert not train & set(MIDDLEBURY30_SAME_AS_2005)
    assert sorted(MIDDLEBURY30_SAME_AS_2005.values()) == sorted(Middlebury2005.splits["test"])


def test_cave_band_25_is_640nm_and_scaled_from_16_bits():
    root = require_data("cave")
    target, _ = CAVE(root).load("balloons")
    raw = np.asarray(Image.open(root / "balloons" / "balloons_ms_25.png"))
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(target, raw.astype(np.float32) / 65535)


def test_cave_accepts_the_publisher_layout(tmp_path):
    source = require_data("cave", "balloons")
    scene = tmp_path / "balloons_ms" / "balloons_ms"
    scene.mkdir(parents=True)
    shutil.copy(source / "balloons_ms_25.png", scene / "balloons_ms_25.png")
    shutil.copy(source / "balloons_RGB.bmp", scene / "balloons_RGB.bmp")
    dataset = CAVE(tmp_path, splits={"train": ["balloons"]})
    assert dataset.files("balloons")[0] == scene / "balloons_ms_25.png"
    assert dataset.is_available()
    target, guide = dataset.load("balloons")
    reference = CAVE(source.parent).load("balloons")
    np.testing.assert_array_equal(target, reference[0])
    np.testing.assert_array_equal(guide, reference[1])
    # the RGB image one folder up (as in some unpacked archives) is found too
    shutil.move(scene / "balloons_RGB.bmp", scene.parent / "balloons_RGB.bmp")
    assert dataset.files("balloons")[1] == scene.parent / "balloons_RGB.bmp" and dataset.is_available()


def test_cave_other_band_needs_the_full_archive():
    root = require_data("cave")
    dataset = CAVE(root, band=12)
    assert dataset.files("balloons")[0].name == "balloons_ms_12.png"
    with pytest.raises(DatasetNotFoundError, match="move .* away(.|\n)*Band 12 .*510 nm.*31-band"):
        dataset.ensure_available()  # the shared folder is not empty: never downloaded into
    with pytest.raises(ValueError, match="1..31"):
        CAVE(root, band=32)


def test_depth_sets_without_an_archive_name_the_publisher(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="vision.middlebury.edu"):
        Middlebury2005(tmp_path / "nowhere").ensure_available()


def test_middlebury2005_target_and_guide_sizes_match():
    dataset = Middlebury2005(require_data("depth", "middlebury2005"))
    for name in dataset.names("test"):
        target, guide = dataset.load(name)  # load raises when the sizes differ
        assert target.shape[0] == 1088


def test_lu6_accepts_both_spellings_of_the_colour_files(tmp_path):
    source = require_data("depth", "lu6")
    for folder in ("Depth", "RGB"):
        (tmp_path / folder).mkdir()
    shutil.copy(source / "Depth" / "RGBD_01_output_depth.png", tmp_path / "Depth")
    shutil.copy(source / "RGB" / "RGBD_01_ouput_color.png", tmp_path / "RGB" / "RGBD_01_output_color.png")
    dataset = Lu6(tmp_path, splits={"test": ["01"]})
    assert dataset.files("01")[1].name == "RGBD_01_output_color.png" and dataset.is_available()


def test_nyu_depth_is_metres_over_max_depth(tmp_path):
    root = require_data("depth", "nyuv2_sample")
    metres = np.load(root / "Depth" / "1000.npy")
    target, _ = NYUv2(root).load("1000")
    np.testing.assert_allclose(target, np.clip(metres / 10.0, 0, 1), rtol=1e-6)
    assert target.max() < 1.0
    clipped, _ = NYUv2(root, max_depth=2.0).load("1000")
    assert clipped.max() == 1.0
    # 16-bit millimetres read as the same metres
    for folder in ("Depth", "RGB"):
        (tmp_path / folder).mkdir()
    Image.fromarray(np.round(metres * 1000).astype(np.uint16)).save(tmp_path / "Depth" / "1000.png")
    shutil.copy(root / "RGB" / "1000.jpg", tmp_path / "RGB")
    from_png, _ = NYUv2(tmp_path).load("1000")
    np.testing.assert_allclose(from_png, target, atol=1e-4)
    assert len(NYUv2(root, subset="full").names("test")) == 449
