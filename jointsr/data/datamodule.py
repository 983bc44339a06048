"""LightningDataModule: training patches (through the HDF5 store), validation crops, test images."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterator, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from jointsr.data.datasets import GuidedSRDataset
from jointsr.data.degradation import Bicubic, Degradation
from jointsr.data.scenes import Patches, Scene, centre_crop, cut_patches, load_scene, scene_patches
from jointsr.data.store import (H5PatchDataset, PatchStore, StoreError, default_cache_dir, ensure_store,
                                store_key)

log = logging.getLogger(__name__)


class PatchDataset(Dataset):
    """Training patches held in memory: indexing is a view, no decoding per step."""

    def __init__(self, patches: Patches) -> None:
        self.hr = torch.from_numpy(patches.hr)
        self.lr = torch.from_numpy(patches.lr)
        self.guide = torch.from_numpy(patches.guide)

    def __len__(self) -> int:
        return self.hr.shape[0]

    def __getitem__(self, index: int) -> dict:
        return {"lr": self.lr[index], "guide": self.guide[index], "hr": self.hr[index], "name": str(index)}


class SceneDataset(Dataset):
    """Whole images (or crops), one per item, with their names."""

    def __init__(self, scenes: Sequence[Scene]) -> None:
        self.scenes = list(scenes)

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, index: int) -> dict:
        scene = self.scenes[index]
        return {"lr": torch.from_numpy(scene.lr), "guide": torch.from_numpy(scene.guide),
                "hr": torch.from_numpy(scene.hr), "name": scene.name}


class SRDataModule(L.LightningDataModule):
    """Guided SR data under the paper protocol.

    Args:
        dataset: the dataset (files and official split).
        scale: upscaling factor.
        patch_size: HR training patch side (divisible by the scale).
        patch_stride: grid step of the training patches (default: ``patch_size``, no overlap).
        rotations: rotated copies of every patch (degrees, multiples of 90).
        val_names: training images held out for validation (removed from training).
        val_crop: HR side of the validation centre crops (whole-image inference is slow on CPU).
        guide_channels: 1 (luminance Y, MATLAB rgb2ycbcr) or 3 (RGB).
        max_train_patches / max_test_images / test_crop: limits for quick runs (None = all,
            whole test images as the protocol says).
        test_dataset: the dataset whose ``test`` split is tested (default: ``dataset``), e.g.
            depth models trained on middlebury30 and tested on middlebury2005.
        store: build the training patches once into an HDF5 store in ``cache_dir`` and reuse
            it (False: cut them in memory from the decoded images on every run).
        cache_dir: where stores live (default ``$JOINTSR_CACHE_DIR`` or the user's cache).
        in_memory: read the whole store into memory (fastest); False reads patches lazily
            from the file, one h5py handle per DataLoader worker.
        verify_store: check a lazily read store's content hash when opening it (a full read;
            in-memory loading always checks it).
        progress: show progress bars while building stores.
    """

    def __init__(
        self,
        dataset: GuidedSRDataset,
        scale: int,
        patch_size: int = 44,
        patch_stride: int | None = None,
        rotations: Sequence[int] = (0, 90),
        val_names: Sequence[str] = (),
        val_crop: int = 256,
        guide_channels: int = 1,
        degradation: Degradation | None = None,
        batch_size: int = 16,
        num_workers: int = 0,
        max_train_patches: int | None = None,
        max_test_images: int | None = None,
        test_crop: int | None = None,
        seed: int = 0,
        test_dataset: GuidedSRDataset | None = None,
        store: bool = True,
        cache_dir: str | os.PathLike | None = None,
        in_memory: bool = True,
        verify_store: bool = True,
        progress: bool = True,
    ) -> None:
        super().__init__()
        if patch_size % scale:
            raise ValueError(f"data.patch_size={patch_size} is not divisible by scale={scale}: "
                             f"choose a patch size that is a multiple of {scale}")
        self.dataset, self.scale, self.patch_size = dataset, int(scale), int(patch_size)
        self.patch_stride = int(patch_stride or patch_size)
        self.rotations, self.val_names, self.val_crop = tuple(rotations), list(val_names), val_crop
        if guide_channels not in (1, 3):
            raise ValueError(f"data.guide_channels must be 1 (luminance) or 3 (RGB), got {guide_channels}")
        self.guide_channels = int(guide_channels)
        self.degradation = degradation or Bicubic()
        self.batch_size, self.num_workers = batch_size, num_workers
        self.max_train_patches, self.max_test_images, self.seed = max_train_patches, max_test_images, seed
        self.test_crop = test_crop
        unknown = set(self.val_names) - set(dataset.names("train"))
        if unknown:
            raise ValueError(f"val_names {sorted(unknown)} are not training images of {dataset.name}")
        self.test_dataset = test_dataset or dataset
        self.test_dataset.names("test")  # fail early when it has no test split
        self.store, self.in_memory, self.verify_store = bool(store), bool(in_memory), bool(verify_store)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.progress = bool(progress)
        if self.store:
            for data in {id(d): d for d in (self.dataset, self.test_dataset)}.values():
                if self.cache_dir.resolve().is_relative_to(data.root.resolve()):
                    raise ValueError(f"cache_dir {self.cache_dir} is inside the data folder {data.root}: "
                                     f"stores must live elsewhere (set JOINTSR_CACHE_DIR or "
                                     f"paths.cache_dir=...)")
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.timings: dict[str, float] = {}
        #: how the training patches were obtained, e.g. "patch store hit: <path>" (for logs)
        self.store_status: str | None = None

    @property
    def name(self) -> str:
        """The tested dataset's name (what result tables report)."""
        return self.test_dataset.name

    def train_names(self) -> list[str]:
        return [n for n in self.dataset.names("train") if n not in set(self.val_names)]

    def _scene(self, name: str) -> Scene:
        return load_scene(self.dataset, name, self.scale, self.degradation, self.guide_channels, self.seed)

    # -- Lightning hooks -----------------------------------------------------------------
    def prepare_data(self) -> None:
        self.dataset.ensure_available()
        if self.test_dataset is not self.dataset:
            self.test_dataset.ensure_available()

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            start = time.perf_counter()
            self.train_set = self.build_train_set()
            self.timings["patches_s"] = time.perf_counter() - start
            log.info("%s x%d: %d training patches of %dx%d from %d images in %.1f s (%s)",
                     self.dataset.name, self.scale, len(self.train_set), self.patch_size,
                     self.patch_size, len(self.train_names()), self.timings["patches_s"],
                     self.store_status or "cut in memory, no store")
        if stage in (None, "fit", "validate") and self.val_set is None:
            self.val_set = SceneDataset([centre_crop(self._scene(n), self.val_crop, self.scale)
                                         for n in self.val_names])
        if stage in (None, "test") and self.test_set is None:
            names = self.test_dataset.names("test")[: self.max_test_images]
            scenes = [load_scene(self.test_dataset, n, self.scale, self.degradation, self.guide_channels,
                                 self.seed) for n in names]
            if self.test_crop:
                scenes = [centre_crop(scene, self.test_crop, self.scale) for scene in scenes]
            self.test_set = SceneDataset(scenes)

    # -- training patches ------------------------------------------------------------------
    def patch_store(self) -> PatchStore:
        """The store of this configuration's training patches (it may not exist yet)."""
        key = store_key(self.dataset, self.train_names(), self.val_names, self.scale, self.patch_size,
                        self.patch_stride, self.rotations, self.guide_channels, self.degradation, self.seed)
        return PatchStore(self.cache_dir, key)

    def _scene_patches(self) -> Iterator[Patches]:
        for name in self.train_names():
            yield scene_patches(self._scene(name), self.scale, self.patch_size, self.patch_stride,
                                self.rotations)

    def prepare_store(self, verify: bool | None = None) -> tuple[PatchStore, str]:
        """Build the store unless a usable one exists; returns it and "hit", "built" or "rebuilt".

        ``verify``: check an existing store's content hash (default: only when it will be read
        lazily; in-memory loading checks the hash as it reads).
        """
        store = self.patch_store()
        if verify is None:
            verify = self.verify_store and not self.in_memory
        status = ensure_store(store, self._scene_patches, len(self.train_names()), verify=verify,
                              progress=self.progress)
        return store, status

    def _subset(self, count: int) -> np.ndarray | None:
        """Indices kept by ``max_train_patches`` (a seeded random subset, in order), or None."""
        if self.max_train_patches is None or count <= self.max_train_patches:
            return None
        keep = torch.randperm(count, generator=torch.Generator().manual_seed(self.seed))
        return keep[: self.max_train_patches].sort().values.numpy()

    def build_patches(self) -> Patches:
        """The training patches in memory: from the store when enabled, else cut from the images."""
        if self.store:
            store, status = self.prepare_store()
            try:
                patches = store.load()
            except StoreError as error:  # the content hash is checked here, as the patches are read
                log.warning("%s: rebuilding it", error)
                store.path.unlink(missing_ok=True)
                store, _ = self.prepare_store()
                patches, status = store.load(), "rebuilt"
            self.store_status = f"patch store {status}: {store.path}"
        else:
            scenes = [self._scene(n) for n in self.train_names()]
            patches = cut_patches(scenes, self.scale, self.patch_size, self.patch_stride, self.rotations)
        keep = self._subset(len(patches))
        if keep is not None:
            patches = Patches(hr=patches.hr[keep], lr=patches.lr[keep], guide=patches.guide[keep])
        return patches

    def build_train_set(self) -> Dataset:
        """The training Dataset: patches in memory, or read lazily from the store."""
        if self.store and not self.in_memory:
            store, status = self.prepare_store()
            self.store_status = f"patch store {status}, read lazily: {store.path}"
            return H5PatchDataset(store.path, indices=self._subset(int(store.attrs()["count"])))
        return PatchDataset(self.build_patches())

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=1, num_workers=0)
