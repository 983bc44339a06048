"""Band-limited resizing by the discrete cosine transform, for a small change of size.

An image of ``N`` samples along an axis is read as the cosine series of its orthonormal
DCT-II coefficients ``X_k`` (the interpolant of its even-symmetric extension, so there are
no wrap-around artefacts at the borders)::

    x(t) = sum_k c_k X_k cos(pi k (2 t + 1) / (2 N)),   c_0 = sqrt(1 / N), c_k = sqrt(2 / N)

and sampled at the ``M`` pixel centres that cover the same extent, ``t_j = (j + 1/2) N / M - 1/2``
(full extent onto full extent, as PIL, OpenCV and ``imresize(x, [M N])`` place them), keeping
the ``min(N, M)`` lowest frequencies (an ideal low-pass when shrinking). Then
``(2 t_j + 1) / (2 N) = (j + 1/2) / M`` and the samples are ``sqrt(M / N)`` times the inverse
orthonormal DCT-II of length ``M`` of the truncated or zero-padded coefficients.

Unlike a bicubic kernel this neither blurs nor aliases: a resize there and back between 510
and 512 samples returns the image to float precision, and between 510 and 508 loses only the
two highest of 510 frequencies. It is meant for sizes a few pixels apart (a guide brought onto
a grid of exactly ``scale`` times its target); for real downscaling use MATLAB's
:func:`~jointsr.functional.imresize.imresize`, whose antialiasing the protocol defines.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct, idct

__all__ = ["dct_resize"]


def _resize_axis(image: np.ndarray, length: int, axis: int) -> np.ndarray:
    source = image.shape[axis]
    if length == source:
        return image
    coefficients = dct(image, type=2, norm="ortho", axis=axis)
    kept = np.take(coefficients, np.arange(min(source, length)), axis=axis)
    padding = [(0, 0)] * image.ndim
    padding[axis] = (0, max(length - source, 0))
    return idct(np.pad(kept, padding), type=2, norm="ortho", axis=axis) * math.sqrt(length / source)


def dct_resize(image: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """``image`` (..., H, W) resampled to ``out_shape`` = (H_out, W_out) over the same extent, in
    float64 (returned as the input's floating dtype); an axis whose size does not change is
    left exactly as it is."""
    image = np.asarray(image)
    if image.ndim < 2 or not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"dct_resize expects a floating array (..., H, W), got {image.dtype} {image.shape}")
    if len(out_shape) != 2 or min(out_shape) < 1:
        raise ValueError(f"out_shape must be two positive ints (H, W), got {out_shape!r}")
    resized = image.astype(np.float64)
    resized = _resize_axis(resized, int(out_shape[0]), image.ndim - 2)
    resized = _resize_axis(resized, int(out_shape[1]), image.ndim - 1)
    return resized.astype(image.dtype, copy=False)
