"""The band-limited DCT resize against its cosine series written out, and its known properties."""

import math

import numpy as np
import pytest

from jointsr.functional.dct_resize import dct_resize


def _cosine_series(samples: np.ndarray, length: int) -> np.ndarray:
    """The samples' orthonormal DCT-II series evaluated at the ``length`` pixel centres covering
    the same extent, ``t_j = (j + 1/2) N / M - 1/2``, keeping the ``min(N, M)`` lowest frequencies."""
    count = len(samples)
    pixels = np.arange(count)
    weights = [math.sqrt((1 if k == 0 else 2) / count) for k in range(count)]
    coefficients = [weights[k] * np.sum(samples * np.cos(math.pi * k * (2 * pixels + 1) / (2 * count)))
                    for k in range(count)]
    positions = (np.arange(length) + 0.5) * count / length - 0.5
    return sum(weights[k] * coefficients[k] * np.cos(math.pi * k * (2 * positions + 1) / (2 * count))
               for k in range(min(count, length)))


@pytest.mark.parametrize("length", [5, 6, 9, 12])
def test_each_axis_samples_the_cosine_series_at_the_new_pixel_centres(length):
    samples = np.random.default_rng(0).random(7)
    rows = dct_resize(np.tile(samples, (3, 1)), (3, length))
    np.testing.assert_allclose(rows, np.tile(_cosine_series(samples, length), (3, 1)), atol=1e-12)
    columns = dct_resize(np.tile(samples[:, None], (1, 2)), (length, 2))
    np.testing.assert_allclose(columns[:, 0], _cosine_series(samples, length), atol=1e-12)


def test_a_constant_stays_constant_and_an_unchanged_axis_is_untouched():
    np.testing.assert_allclose(dct_resize(np.full((10, 13), 0.37), (12, 11)), 0.37, atol=1e-14)
    image = np.random.default_rng(1).random((2, 8, 9)).astype(np.float32)
    assert dct_resize(image, (8, 9)) is not image and np.array_equal(dct_resize(image, (8, 9)), image)
    resized = dct_resize(image, (8, 11))
    assert resized.shape == (2, 8, 11) and resized.dtype == np.float32


def test_enlarging_then_shrinking_back_returns_the_image():
    image = np.random.default_rng(2).random((17, 510))
    np.testing.assert_allclose(dct_resize(dct_resize(image, (20, 512)), image.shape), image, atol=1e-12)


def test_refuses_integers_and_empty_sizes():
    with pytest.raises(ValueError, match="floating"):
        dct_resize(np.zeros((4, 4), dtype=np.uint8), (5, 5))
    with pytest.raises(ValueError, match="out_shape"):
        dct_resize(np.zeros((4, 4)), (0, 5))
