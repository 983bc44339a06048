"""The data configs on the real data: every dataset composes, depth tests its own set."""

from __future__ import annotations

import hydra
import pytest
import torch
from conftest import require_data
from data_helpers import write_tiny_set
from omegaconf import OmegaConf

from jointsr.data.datamodule import SRDataModule

DEPTH_TESTS = {"depth_middlebury": ("middlebury2005", 6), "depth_lu6": ("lu6", 6),
               "depth_nyu": ("nyuv2", 3), "depth_sintel": ("sintel", 4)}


@pytest.mark.parametrize("data", ["cave", "rgbnir", *DEPTH_TESTS])
@pytest.mark.parametrize("scale", ["x2", "x4", "x8", "x16"])
def test_every_data_config_composes_at_every_scale(compose_cfg, data, scale):
    cfg = compose_cfg("train", [f"data={data}", f"scale={scale}"])
    OmegaConf.to_container(cfg, resolve=True)
    assert cfg.data.patch_size % cfg.scale == 0 and cfg.data.cache_dir == cfg.paths.cache_dir


@pytest.mark.parametrize("data", list(DEPTH_TESTS))
def test_depth_configs_train_on_middlebury30_and_test_their_set(compose_cfg, data):
    require_data("depth")
    cfg = compose_cfg("eval", [f"data={data}", "scale=x16"])
    module = hydra.utils.instantiate(cfg.data)
    name, count = DEPTH_TESTS[data]
    assert module.dataset.name == "middlebury30" and module.name == name
    module.prepare_data()
    module.setup("test")
    assert len(module.test_set) == count
    item = module.test_set[0]
    assert item["hr"].shape[-1] == item["lr"].shape[-1] * 16 and item["guide"].shape[0] == 1
    assert 0 <= item["hr"].min() and item["hr"].max() <= 1


def test_cave_band_is_selectable_from_the_config(compose_cfg):
    cfg = compose_cfg("train", ["data=cave", "data.dataset.band=12"])
    assert hydra.utils.instantiate(cfg.data.dataset).band == 12


def test_debug_fast_builds_through_the_store(compose_cfg, tmp_path):
    require_data("rgbnir")
    cfg = compose_cfg("train", ["debug=fast", "data.progress=false"])
    module = hydra.utils.instantiate(cfg.data)
    module.prepare_data()
    module.setup("fit")
    assert len(module.train_set) == 64 and "patch store built" in module.store_status
    assert module.patch_store().path.parent == tmp_path / "cache"


def test_patch_size_not_divisible_by_the_scale_names_both(tmp_path):
    with pytest.raises(ValueError, match="patch_size=44 is not divisible by scale=8"):
        SRDataModule(write_tiny_set(tmp_path / "tiny"), scale=8, patch_size=44, cache_dir=tmp_path / "c")


@pytest.mark.parametrize("kwargs,message", [
    ({"batch_size": 0}, "data.batch_size=0 is out of range: it must be an integer >= 1"),
    ({"num_workers": -1}, "data.num_workers=-1 is out of range"),
    ({"patch_stride": 6}, "data.patch_stride=6 is not divisible by scale=4"),
    ({"val_crop": 0}, "data.val_crop=0 is out of range: it must be an integer >= 4 that is a multiple"),
    ({"test_crop": 30}, "data.test_crop=30 is not divisible by scale=4"),
    ({"max_test_images": 0}, "data.max_test_images=0 is out of range"),
    ({"guide_channels": 2}, "data.guide_channels=2 is not allowed: use one of 1, 3"),
    ({"rotations": [0, 45]}, "multiple of 90"),
    ({"seed": -1}, "seed=-1 is out of range"),
    ({"batch_size": 2.5}, "data.batch_size=2.5 must be an integer"),
    ({"val_names": ["z"]}, r"data.val_names: \['z'\] are not training images"),
])
def test_every_config_value_is_checked_with_its_allowed_range(tmp_path, kwargs, message):
    from jointsr.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        SRDataModule(write_tiny_set(tmp_path / "tiny"), scale=4, patch_size=16, cache_dir=tmp_path / "c", **kwargs)


def test_too_few_patches_for_one_batch_is_named(tmp_path):
    from jointsr.errors import ConfigError

    module = SRDataModule(write_tiny_set(tmp_path / "tiny"), scale=4, patch_size=16, batch_size=8,
                          max_train_patches=5, cache_dir=tmp_path / "c", progress=False)
    module.setup("fit")
    with pytest.raises(ConfigError, match="5 training patches.*data.batch_size=8"):
        module.train_dataloader()


def test_prepare_data_checks_the_files_against_their_checksums(tmp_path):
    from cli_helpers import corrupt_copy, linked_dataset

    from jointsr.data.datasets import CAVE
    from jointsr.data.datasets.base import DatasetCorruptError

    require_data("cave")
    data = linked_dataset(tmp_path / "data", "cave")
    module = SRDataModule(CAVE(data / "cave"), scale=4, cache_dir=tmp_path / "c")
    module.prepare_data()  # intact (the links lead to the shared files)
    corrupt_copy(data / "cave" / "hairs" / "hairs_RGB.bmp", "flip")
    with pytest.raises(DatasetCorruptError, match="hairs_RGB.bmp does not match its SHA-256 in .*SHA256SUMS"):
        module.prepare_data()
    SRDataModule(CAVE(data / "cave"), scale=4, cache_dir=tmp_path / "c", verify_checksums=False).prepare_data()


def test_the_calibration_batch_is_drawn_with_the_seed_and_leaves_the_training_order_alone(compose_cfg):
    """A network's start is fit on ``count`` distinct training patches chosen by the seed;
    drawing them must not move the training loader (exact resume depends on its order)."""
    require_data("cave")

    def module(seed):
        cfg = compose_cfg("train", ["debug=fast", "data=cave", "data.progress=false", f"seed={seed}"])
        dm = hydra.utils.instantiate(cfg.data)
        dm.prepare_data()
        dm.setup("fit")
        return dm

    first, again, other = module(1), module(1), module(2)
    order = [b["name"] for b in first.train_dataloader()]
    batch = first.calibration_batch(40)
    assert {key: tuple(v.shape) for key, v in batch.items()} == {
        "lr": (40, 1, 11, 11), "guide": (40, 1, 44, 44), "hr": (40, 1, 44, 44)}
    assert torch.equal(batch["hr"], again.calibration_batch(40)["hr"]), "the same seed, the same patches"
    assert not torch.equal(batch["hr"], other.calibration_batch(40)["hr"]), "another seed, other patches"
    flat = batch["hr"].flatten(1)
    assert len({tuple(row[:64].tolist()) for row in flat}) == 40, "drawn without replacement"
    assert [b["name"] for b in first.train_dataloader()] == order
    assert first.calibration_batch(1000)["hr"].shape[0] == len(first.train_set) == 64
