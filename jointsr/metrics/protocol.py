"""The paper's evaluation protocol (method.md section 7): PSNR and SSIM as published;
and the guided-depth field's RMSE (method.md section 10).

- PSNR: peak 1 on float images, no border crop.
- SSIM: Z. Wang's reference ``ssim.m`` on uint8 images ``round(clip(x, 0, 1) * 255)``.
  It first box-filters both images with an f x f mean (MATLAB ``imfilter(...,
  'symmetric', 'same')``) and keeps ``img(1:f:end, 1:f:end)``, with
  ``f = max(1, round(min(H, W) / 256))``; then 11 x 11 Gaussian window (sigma 1.5),
  K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, mean of the SSIM map.
  ``ssim_plain`` skips the decimation.
- RMSE (depth): root mean squared error of the clipped prediction on the whole image
  (``rmse``) and without a ``DEPTH_BORDER`` = 6-pixel border (``rmse_crop``, the DKN / FDSR
  / SUFT / SGNet convention), in the units of the [0, 1] target; ``depth_unit_scale`` turns
  them into the field's published units (0-255 disparity, centimetres).

Inputs: numpy arrays or torch tensors of shape (H, W) or (1, H, W); all arithmetic in
numpy float64. The Gaussian and box filters are separable and applied as such, which
matches MATLAB's 2-D ``filter2`` up to float rounding (~1e-12).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["psnr", "ssim", "ssim_plain", "rmse", "evaluate_pair", "decimation_factor", "to_uint8_values",
           "depth_unit_scale", "DEPTH_BORDER", "DEPTH_UNITS"]

_WINDOW_SIZE = 11
_SIGMA = 1.5
_K1, _K2 = 0.01, 0.03
_L = 255.0

#: pixels cropped on every side for the cropped depth RMSE (method.md section 10)
DEPTH_BORDER = 6
#: the depth RMSE units of the field, and what a [0, 1] target is multiplied by for each
DEPTH_UNITS = {
    "0-255": "disparity or depth on the 0-255 scale: [0, 1] x 255 (Middlebury, Lu, Sintel)",
    "cm": "centimetres: [0, 1] x the metres a target of 1 stands for x 100 (NYU v2)",
}


def _as_image(image, name: str) -> np.ndarray:
    """(H, W) or (1, H, W) array or tensor -> (H, W) float64 numpy array."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"{name} must have shape (H, W) or (1, H, W), got {image.shape}")
    return image


def _as_pair(pred, target) -> tuple[np.ndarray, np.ndarray]:
    pred_shape, target_shape = tuple(np.shape(pred)), tuple(np.shape(target))
    pred_arr, target_arr = _as_image(pred, "pred"), _as_image(target, "target")
    if pred_arr.shape != target_arr.shape:
        raise ValueError(f"pred and target shapes differ: pred {pred_shape} vs target {target_shape}")
    return pred_arr, target_arr


def _matlab_round(values: np.ndarray | float):
    """MATLAB ``round``: halves away from zero (numpy rounds halves to even)."""
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def decimation_factor(height: int, width: int) -> int:
    """``ssim.m``'s ``f = max(1, round(min(M, N) / 256))`` with MATLAB rounding."""
    return max(1, int(_matlab_round(min(height, width) / 256.0)))


def to_uint8_values(image: np.ndarray) -> np.ndarray:
    """``im2uint8`` of a [0, 1] float image, kept as float64: ``round(clip(x, 0, 1) * 255)``."""
    return _matlab_round(np.clip(image, 0.0, 1.0) * 255.0)


def psnr(pred, target) -> float:
    """PSNR in dB with peak 1: ``10 log10(1 / mse)``; ``math.inf`` for identical images.

    No clipping and no border crop: the caller clips model outputs to [0, 1].
    """
    pred_arr, target_arr = _as_pair(pred, target)
    mse = float(np.mean((pred_arr - target_arr) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(1.0 / mse)


def _correlate_valid(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """1-D correlation along ``axis`` (0 or 1) keeping only fully overlapping positions."""
    view = image if axis == 0 else image.T
    taps = kernel.shape[0]
    length = view.shape[0] - taps + 1
    out = kernel[0] * view[:length]
    for k in range(1, taps):
        out += kernel[k] * view[k : k + length]
    return out if axis == 0 else out.T


def _filter2_valid(image: np.ndarray, kernel_1d: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(w, image, 'valid')`` for a separable symmetric ``w = k k^T``."""
    return _correlate_valid(_correlate_valid(image, kernel_1d, 0), kernel_1d, 1)


def _box_filter_decimate(image: np.ndarray, factor: int) -> np.ndarray:
    """``imfilter(img, ones(f)/f^2, 'symmetric', 'same')`` then ``img(1:f:end, 1:f:end)``."""
    # MATLAB's kernel centre is floor((f + 1) / 2) (1-based): for even f the window
    # reaches one sample further after the centre than before it.
    before = (factor + 1) // 2 - 1
    after = factor - 1 - before
    padded = np.pad(image, ((before, after), (before, after)), mode="symmetric")  # edge repeated
    box = np.full(factor, 1.0 / factor)
    filtered = _filter2_valid(padded, box)
    return filtered[::factor, ::factor]


def _gaussian_window_1d() -> np.ndarray:
    """1-D factor of ``fspecial('gaussian', 11, 1.5)`` normalised to sum 1."""
    offsets = np.arange(_WINDOW_SIZE, dtype=np.float64) - (_WINDOW_SIZE - 1) / 2
    window = np.exp(-(offsets**2) / (2.0 * _SIGMA**2))
    return window / window.sum()


def _ssim_map_mean(img1: np.ndarray, img2: np.ndarray) -> float:
    if min(img1.shape) < _WINDOW_SIZE:
        raise ValueError(f"SSIM needs images of at least {_WINDOW_SIZE}x{_WINDOW_SIZE} "
                         f"(after decimation), got {img1.shape[0]}x{img1.shape[1]}")
    window = _gaussian_window_1d()
    c1 = (_K1 * _L) ** 2
    c2 = (_K2 * _L) ** 2
    mu1 = _filter2_valid(img1, window)
    mu2 = _filter2_valid(img2, window)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = _filter2_valid(img1 * img1, window) - mu1_sq
    sigma2_sq = _filter2_valid(img2 * img2, window) - mu2_sq
    sigma12 = _filter2_valid(img1 * img2, window) - mu1_mu2
    ssim_map = ((2 * mu1_mu2 + c1) * (2 * sigma12 + c2)) / (
        (mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2)
    )
    return float(ssim_map.mean())


def ssim(pred, target, decimate: bool = True) -> float:
    """SSIM of Z. Wang's ``ssim.m`` on ``round(clip(x, 0, 1) * 255)`` images.

    With ``decimate`` (the reference behaviour) both images are box-filtered and
    subsampled by ``decimation_factor(H, W)`` first.
    """
    pred_arr, target_arr = _as_pair(pred, target)
    img1, img2 = to_uint8_values(pred_arr), to_uint8_values(target_arr)
    factor = decimation_factor(*img1.shape) if decimate else 1
    if factor > 1:
        # The box average of the uint8-valued images is not re-rounded (MATLAB works on doubles).
        img1 = _box_filter_decimate(img1, factor)
        img2 = _box_filter_decimate(img2, factor)
    return _ssim_map_mean(img1, img2)


def ssim_plain(pred, target) -> float:
    """``ssim`` without the decimation step."""
    return ssim(pred, target, decimate=False)


def rmse(pred, target, border: int = 0) -> float:
    """Root mean squared error over the image without a ``border``-pixel frame (0: the whole
    image), in the units of the inputs. No clipping: the caller clips model outputs."""
    pred_arr, target_arr = _as_pair(pred, target)
    if isinstance(border, bool) or not isinstance(border, int) or border < 0:
        raise ValueError(f"border must be an integer >= 0, got {border!r}")
    height, width = pred_arr.shape
    if 2 * border >= min(height, width):
        raise ValueError(f"a {border}-pixel border crop leaves nothing of a {height}x{width} image")
    if border:
        pred_arr, target_arr = pred_arr[border:-border, border:-border], target_arr[border:-border, border:-border]
    return math.sqrt(float(np.mean((pred_arr - target_arr) ** 2)))


def depth_unit_scale(unit: str, metres_per_unit: float | None = None) -> float:
    """The factor from a [0, 1] target to the field's ``unit`` (``DEPTH_UNITS``): 255 for
    ``0-255``; ``metres_per_unit x 100`` for ``cm`` (the metres a target value of 1 stands for,
    the dataset's normalisation of that image)."""
    if unit == "0-255":
        return 255.0
    if unit == "cm":
        if metres_per_unit is None or not metres_per_unit > 0:
            raise ValueError(f"an RMSE in cm needs the metres a target of 1 stands for, got {metres_per_unit!r}")
        return 100.0 * float(metres_per_unit)
    raise ValueError(f"depth RMSE unit must be one of {sorted(DEPTH_UNITS)}, got {unit!r}")


def evaluate_pair(pred, target, border: int = DEPTH_BORDER) -> dict[str, float]:
    """Clip ``pred`` to [0, 1], then PSNR, SSIM (decimated, as published), plain SSIM and the
    RMSE (whole image, and without a ``border``-pixel frame, ``DEPTH_BORDER`` unless the data
    says otherwise; [0, 1] units). ``rmse_crop`` is NaN where the frame leaves nothing."""
    pred_arr, target_arr = _as_pair(pred, target)
    pred_arr = np.clip(pred_arr, 0.0, 1.0)
    fits = 2 * border < min(pred_arr.shape)
    return {
        "psnr": psnr(pred_arr, target_arr),
        "ssim": ssim(pred_arr, target_arr),
        "ssim_plain": ssim_plain(pred_arr, target_arr),
        "rmse": rmse(pred_arr, target_arr),
        "rmse_crop": rmse(pred_arr, target_arr, border) if fits else math.nan,
    }
