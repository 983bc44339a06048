"""LightningDataModule: training patches, validation crops and whole test images."""

from __future__ import annotations

import logging
import time
from typing import Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from jointsr.data.datasets import GuidedSRDataset
from jointsr.data.degradation import Bicubic, Degradation
from jointsr.data.scenes import Patches, Scene, centre_crop, cut_patches, load_scene

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
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.timings: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self.dataset.name

    def train_names(self) -> list[str]:
        return [n for n in self.dataset.names("train") if n not in set(self.val_names)]

    def _scene(self, name: str) -> Scene:
        return load_scene(self.dataset, name, self.scale, self.degradation, self.guide_channels, self.seed)

    # -- Lightning hooks -----------------------------------------------------------------
    def prepare_data(self) -> None:
        self.dataset.ensure_available()

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            start = time.perf_counter()
            patches = self.build_patches()
            self.train_set = PatchDataset(patches)
            self.timings["patches_s"] = time.perf_counter() - start
            log.info("%s x%d: %d training patches of %dx%d from %d images in %.1f s", self.name,
                     self.scale, len(patches), self.patch_size, self.patch_size,
                     len(self.train_names()), self.timings["patches_s"])
        if stage in (None, "fit", "validate") and self.val_set is None:
            self.val_set = SceneDataset([centre_crop(self._scene(n), self.val_crop, self.scale)
                                         for n in self.val_names])
        if stage in (None, "test") and self.test_set is None:
            names = self.dataset.names("test")[: self.max_test_images]
            scenes = [self._scene(n) for n in names]
            if self.test_crop:
                scenes = [centre_crop(scene, self.test_crop, self.scale) for scene in scenes]
            self.test_set = SceneDataset(scenes)

    def build_patches(self) -> Patches:
        scenes = [self._scene(n) for n in self.train_names()]
        patches = cut_patches(scenes, self.scale, self.patch_size, self.patch_stride, self.rotations)
        if self.max_train_patches is not None and len(patches) > self.max_train_patches:
            keep = torch.randperm(len(patches), generator=torch.Generator().manual_seed(self.seed))
            keep = keep[: self.max_train_patches].sort().values.numpy()
            patches = Patches(hr=patches.hr[keep], lr=patches.lr[keep], guide=patches.guide[keep])
        return patches

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=1, num_workers=0)
