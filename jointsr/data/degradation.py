"""Degradations that make the LR target from the HR target (method.md section 6)."""

from __future__ import annotations

import numpy as np
import torch

from jointsr.data.imresize import imresize


class Degradation:
    """``hr (H, W) float32 -> lr (H/s, W/s)``; ``key`` names it in caches and stores."""

    def __call__(self, hr: np.ndarray, scale: int, seed: int = 0) -> np.ndarray:
        raise NotImplementedError

    @property
    def key(self) -> str:
        raise NotImplementedError


class Bicubic(Degradation):
    """MATLAB ``imresize(hr, 1/s, 'bicubic')`` (antialiased): the paper's degradation."""

    def __call__(self, hr: np.ndarray, scale: int, seed: int = 0) -> np.ndarray:
        if hr.shape[-2] % scale or hr.shape[-1] % scale:
            raise ValueError(f"HR size {hr.shape[-2:]} is not a multiple of the scale {scale}: modcrop first")
        lr = imresize(torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float64)), scale=1.0 / scale)
        return lr.numpy().astype(np.float32)

    @property
    def key(self) -> str:
        return "bicubic"
