"""The HDF5 patch store: built once, reused, verified, rebuilt when stale or damaged, worker-safe."""

from __future__ import annotations

import logging
import pickle

import h5py
import numpy as np
import pytest
import torch
from conftest import require_data
from data_helpers import write_tiny_set
from torch.utils.data import DataLoader

from jointsr.data.datamodule import SRDataModule
from jointsr.data.datasets import CAVE
from jointsr.data.degradation import Bicubic, GaussianBlur
from jointsr.data.store import H5PatchDataset, PatchStore, StoreError, check_store


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_set(tmp_path / "data" / "tiny")


def _module(tiny, tmp_path, **options) -> SRDataModule:
    settings = dict(scale=4, patch_size=16, val_names=["d"], cache_dir=tmp_path / "cache", progress=False)
    settings.update(options)
    return SRDataModule(tiny, **settings)


def test_built_once_then_a_cache_hit(tiny, tmp_path):
    first = _module(tiny, tmp_path)
    first.setup("fit")
    path = first.patch_store().path
    assert "built" in first.store_status and path.is_file() and path.parent == tmp_path / "cache"
    stamp = path.stat().st_mtime_ns
    second = _module(tiny, tmp_path)
    second.setup("fit")
    assert "hit" in second.store_status and path.stat().st_mtime_ns == stamp
    # the store holds exactly the patches cut in memory from the decoded images
    direct = _module(tiny, tmp_path, store=False).build_patches()
    for name in ("hr", "lr", "guide"):
        np.testing.assert_array_equal(getattr(second.train_set, name).numpy(), getattr(direct, name))
    assert len(direct) == 3 * 4 * 4 * 2  # 3 images x 4x4 grid of 16-pixel patches (64x72) x 2 rotations
    assert not list((tmp_path / "cache").glob(".*partial"))


def test_attributes_hold_the_key_and_content_hash(tiny, tmp_path):
    module = _module(tiny, tmp_path)
    module.setup("fit")
    store = module.patch_store()
    with h5py.File(store.path) as handle:
        assert handle.attrs["key"] == store.key_json and handle.attrs["key_digest"] == store.digest
        assert len(handle.attrs["content_hash"]) == 64 and handle.attrs["count"] == len(module.train_set)
    assert store.key["names"] == ["a", "b", "c"] and store.key["val_names"] == ["d"]
    assert check_store(store.path, store.digest) is None


def _corrupt_one_value(path):
    with h5py.File(path, "r+") as handle:
        handle["hr"][3, 0, 2, 2] = handle["hr"][3, 0, 2, 2] + 0.5


@pytest.mark.parametrize("in_memory", [True, False])
def test_corrupt_store_detected_and_rebuilt(tiny, tmp_path, caplog, in_memory):
    module = _module(tiny, tmp_path, in_memory=in_memory)
    module.setup("fit")
    path = module.patch_store().path
    _corrupt_one_value(path)
    assert check_store(path) == "corrupt (content hash mismatch)"
    with pytest.raises(StoreError, match="content hash mismatch"):
        module.patch_store().load()
    with caplog.at_level(logging.WARNING):
        again = _module(tiny, tmp_path, in_memory=in_memory)
        again.setup("fit")
    assert "rebuilt" in again.store_status
    assert "content hash mismatch" in caplog.text and "rebuilding" in caplog.text
    assert check_store(path) is None


def test_truncated_store_detected_and_rebuilt(tiny, tmp_path, caplog):
    module = _module(tiny, tmp_path)
    module.setup("fit")
    path = module.patch_store().path
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)
    assert check_store(path).startswith("unreadable (truncated")
    with caplog.at_level(logging.WARNING):
        again = _module(tiny, tmp_path)
        again.setup("fit")
    assert "rebuilt" in again.store_status and f"{path} is unreadable" in caplog.text
    assert len(again.train_set) == len(module.train_set)


def test_stale_and_unfinished_stores_detected(tiny, tmp_path):
    module = _module(tiny, tmp_path)
    module.setup("fit")
    store = module.patch_store()
    with h5py.File(store.path, "r+") as handle:
        handle.attrs["format"] = 0
    assert check_store(store.path, store.digest).startswith("stale (format 0")
    with h5py.File(store.path, "r+") as handle:
        del handle.attrs["content_hash"]
    assert check_store(store.path).startswith("incomplete")
    assert check_store(store.path.with_name("absent.h5")) == "missing"


def test_interrupted_build_leaves_nothing(tiny, tmp_path):
    module = _module(tiny, tmp_path)
    store = module.patch_store()

    def failing_parts():
        yield from [next(module._scene_patches())]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.build(failing_parts())
    assert not list((tmp_path / "cache").iterdir())


def _digest(tiny, tmp_path, **options) -> str:
    return _module(tiny, tmp_path, **options).patch_store().digest


def test_key_changes_with_everything_that_changes_the_patches(tiny, tmp_path):
    base = _digest(tiny, tmp_path)
    changed = {
        "scale": _digest(tiny, tmp_path, scale=2),
        "patch": _digest(tiny, tmp_path, patch_size=32),
        "stride": _digest(tiny, tmp_path, patch_stride=8),
        "rotations": _digest(tiny, tmp_path, rotations=(0,)),
        "guide": _digest(tiny, tmp_path, guide_channels=3),
        "val_names": _digest(tiny, tmp_path, val_names=["c"]),
        "blur": _digest(tiny, tmp_path, degradation=GaussianBlur(sigma=1.0)),
        "blur sigma": _digest(tiny, tmp_path, degradation=GaussianBlur(sigma=2.0)),
        "noise": _digest(tiny, tmp_path, degradation=Bicubic(noise_sigma=0.01)),
    }
    assert len({base, *changed.values()}) == len(changed) + 1, changed
    # the seed matters only for a random degradation
    assert _digest(tiny, tmp_path, seed=1) == base
    noisy = Bicubic(noise_sigma=0.01)
    assert _digest(tiny, tmp_path, seed=1, degradation=noisy) != _digest(tiny, tmp_path, seed=2, degradation=noisy)
    # batch size, workers, patch limits and reading mode do not change the store
    assert _digest(tiny, tmp_path, batch_size=3, num_workers=2, max_train_patches=5, in_memory=False) == base
    # the files' identity is part of the key
    target = tiny.files("a")[0]
    target.write_bytes(target.read_bytes() + b"\0")
    assert _digest(tiny, tmp_path) != base


def test_cave_band_changes_the_key(tmp_path):
    root = require_data("cave")
    keys = {band: PatchStore(tmp_path, {"dataset": CAVE(root, band=band).identity()}).digest for band in (25, 12)}
    assert keys[25] != keys[12]


def test_lazy_store_is_worker_safe_and_matches_memory(tiny, tmp_path):
    memory = _module(tiny, tmp_path, in_memory=True)
    memory.setup("fit")
    lazy = _module(tiny, tmp_path, in_memory=False, num_workers=2, batch_size=5)
    lazy.setup("fit")
    assert isinstance(lazy.train_set, H5PatchDataset) and lazy.train_set._file is None
    pickle.loads(pickle.dumps(lazy.train_set))  # spawn-safe: no handle travels
    loader = DataLoader(lazy.train_set, batch_size=5, shuffle=False, num_workers=2)
    batches = list(loader)
    hr = torch.cat([batch["hr"] for batch in batches])
    torch.testing.assert_close(hr, memory.train_set.hr, rtol=0, atol=0)
    torch.testing.assert_close(torch.cat([b["lr"] for b in batches]), memory.train_set.lr, rtol=0, atol=0)
    # the training loader itself (shuffled, persistent workers) runs through an epoch
    assert sum(len(b["hr"]) for b in lazy.train_dataloader()) == len(lazy.train_set) // 5 * 5


def test_max_train_patches_same_subset_in_both_modes(tiny, tmp_path):
    memory = _module(tiny, tmp_path, max_train_patches=10)
    memory.setup("fit")
    lazy = _module(tiny, tmp_path, max_train_patches=10, in_memory=False)
    lazy.setup("fit")
    assert len(memory.train_set) == len(lazy.train_set) == 10
    torch.testing.assert_close(torch.stack([lazy.train_set[i]["hr"] for i in range(10)]), memory.train_set.hr)


def test_cache_inside_the_data_folder_is_refused(tiny, tmp_path):
    with pytest.raises(ValueError, match="inside the data folder"):
        _module(tiny, tmp_path, cache_dir=tiny.root / "cache")


def test_real_cave_store_has_the_protocol_patch_count(tmp_path):
    dataset = CAVE(require_data("cave"))
    module = SRDataModule(dataset, scale=4, patch_size=44, val_names=["stuffed_toys", "superballs"],
                          cache_dir=tmp_path / "cache", progress=False)
    module.setup("fit")
    # 512 // 44 = 11: 121 patches per scene, 2 rotations, 18 training scenes (2 held out)
    assert len(module.train_set) == 18 * 121 * 2
    assert module.patch_store().path.name.startswith("cave-x4-p44-")
