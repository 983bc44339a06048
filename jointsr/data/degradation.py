"""Degradations that make the LR target from the HR target (method.md section 6).

``Degradation(hr (H, W), scale, seed) -> lr (H/s, W/s)``. The paper's is :class:`Bicubic`
(MATLAB ``imresize``); :class:`GaussianBlur` (blur + decimation) and additive Gaussian
noise (``noise_sigma`` on either) are for robustness studies. The seed a scene is
degraded with is :func:`image_seed` of the run's seed and the image's name, so an image's
LR is the same whichever order, worker or split it is loaded in.
"""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
import torch

from jointsr.errors import ConfigError
from jointsr.functional.imresize import imresize

__all__ = ["Bicubic", "Degradation", "GaussianBlur", "image_seed"]


def image_seed(seed: int, *names: str) -> int:
    """A 63-bit seed mixing the run's ``seed`` with an image's names (dataset, image)."""
    text = "/".join([str(int(seed)), *map(str, names)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def _number(value: float) -> str:
    return f"{value:g}"


class Degradation:
    """``hr (H, W) float32 -> lr (H/s, W/s)``; ``key`` names it (with its parameters) in stores.

    Args:
        noise_sigma: standard deviation of additive white Gaussian noise on the LR image,
            in the [0, 1] units of the data (0.01 is about 2.55 grey levels of 8 bits).
        clip: clip the LR image to [0, 1] after the noise.
    """

    name = "degradation"

    def __init__(self, noise_sigma: float = 0.0, clip: bool = False) -> None:
        if isinstance(noise_sigma, bool) or not isinstance(noise_sigma, (int, float)) or \
                not 0 <= noise_sigma < math.inf:
            raise ConfigError(f"data.degradation.noise_sigma={noise_sigma!r} must be a number >= 0 (the noise's "
                              f"standard deviation in [0, 1] units, e.g. 0.01)")
        self.noise_sigma, self.clip = float(noise_sigma), bool(clip)

    def downsample(self, hr: np.ndarray, scale: int) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, hr: np.ndarray, scale: int, seed: int = 0) -> np.ndarray:
        if hr.shape[-2] % scale or hr.shape[-1] % scale:
            raise ValueError(f"HR size {hr.shape[-2:]} is not a multiple of the scale {scale}: modcrop first")
        lr = self.downsample(np.ascontiguousarray(hr, dtype=np.float64), int(scale))
        if self.noise_sigma:
            lr = lr + self.noise_sigma * np.random.default_rng(seed).standard_normal(lr.shape)
        if self.clip:
            lr = np.clip(lr, 0.0, 1.0)
        return lr.astype(np.float32)

    @property
    def stochastic(self) -> bool:
        """Whether the LR image depends on the seed."""
        return self.noise_sigma > 0

    def params(self) -> dict[str, str]:
        """The parameters that change the LR image, as text for :attr:`key`."""
        return {}

    @property
    def key(self) -> str:
        parts = [f"{k}={v}" for k, v in self.params().items()]
        text = self.name + (f"({','.join(parts)})" if parts else "")
        if self.noise_sigma:
            text += f"+noise(sigma={_number(self.noise_sigma)})"
        if self.clip:
            text += "+clip"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.key}>"


class Bicubic(Degradation):
    """MATLAB ``imresize(hr, 1/s, 'bicubic')`` (antialiased): the paper's degradation."""

    name = "bicubic"

    def downsample(self, hr: np.ndarray, scale: int) -> np.ndarray:
        return imresize(torch.from_numpy(hr), scale=1.0 / scale).numpy()


@functools.lru_cache(maxsize=64)
def _gaussian_matrix(in_len: int, scale: int, sigma: float) -> torch.Tensor:
    """(in_len / scale, in_len) matrix: Gaussian blur sampled at the LR pixel centres.

    LR pixel ``i`` sits at HR coordinate ``(i + 0.5) s - 0.5`` (the centre of its s x s
    block, the grid of MATLAB ``imresize``); taps within 3 sigma, mirrored at the borders
    (symmetric, edge sample repeated), weights normalised to sum 1.
    """
    out_len = in_len // scale
    centre = (np.arange(out_len) + 0.5) * scale - 0.5
    radius = int(math.ceil(3.0 * sigma)) + 1
    taps = np.floor(centre)[:, None] + np.arange(-radius, radius + 2)[None, :]
    weights = np.exp(-0.5 * ((centre[:, None] - taps) / sigma) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    source = mirror[np.mod(taps.astype(np.int64), 2 * in_len)]
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(matrix, (np.broadcast_to(np.arange(out_len)[:, None], source.shape), source), weights)
    return torch.from_numpy(matrix)


class GaussianBlur(Degradation):
    """Isotropic Gaussian blur, then decimation by ``s`` on the LR grid of :class:`Bicubic`.

    ``y = (x * k_sigma) decimated by s (+ noise)``, the classical degradation of blind SR
    studies. ``sigma`` is in HR pixels; ``None`` takes ``s / 2`` (scale-dependent, about the
    blur that keeps aliasing low).
    """

    name = "gaussian"

    def __init__(self, sigma: float | None = None, noise_sigma: float = 0.0, clip: bool = False) -> None:
        super().__init__(noise_sigma=noise_sigma, clip=clip)
        if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (int, float))
                                  or not 0 < sigma < math.inf):
            raise ConfigError(f"data.degradation.sigma={sigma!r} must be a number > 0 (HR pixels) or null "
                              f"(scale / 2)")
        self.sigma = None if sigma is None else float(sigma)

    def sigma_at(self, scale: int) -> float:
        return self.sigma if self.sigma is not None else scale / 2.0

    def params(self) -> dict[str, str]:
        return {"sigma": "s/2" if self.sigma is None else _number(self.sigma)}

    def downsample(self, hr: np.ndarray, scale: int) -> np.ndarray:
        sigma = self.sigma_at(scale)
        height, width = hr.shape[-2:]
        image = torch.from_numpy(hr)
        rows = _gaussian_matrix(height, scale, sigma)
        cols = _gaussian_matrix(width, scale, sigma)
        return torch.matmul(torch.matmul(rows, image), cols.transpose(0, 1)).numpy()
