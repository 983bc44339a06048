"""The paper's PSNR / SSIM protocol."""

import math

import numpy as np
import pytest
import torch
from conftest import require_data

from jointsr.metrics.protocol import (
    DEPTH_BORDER,
    decimation_factor,
    depth_unit_scale,
    evaluate_pair,
    psnr,
    rmse,
    ssim,
    ssim_plain,
)


def _balloons() -> np.ndarray:
    path = require_data("cave", "balloons", "balloons_ms_25.png")  # under JOINTSR_DATA_DIR
    from PIL import Image

    return np.asarray(Image.open(path), dtype=np.float64) / 65535


def _degraded(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """A 3x3-blurred, noisy, clipped copy."""
    padded = np.pad(image, 1, mode="edge")
    blurred = sum(padded[i : i + image.shape[0], j : j + image.shape[1]] for i in range(3) for j in range(3)) / 9
    rng = np.random.default_rng(seed)
    return np.clip(blurred + 0.02 * rng.standard_normal(image.shape), 0, 1)


def _to_uint8_values(image: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(image, 0, 1) * 255 + 0.5)  # MATLAB round of non-negatives


def test_psnr_identical_is_inf():
    image = np.random.default_rng(0).random((16, 16))
    assert psnr(image, image) == math.inf


def test_psnr_hand_computed():
    target = np.zeros((4, 4))
    pred = np.zeros((4, 4))
    pred[0, :2] = 0.1  # mse = 2 * 0.01 / 16
    assert psnr(pred, target) == pytest.approx(10 * math.log10(16 / 0.02), abs=1e-10)
    # torch (1, H, W) against numpy (H, W) is the same image
    assert psnr(torch.from_numpy(pred)[None], target) == pytest.approx(psnr(pred, target))


def test_psnr_does_not_clip():
    target = np.full((4, 4), 1.0)
    pred = np.full((4, 4), 1.5)
    assert psnr(pred, target) == pytest.approx(10 * math.log10(1 / 0.25))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(8, 8\).*\(8, 9\)"):
        psnr(np.zeros((8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(np.zeros((20, 20)), np.zeros((20, 21)))


@pytest.mark.parametrize(("h", "w", "f"), [(512, 512, 2), (768, 1024, 3), (509, 674, 2), (640, 900, 3),
                                           (383, 500, 1), (384, 500, 2), (100, 100, 1)])
def test_decimation_factor(h, w, f):
    # 640 / 256 = 2.5 rounds up in MATLAB (numpy/Python would round it to 2).
    assert decimation_factor(h, w) == f


def test_ssim_plain_matches_skimage_on_real_image():
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    target = _balloons()[:256, :200]
    pred = _degraded(target)
    ours = ssim_plain(pred, target)
    reference = structural_similarity(
        _to_uint8_values(pred), _to_uint8_values(target),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
    )
    assert 0.3 < ours < 0.999
    assert ours == pytest.approx(reference, abs=1e-9)


def _valid_ssim(img1: np.ndarray, img2: np.ndarray) -> float:
    """Gaussian SSIM (sigma 1.5, 11x11, 'valid' mean) on images already in [0, 255]."""
    structural_similarity = pytest.importorskip("skimage.metrics").structural_similarity
    return structural_similarity(img1, img2, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=255)


def test_ssim_decimated_f2_equals_plain_ssim_of_block_means():
    target = _balloons()
    assert target.shape == (512, 512)
    pred = _degraded(target, seed=1)
    # f = 2: imfilter's 2x2 box (centre = its top-left sample) read at 1:2:end is the 2x2
    # block mean of the uint8-valued images, and MATLAB does not re-round it.
    def block_mean(image: np.ndarray) -> np.ndarray:
        return image.reshape(256, 2, 256, 2).mean(axis=(1, 3))

    expected = _valid_ssim(block_mean(_to_uint8_values(pred)), block_mean(_to_uint8_values(target)))
    got = ssim(pred, target)
    assert got == pytest.approx(expected, abs=1e-9)
    assert abs(got - ssim_plain(pred, target)) > 1e-3  # the decimation really happened


def test_ssim_decimated_f3_uses_centred_box_with_symmetric_edge():
    rng = np.random.default_rng(2)
    smooth = np.cumsum(np.cumsum(rng.standard_normal((768, 771)), axis=0), axis=1)
    target = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    pred = np.clip(target + 0.05 * rng.standard_normal(target.shape), 0, 1)

    def decimate3(image: np.ndarray) -> np.ndarray:
        # centre = 2nd sample of the 3-window; outputs at 1, 4, 7, ... (1-based); the row
        # before the first is the first row again ('symmetric' repeats the edge).
        padded = np.pad(image, ((1, 1), (1, 1)), mode="edge")
        rows = padded[: 3 * 256].reshape(256, 3, -1).mean(axis=1)
        return rows[:, : 3 * 257].reshape(256, 257, 3).mean(axis=2)

    expected = _valid_ssim(decimate3(_to_uint8_values(pred)), decimate3(_to_uint8_values(target)))
    assert ssim(pred, target) == pytest.approx(expected, abs=1e-9)


def test_ssim_identical_is_one_and_small_image_raises():
    image = np.random.default_rng(3).random((40, 30))
    assert ssim_plain(image, image) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="11x11"):
        ssim_plain(np.zeros((10, 30)), np.zeros((10, 30)))
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((30, 10)), np.zeros((30, 10)))


def test_evaluate_pair_clips_prediction():
    rng = np.random.default_rng(4)
    target = rng.random((768, 1024))
    pred = target + 0.1 * rng.standard_normal(target.shape)
    result = evaluate_pair(torch.from_numpy(pred)[None], target)
    clipped = np.clip(pred, 0, 1)
    assert result["psnr"] == pytest.approx(psnr(clipped, target))
    assert result["psnr"] > psnr(pred, target)  # clipping towards [0, 1] can only help
    assert result["ssim"] == pytest.approx(ssim(clipped, target))
    assert result["ssim_plain"] == pytest.approx(ssim_plain(clipped, target))
    assert result["rmse"] == pytest.approx(rmse(clipped, target))
    assert result["rmse_crop"] == pytest.approx(rmse(clipped, target, border=DEPTH_BORDER))


def test_rmse_by_hand_with_and_without_the_border_crop():
    target = np.zeros((20, 30))
    pred = np.zeros((20, 30))
    pred[0, :] = 1.0            # the top row: in the border
    pred[10, 15] = 2.0          # one interior pixel
    assert rmse(pred, target) == pytest.approx(math.sqrt((30 * 1.0 + 4.0) / 600))
    assert rmse(pred, target, border=6) == pytest.approx(math.sqrt(4.0 / (8 * 18)))
    assert DEPTH_BORDER == 6  # the DKN / FDSR / SUFT / SGNet convention (method.md section 10)
    assert rmse(target, target) == 0.0
    assert psnr(pred, target) == pytest.approx(-20 * math.log10(rmse(pred, target)))  # peak 1
    with pytest.raises(ValueError, match="leaves nothing"):
        rmse(np.zeros((12, 40)), np.zeros((12, 40)), border=6)
    with pytest.raises(ValueError, match="border"):
        rmse(pred, target, border=-1)


def test_depth_units_are_the_fields():
    assert depth_unit_scale("0-255") == 255.0                       # Middlebury, Lu, Sintel
    assert depth_unit_scale("cm", metres_per_unit=10.0) == 1000.0   # NYU: [0, 1] = 0..10 m
    with pytest.raises(ValueError, match="metres"):
        depth_unit_scale("cm")
    with pytest.raises(ValueError, match="unit"):
        depth_unit_scale("mm")
