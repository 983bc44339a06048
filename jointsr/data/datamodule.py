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
from jointsr.data.sampling import ResumableLoader
from jointsr.data.scenes import (
    Patches,
    Scene,
    centre_crop,
    cut_patches,
    load_scene,
    scene_patches,
)
from jointsr.data.store import (
    H5PatchDataset,
    PatchStore,
    StoreError,
    default_cache_dir,
    ensure_store,
    store_key,
)
from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.metrics.protocol import DEPTH_BORDER, DEPTH_UNITS, depth_unit_scale

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
        val_names: training images whose centre crops are validated.
        val_holdout: remove the ``val_names`` images from training (a held-out validation,
            the budget protocol); ``False`` trains on every training image (the paper
            protocol) and the validation crops are then crops of training images: a
            training-fit monitor, not a model-selection set.
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
        verify_checksums: check the dataset files against their known SHA-256 digests (a
            ``SHA256SUMS`` beside the data, :mod:`jointsr.data.checksums`) in ``prepare_data``,
            before any patch is cut or image tested.
        progress: show progress bars while building stores.
        rmse_unit: the guided-depth RMSE's unit for the test set (``0-255`` for disparity or
            8-bit depth, ``cm`` for metric depth; :data:`~jointsr.metrics.protocol.DEPTH_UNITS`),
            reported beside PSNR/SSIM with and without the border crop; ``None``: no RMSE.
        rmse_border: the pixels per side the cropped RMSE leaves out (6 in the DKN / FDSR line of
            work; 0 gives the whole image twice, as papers that do not crop, e.g. DCTNet).
    """

    def __init__(
        self,
        dataset: GuidedSRDataset,
        scale: int,
        patch_size: int = 44,
        patch_stride: int | None = None,
        rotations: Sequence[int] = (0, 90),
        val_names: Sequence[str] = (),
        val_holdout: bool = True,
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
        verify_checksums: bool = True,
        progress: bool = True,
        rmse_unit: str | None = None,
        rmse_border: int = DEPTH_BORDER,
    ) -> None:
        super().__init__()
        scale = check_int("scale", scale, 1)
        patch_size = check_int("data.patch_size", patch_size, scale, multiple_of=scale)
        patch_stride = patch_size if patch_stride is None else \
            check_int("data.patch_stride", patch_stride, scale, multiple_of=scale)
        self.dataset, self.scale, self.patch_size, self.patch_stride = dataset, scale, patch_size, patch_stride
        if any(isinstance(angle, bool) or not isinstance(angle, int) or angle % 90 for angle in rotations):
            raise ConfigError(f"data.rotations={list(rotations)}: every rotation must be a multiple of 90 "
                              f"degrees, e.g. [0, 90]")
        self.rotations, self.val_names = tuple(rotations), list(val_names)
        if not isinstance(val_holdout, bool):
            raise ConfigError(f"data.val_holdout={val_holdout!r} must be true (hold the val_names images out "
                              f"of training) or false (train on every training image)")
        self.val_holdout = val_holdout
        self.val_crop = check_int("data.val_crop", val_crop, scale, multiple_of=scale)
        self.guide_channels = int(check_choice("data.guide_channels", guide_channels, (1, 3)))
        if degradation is not None and not isinstance(degradation, Degradation):
            raise ConfigError(f"data.degradation must be a jointsr.data.degradation.Degradation, got "
                              f"{type(degradation).__name__}")
        self.degradation = degradation or Bicubic()
        self.batch_size = check_int("data.batch_size", batch_size, 1)
        self.num_workers = check_int("data.num_workers", num_workers, 0)
        self.max_train_patches = None if max_train_patches is None else \
            check_int("data.max_train_patches", max_train_patches, 1)
        self.max_test_images = None if max_test_images is None else \
            check_int("data.max_test_images", max_test_images, 1)
        self.seed = check_int("seed", seed, 0)
        self.test_crop = None if test_crop is None else \
            check_int("data.test_crop", test_crop, scale, multiple_of=scale)
        unknown = set(self.val_names) - set(dataset.names("train"))
        if unknown:
            raise ConfigError(f"data.val_names: {sorted(unknown)} are not training images of {dataset.name} "
                              f"(its training images: {', '.join(dataset.names('train')[:4])} ...)")
        self.test_dataset = test_dataset or dataset
        self.test_dataset.names("test")  # fail early when it has no test split
        self.store, self.in_memory, self.verify_store = bool(store), bool(in_memory), bool(verify_store)
        self.verify_checksums = bool(verify_checksums)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.progress = bool(progress)
        if rmse_unit is not None:
            check_choice("data.rmse_unit", rmse_unit, tuple(DEPTH_UNITS))
            if rmse_unit == "cm" and self.test_dataset.metres_per_unit(self.test_dataset.names("test")[0]) is None:
                raise ConfigError(f"data.rmse_unit=cm: {self.test_dataset.name} is not metric depth (it gives no "
                                  f"metres per unit); use data.rmse_unit=0-255 or null")
        self.rmse_unit = rmse_unit
        self.rmse_border = check_int("data.rmse_border", rmse_border, 0)
        if self.store:
            for data in self.datasets():
                if self.cache_dir.resolve().is_relative_to(data.root.resolve()):
                    raise ConfigError(f"cache_dir {self.cache_dir} is inside the data folder {data.root}: "
                                      f"stores must live elsewhere (set JOINTSR_CACHE_DIR or "
                                      f"paths.cache_dir=...)")
        self.train_set: Dataset | None = None
        self._train_loader: ResumableLoader | None = None
        self._loader_state: dict | None = None  # a checkpoint's position, for the next train loader
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.timings: dict[str, float] = {}
        #: how the training patches were obtained, e.g. "patch store hit: <path>" (for logs)
        self.store_status: str | None = None

    @property
    def name(self) -> str:
        """The tested dataset's name (what result tables report)."""
        return self.test_dataset.name

    def rmse_scales(self) -> dict[str, float] | None:
        """Per test image, the factor from its [0, 1] RMSE to ``rmse_unit`` (None: no RMSE)."""
        if self.rmse_unit is None:
            return None
        names = self.test_dataset.names("test")[: self.max_test_images]
        return {name: depth_unit_scale(self.rmse_unit, self.test_dataset.metres_per_unit(name)) for name in names}

    def train_names(self) -> list[str]:
        """The training images: the ``train`` split, less ``val_names`` when held out."""
        held_out = set(self.val_names) if self.val_holdout else set()
        return [n for n in self.dataset.names("train") if n not in held_out]

    def _scene(self, name: str) -> Scene:
        return load_scene(self.dataset, name, self.scale, self.degradation, self.guide_channels, self.seed)

    # -- Lightning hooks -----------------------------------------------------------------
    def prepare_data(self) -> None:
        """Fetch missing datasets; check every file of them against its known checksum."""
        for data in self.datasets():
            data.ensure_available()
        if self.verify_checksums:
            for data in self.datasets():
                data.verify_checksums()

    def datasets(self) -> list[GuidedSRDataset]:
        """The training dataset and, when another, the tested one."""
        return list({id(d): d for d in (self.dataset, self.test_dataset)}.values())

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
        held_out = self.val_names if self.val_holdout else []
        key = store_key(self.dataset, self.train_names(), held_out, self.scale, self.patch_size,
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
        # the order is a function of (seed, epoch) and the loader's position is saved in every
        # checkpoint: a killed run resumes mid-epoch on exactly the batches it would have seen
        if len(self.train_set) < self.batch_size:  # the last partial batch is dropped: no batch at all
            raise ConfigError(f"{self.dataset.name} x{self.scale}: {len(self.train_set)} training patches of "
                              f"{self.patch_size}x{self.patch_size}, fewer than data.batch_size="
                              f"{self.batch_size}: lower the batch size or raise data.max_train_patches")
        self._train_loader = ResumableLoader(self.train_set, batch_size=self.batch_size, seed=self.seed,
                                             num_workers=self.num_workers)
        if self._loader_state is not None:
            self._train_loader.load_state_dict(self._loader_state)
            self._loader_state = None
        return self._train_loader

    def calibration_batch(self, count: int) -> dict[str, torch.Tensor]:
        """``count`` training patches drawn without replacement with the run's seed (all of
        them when there are fewer), stacked into one batch: what a network's data-driven
        start is fit on. Drawn with a generator of its own, so the training order and its
        saved position are untouched."""
        count = min(check_int("model.calibration_patches", count, 1), len(self.train_set))
        order = torch.randperm(len(self.train_set), generator=torch.Generator().manual_seed(self.seed))
        items = [self.train_set[int(i)] for i in order[:count]]
        return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in ("lr", "guide", "hr")}

    # -- checkpoints: the position in the training order ----------------------------------
    # Lightning also saves a stateful loader's state itself, but restores it only when the
    # loader is created after the loops are restored, which is not the case when the
    # schedule asks for trainer.estimated_stepping_batches; the DataModule's own state is
    # restored before any loader exists, so it is the one relied on.
    def state_dict(self) -> dict:
        return {"train_loader": self._train_loader.state_dict()} if self._train_loader is not None else {}

    def load_state_dict(self, state_dict: dict) -> None:
        self._loader_state = state_dict.get("train_loader")
        if self._loader_state is not None and self._train_loader is not None:
            self._train_loader.load_state_dict(self._loader_state)
            self._loader_state = None

    # evaluation loaders, like the training one, never draw from the global generator (a
    # validation between two training steps would move the stream a network draws from)
    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0, generator=torch.Generator().manual_seed(0))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=1, num_workers=0, generator=torch.Generator().manual_seed(0))
