"""The degradations: the paper's bicubic unchanged, blur and noise options seeded per image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from data_helpers import write_tiny_set

from jointsr.data.degradation import Bicubic, GaussianBlur, image_seed
from jointsr.data.scenes import load_scene
from jointsr.functional.imresize import imresize


def _image(size=(48, 40)) -> np.ndarray:
    return np.random.default_rng(1).random(size).astype(np.float32)


def test_bicubic_is_matlab_imresize_and_ignores_the_seed():
    hr = _image()
    expected = imresize(torch.from_numpy(hr.astype(np.float64)), scale=1 / 4).numpy().astype(np.float32)
    np.testing.assert_array_equal(Bicubic()(hr, 4, seed=1), expected)
    np.testing.assert_array_equal(Bicubic()(hr, 4, seed=2), expected)
    assert Bicubic().key == "bicubic" and not Bicubic().stochastic


def test_size_not_a_multiple_of_the_scale_is_an_error():
    with pytest.raises(ValueError, match="not a multiple of the scale 4: modcrop"):
        Bicubic()(_image((50, 40)), 4)


@pytest.mark.parametrize("degradation", [Bicubic(noise_sigma=0.05), GaussianBlur(sigma=1.2, noise_sigma=0.05)])
def test_noise_same_seed_same_lr_different_seed_different_noise(degradation):
    hr = _image()
    first, again, other = degradation(hr, 4, seed=7), degradation(hr, 4, seed=7), degradation(hr, 4, seed=8)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    clean = type(degradation)(**({"sigma": 1.2} if isinstance(degradation, GaussianBlur) else {}))(hr, 4)
    assert abs(float((first - clean).std()) - 0.05) < 0.01  # the noise has the requested sigma
    assert degradation.stochastic and "noise(sigma=0.05)" in degradation.key


def test_clip_keeps_noisy_lr_in_range():
    lr = Bicubic(noise_sigma=0.5, clip=True)(_image(), 2, seed=0)
    assert lr.min() >= 0 and lr.max() <= 1


def test_gaussian_blur_shape_constant_image_and_key():
    blur = GaussianBlur(sigma=1.5)
    assert blur(_image((48, 40)), 4).shape == (12, 10)
    flat = np.full((32, 24), 0.3, np.float32)
    np.testing.assert_allclose(blur(flat, 4), 0.3, atol=1e-6)
    assert blur.key == "gaussian(sigma=1.5)" and GaussianBlur().key == "gaussian(sigma=s/2)"
    assert GaussianBlur().sigma_at(8) == 4.0


def test_gaussian_blur_samples_block_centres():
    # a linear ramp is kept exactly (symmetric kernel) away from the borders: LR pixel i
    # sits at the centre (i + 0.5) s - 0.5 of its block, as in MATLAB imresize
    ramp = np.tile(np.arange(64, dtype=np.float32), (8, 1))
    lr = GaussianBlur(sigma=1.0)(ramp, 4)
    np.testing.assert_allclose(lr[:, 3:-3], np.tile((np.arange(16) + 0.5) * 4 - 0.5, (2, 1))[:, 3:-3], atol=1e-4)


def test_image_seed_mixes_run_seed_and_name():
    assert image_seed(0, "cave", "balloons") == image_seed(0, "cave", "balloons")
    assert len({image_seed(0, "cave", "balloons"), image_seed(1, "cave", "balloons"),
                image_seed(0, "cave", "beads"), image_seed(0, "rgbnir", "balloons")}) == 4


def test_each_image_gets_its_own_noise_whatever_the_order(tmp_path):
    dataset = write_tiny_set(tmp_path / "tiny")
    noisy = Bicubic(noise_sigma=0.1)
    a_first = load_scene(dataset, "a", 4, noisy, seed=3)
    load_scene(dataset, "b", 4, noisy, seed=3)
    a_again = load_scene(dataset, "a", 4, noisy, seed=3)
    np.testing.assert_array_equal(a_first.lr, a_again.lr)
    clean_a, clean_b = load_scene(dataset, "a", 4, Bicubic()), load_scene(dataset, "b", 4, Bicubic())
    noise_a = a_first.lr - clean_a.lr
    noise_b = load_scene(dataset, "b", 4, noisy, seed=3).lr - clean_b.lr
    assert not np.allclose(noise_a, noise_b)  # not the same noise image on every picture
