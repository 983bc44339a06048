"""The labelled validation grid (jointsr.training.grids): titles with the PSNR written out,
label strips above panels left untouched, text kept inside its own panel."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jointsr.training.grids import (BACKGROUND, ERROR_GAIN, labelled_grid, panel_titles, to_uint8,
                                    validation_grid)


def _images(seed: int = 0, shape=(40, 56)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.random(shape)
    bicubic = np.clip(truth + 0.08 * rng.standard_normal(shape), 0, 1)
    prediction = np.clip(truth + 0.02 * rng.standard_normal(shape), 0, 1)
    return bicubic, prediction, truth


def test_the_titles_give_the_psnr_of_each_estimate_against_the_truth():
    bicubic, prediction, truth = _images()
    expected = [10 * math.log10(1 / np.mean((estimate - truth) ** 2)) for estimate in (bicubic, prediction)]
    assert panel_titles(bicubic, prediction, truth) == [
        f"bicubic {expected[0]:.2f} dB", f"prediction {expected[1]:.2f} dB", "truth", f"|error| x{ERROR_GAIN}"]


def test_a_known_error_gives_its_known_psnr():
    truth = np.full((8, 8), 0.5)
    # mse 0.01 -> 10 log10(1 / 0.01) = 20 dB; mse 1e-4 -> 40 dB; no error -> inf
    assert panel_titles(truth + 0.1, truth + 0.01, truth)[:2] == ["bicubic 20.00 dB", "prediction 40.00 dB"]
    assert panel_titles(truth, truth, truth)[1] == "prediction inf dB"


def test_panels_stand_unchanged_below_a_strip_that_holds_each_title():
    rng = np.random.default_rng(1)
    panels = [rng.integers(0, 256, (30, width), dtype=np.uint8) for width in (64, 80, 72)]
    grid = labelled_grid(panels, ["bicubic 27.31 dB", "", "truth"])
    strip = grid.shape[0] - 30
    assert grid.dtype == np.uint8 and strip > 0 and grid.shape[1] == 64 + 80 + 72
    np.testing.assert_array_equal(grid[strip:], np.hstack(panels))
    labels = np.split(grid[:strip], [64, 144], axis=1)
    assert labels[0].max() > BACKGROUND and labels[2].max() > BACKGROUND  # text drawn
    assert (labels[1] == BACKGROUND).all()  # an empty title: a blank strip


def test_a_title_wider_than_its_panel_wraps_and_stays_inside_it():
    panels = [np.zeros((10, 40), np.uint8), np.zeros((10, 40), np.uint8)]
    title = "prediction 30.12 dB"
    wide = labelled_grid([np.zeros((10, 400), np.uint8)], [title])
    narrow = labelled_grid(panels, [title, ""])
    assert narrow.shape[0] > wide.shape[0]  # more lines, a taller strip
    assert (narrow[:, 40:] == BACKGROUND).all()  # nothing spilt into the neighbour's label or panel


def test_the_validation_grid_is_the_four_panels_under_their_titles():
    bicubic, prediction, truth = _images(2)
    grid = validation_grid(bicubic, prediction, truth)
    error = np.clip(ERROR_GAIN * np.abs(prediction - truth), 0, 1)
    below = np.hstack([np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
                       for image in (bicubic, prediction, truth, error)])
    strip = grid.shape[0] - truth.shape[0]
    assert strip > 0 and grid.shape[1] == 4 * truth.shape[1]
    np.testing.assert_array_equal(grid[strip:], below)
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 0.5, 1.0, 1.5, -1.0])), [0, 128, 255, 255, 0])


@pytest.mark.parametrize("panels,titles,message", [
    ([np.zeros((4, 4), np.uint8)], ["a", "b"], "1 panels but 2 titles"),
    ([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)], ["a", "b"], "different heights"),
    ([np.zeros((4, 4), np.float32)], ["a"], "uint8"),
    ([np.zeros((4, 4, 3), np.uint8)], ["a"], r"\(H, W\)"),
])
def test_panels_that_cannot_stand_side_by_side_are_refused(panels, titles, message):
    with pytest.raises(ValueError, match=message):
        labelled_grid(panels, titles)
