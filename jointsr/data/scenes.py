"""From dataset files to model inputs: crop, degrade, convert the guide, cut patches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from jointsr.data.datasets import GuidedSRDataset
from jointsr.data.degradation import Degradation, image_seed
from jointsr.errors import ConfigError
from jointsr.functional.color import rgb_to_y
from jointsr.functional.imresize import modcrop


@dataclass
class Scene:
    """One image triple on the model's grids, channel-first float32."""

    name: str
    hr: np.ndarray     # (1, H, W) target, H and W multiples of the scale
    lr: np.ndarray     # (1, H/s, W/s)
    guide: np.ndarray  # (C, H, W): C = 1 (luminance Y) or 3 (RGB)


def load_scene(dataset: GuidedSRDataset, name: str, scale: int, degradation: Degradation,
               guide_channels: int = 1, seed: int = 0) -> Scene:
    """Load one image pair, ``modcrop`` it to the scale and make its LR target.

    The guide is the luminance Y (MATLAB ``rgb2ycbcr``) for ``guide_channels=1``, RGB for 3.
    The degradation's seed is ``image_seed(seed, dataset.name, name)``: per image, and the
    same whichever order or process the image is loaded in.
    """
    if guide_channels not in (1, 3):
        raise ValueError(f"guide_channels must be 1 (luminance) or 3 (RGB), got {guide_channels}")
    target, rgb = dataset.load(name)
    target = np.ascontiguousarray(modcrop(target, scale))
    rgb = np.ascontiguousarray(modcrop(rgb.transpose(2, 0, 1), scale))  # (3, H, W)
    guide_image = rgb if guide_channels == 3 else rgb_to_y(rgb.transpose(1, 2, 0))[None]
    lr = degradation(target, scale, seed=image_seed(seed, dataset.name, name))
    return Scene(name=name, hr=target[None].astype(np.float32), lr=lr[None].astype(np.float32),
                 guide=np.ascontiguousarray(guide_image, dtype=np.float32))


def centre_crop(scene: Scene, size: int, scale: int) -> Scene:
    """An HR ``size x size`` centre crop (corner on the LR grid) of a scene."""
    if size % scale:
        raise ValueError(f"validation crop {size} is not divisible by the scale {scale}")
    height, width = scene.hr.shape[-2:]
    size_h, size_w = min(size, height), min(size, width)
    top = ((height - size_h) // 2) // scale * scale
    left = ((width - size_w) // 2) // scale * scale
    rows, cols = slice(top, top + size_h), slice(left, left + size_w)
    lr_rows = slice(top // scale, (top + size_h) // scale)
    lr_cols = slice(left // scale, (left + size_w) // scale)
    return Scene(name=scene.name, hr=scene.hr[:, rows, cols], lr=scene.lr[:, lr_rows, lr_cols],
                 guide=scene.guide[:, rows, cols])


def grid_origins(length: int, patch: int, stride: int) -> list[int]:
    """Top-left corners of a regular grid of patches inside ``length`` samples."""
    return list(range(0, length - patch + 1, stride))


@dataclass
class Patches:
    """Training patches as arrays: hr (N,1,P,P), lr (N,1,P/s,P/s), guide (N,C,P,P)."""

    hr: np.ndarray
    lr: np.ndarray
    guide: np.ndarray

    def __len__(self) -> int:
        return self.hr.shape[0]


def _rotation_turns(rotations: Sequence[int]) -> list[int]:
    turns = []
    for angle in rotations:
        if angle % 90:
            raise ValueError(f"rotations must be multiples of 90 degrees, got {angle}")
        turns.append((angle // 90) % 4)
    return turns


def _check_grid(scale: int, patch_size: int, stride: int) -> None:
    if patch_size % scale:
        raise ValueError(f"patch_size {patch_size} is not divisible by the scale {scale}")
    if stride % scale:
        raise ValueError(f"patch stride {stride} is not divisible by the scale {scale}")


def scene_patches(scene: Scene, scale: int, patch_size: int, stride: int,
                  rotations: Sequence[int] = (0, 90)) -> Patches:
    """The patches of one scene (possibly none), in grid order, each followed by its rotations.

    The LR patch is cut from the LR image of the whole scene (not degraded per patch),
    so patches carry no border artefacts of the degradation.
    """
    _check_grid(scale, patch_size, stride)
    turns = _rotation_turns(rotations)
    lr_patch = patch_size // scale
    hr_list, lr_list, guide_list = [], [], []
    height, width = scene.hr.shape[-2:]
    for top in grid_origins(height, patch_size, stride):
        for left in grid_origins(width, patch_size, stride):
            hr = scene.hr[:, top:top + patch_size, left:left + patch_size]
            guide = scene.guide[:, top:top + patch_size, left:left + patch_size]
            lr = scene.lr[:, top // scale:top // scale + lr_patch, left // scale:left // scale + lr_patch]
            for k in turns:
                hr_list.append(np.rot90(hr, k, axes=(1, 2)))
                lr_list.append(np.rot90(lr, k, axes=(1, 2)))
                guide_list.append(np.rot90(guide, k, axes=(1, 2)))
    channels = scene.guide.shape[0]
    if not hr_list:
        return Patches(hr=np.zeros((0, 1, patch_size, patch_size), np.float32),
                       lr=np.zeros((0, 1, lr_patch, lr_patch), np.float32),
                       guide=np.zeros((0, channels, patch_size, patch_size), np.float32))
    return Patches(hr=np.ascontiguousarray(np.stack(hr_list)), lr=np.ascontiguousarray(np.stack(lr_list)),
                   guide=np.ascontiguousarray(np.stack(guide_list)))


def cut_patches(scenes: Sequence[Scene], scale: int, patch_size: int, stride: int,
                rotations: Sequence[int] = (0, 90)) -> Patches:
    """Aligned HR/LR/guide patches of every scene on a regular grid, with rotated copies."""
    _check_grid(scale, patch_size, stride)
    _rotation_turns(rotations)
    parts = [scene_patches(scene, scale, patch_size, stride, rotations) for scene in scenes]
    if not sum(len(part) for part in parts):
        raise ConfigError(f"no {patch_size}x{patch_size} patch fits in the training images: lower "
                          f"data.patch_size")
    return Patches(hr=np.concatenate([p.hr for p in parts]), lr=np.concatenate([p.lr for p in parts]),
                   guide=np.concatenate([p.guide for p in parts]))
