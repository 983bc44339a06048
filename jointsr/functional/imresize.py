"""MATLAB-exact ``imresize(x, scale, 'bicubic')`` (antialiased) and ``modcrop``, in torch.

The degradation of the paper (method.md section 6) is MATLAB's bicubic ``imresize``.
PIL, OpenCV and ``torch.nn.functional.interpolate`` give different LR images, so the
kernel is reproduced exactly:

- cubic kernel with a = -0.5 (Keys), support [-2, 2];
- when downscaling (scale < 1) the kernel is stretched for antialiasing:
  ``h(x) = scale * cubic(scale * x)``, width ``4 / scale``;
- output sample i (1-based) sits at input coordinate ``u = i / scale + 0.5 * (1 - 1 / scale)``;
  taps ``left + 0 .. left + P - 1`` with ``left = floor(u - width / 2)``, ``P = ceil(width) + 2``;
- weights normalised to sum 1 per output sample;
- out-of-range taps mirrored symmetrically (edge sample repeated), as MATLAB's
  ``aux = [1:N, N:-1:1]`` indexing;
- the dimension with the smaller scale factor is resized first (rows first on ties).

Each 1-D resize is a dense (out_len, in_len) matrix, built once and cached, applied
with ``matmul``; the result is differentiable with respect to the image.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

__all__ = ["imresize", "modcrop", "resize_matrix"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return inner + outer


@functools.lru_cache(maxsize=128)
def _resize_matrix_cpu(in_len: int, out_len: int, scale: float) -> torch.Tensor:
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0

    out_pos = np.arange(1, out_len + 1, dtype=np.float64)  # 1-based, as MATLAB
    centre = out_pos / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(centre - width / 2.0)
    num_taps = int(math.ceil(width)) + 2
    taps = left[:, None] + np.arange(num_taps, dtype=np.float64)[None, :]  # (out, P), 1-based

    distance = centre[:, None] - taps
    weights = scale * _cubic(scale * distance) if antialias else _cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # Symmetric boundary: index k (1-based) maps through aux = [1..N, N..1], periodically.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])  # 0-based
    source = mirror[np.mod(taps.astype(np.int64) - 1, 2 * in_len)]

    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_len)[:, None], source.shape)
    np.add.at(matrix, (rows, source), weights)  # mirrored taps can hit one sample twice
    return torch.from_numpy(matrix)


def resize_matrix(
    in_len: int,
    out_len: int,
    scale: float,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Dense (out_len, in_len) matrix of MATLAB's 1-D bicubic resize; rows sum to 1.

    Built in float64 on the CPU, cached per (in_len, out_len, scale), then moved.
    Treat the result as read-only: with float64 on the CPU it is the cached tensor.
    """
    if in_len < 1 or out_len < 1:
        raise ValueError(f"resize lengths must be positive, got in_len={in_len}, out_len={out_len}")
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return _resize_matrix_cpu(int(in_len), int(out_len), float(scale)).to(device=device, dtype=dtype)


def _output_plan(
    in_shape: tuple[int, int],
    scale: float | None,
    out_shape: tuple[int, int] | None,
) -> tuple[tuple[float, float], tuple[int, int]]:
    if (scale is None) == (out_shape is None):
        raise ValueError("imresize needs exactly one of `scale` or `out_shape`, "
                         f"got scale={scale!r}, out_shape={out_shape!r}")
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"imresize scale must be positive, got {scale}")
        scales = (float(scale), float(scale))
        sizes = (math.ceil(in_shape[0] * scale), math.ceil(in_shape[1] * scale))
    else:
        if len(out_shape) != 2 or min(out_shape) < 1:
            raise ValueError(f"out_shape must be two positive ints (H, W), got {out_shape!r}")
        sizes = (int(out_shape[0]), int(out_shape[1]))
        scales = (sizes[0] / in_shape[0], sizes[1] / in_shape[1])
    return scales, sizes


def imresize(
    image: torch.Tensor,
    scale: float | None = None,
    out_shape: tuple[int, int] | None = None,
) -> torch.Tensor:
    """MATLAB ``imresize(image, scale, 'bicubic')`` with antialiasing, over the last two dims.

    ``image``: floating tensor (..., H, W) (a numpy array is accepted and a numpy array
    returned). Give exactly one of ``scale`` (output size ``ceil(H * scale)``,
    ``ceil(W * scale)``) or ``out_shape`` = (H_out, W_out) (per-dimension scale
    ``out / in``, as MATLAB). No rounding or clipping; dtype and device are kept.
    """
    if isinstance(image, np.ndarray):
        return imresize(torch.from_numpy(image), scale=scale, out_shape=out_shape).numpy()
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"imresize expects a torch.Tensor or numpy array, got {type(image).__name__}")
    if not image.is_floating_point():
        raise TypeError(f"imresize expects a floating-point image, got dtype {image.dtype}; "
                        "convert first, e.g. image.float() / 255")
    if image.ndim < 2:
        raise ValueError(f"imresize expects shape (..., H, W), got {tuple(image.shape)}")

    in_shape = (image.shape[-2], image.shape[-1])
    scales, sizes = _output_plan(in_shape, scale, out_shape)

    # MATLAB: [~, order] = sort(scale), a stable sort, so rows go first on ties.
    order = (0, 1) if scales[0] <= scales[1] else (1, 0)
    out = image
    for dim in order:
        matrix = resize_matrix(in_shape[dim], sizes[dim], scales[dim], image.device, image.dtype)
        if dim == 0:
            out = torch.matmul(matrix, out)  # (out_H, H) @ (..., H, W)
        else:
            out = torch.matmul(out, matrix.transpose(0, 1))  # (..., H, W) @ (W, out_W)
    return out


def modcrop(image, scale: int):
    """Crop (..., H, W) to multiples of ``scale``, keeping the top-left corner.

    MATLAB ``img(1:H - mod(H, s), 1:W - mod(W, s), :)`` for channel-first arrays;
    works on numpy arrays and torch tensors (returns a view).
    """
    if int(scale) != scale or scale < 1:
        raise ValueError(f"modcrop scale must be a positive integer, got {scale!r}")
    scale = int(scale)
    if image.ndim < 2:
        raise ValueError(f"modcrop expects shape (..., H, W), got {tuple(image.shape)}")
    height, width = image.shape[-2], image.shape[-1]
    if height < scale or width < scale:
        raise ValueError(f"image of size {height}x{width} is smaller than the scale {scale}")
    return image[..., : height - height % scale, : width - width % scale]
