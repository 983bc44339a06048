"""Known properties and hand-computed values of the MATLAB bicubic imresize."""

import numpy as np
import pytest
import torch

from jointsr.functional.imresize import imresize, modcrop, resize_matrix


def _cubic(x: float) -> float:
    """Keys' cubic, a = -0.5, written out independently of the module."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _ramp(rows: int, cols: int) -> torch.Tensor:
    """Each row is 1, 2, ..., cols (a linear function along W)."""
    return torch.arange(1, cols + 1, dtype=torch.float64).expand(rows, cols).clone()


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 1 / 8, 2.0, 3.0, 4.0])
def test_constant_image_stays_constant(scale):
    image = torch.full((2, 48, 40), 0.37, dtype=torch.float64)
    out = imresize(image, scale)
    torch.testing.assert_close(out, torch.full_like(out, 0.37), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("in_hw", "scale", "out_hw"),
    [((64, 48), 0.5, (32, 24)), ((63, 47), 0.5, (32, 24)), ((30, 33), 1 / 3, (10, 11)),
     ((17, 9), 2.0, (34, 18)), ((11, 5), 4.0, (44, 20)), ((64, 64), 1 / 8, (8, 8))],
)
def test_output_shape_from_scale(in_hw, scale, out_hw):
    assert imresize(torch.rand(1, 3, *in_hw), scale).shape == (1, 3, *out_hw)


def test_output_shape_from_out_shape_and_2d_input():
    out = imresize(torch.rand(37, 53), out_shape=(20, 71))
    assert out.shape == (20, 71)


def test_scale_and_out_shape_are_exclusive():
    with pytest.raises(ValueError, match="exactly one"):
        imresize(torch.rand(8, 8), 0.5, out_shape=(4, 4))
    with pytest.raises(ValueError, match="exactly one"):
        imresize(torch.rand(8, 8))


def test_integer_image_rejected():
    with pytest.raises(TypeError, match="floating-point"):
        imresize(torch.zeros(8, 8, dtype=torch.uint8), 0.5)


@pytest.mark.parametrize(("in_len", "out_len"), [(48, 24), (48, 16), (48, 6), (13, 7), (12, 24), (5, 20), (9, 9)])
def test_weight_rows_sum_to_one(in_len, out_len):
    matrix = resize_matrix(in_len, out_len, out_len / in_len)
    assert matrix.shape == (out_len, in_len)
    torch.testing.assert_close(matrix.sum(dim=1), torch.ones(out_len, dtype=torch.float64), rtol=0, atol=1e-12)


def test_identity_scale_is_identity():
    torch.testing.assert_close(resize_matrix(10, 10, 1.0), torch.eye(10, dtype=torch.float64))


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 2.0])
def test_flip_symmetry(scale):
    # Sizes divisible by 2 and 3: with ceil(in * scale) > in * scale the grid is not symmetric.
    image = torch.rand(2, 30, 24, dtype=torch.float64)
    flipped_first = imresize(image.flip(-1), scale)
    flipped_after = imresize(image, scale).flip(-1)
    torch.testing.assert_close(flipped_first, flipped_after, rtol=0, atol=1e-12)
    torch.testing.assert_close(imresize(image.flip(-2), scale), imresize(image, scale).flip(-2), rtol=0, atol=1e-12)


def test_batched_equals_per_image():
    batch = torch.rand(3, 2, 24, 36, dtype=torch.float64)
    together = imresize(batch, 0.25)
    one_by_one = torch.stack([imresize(image, 0.25) for image in batch])
    torch.testing.assert_close(together, one_by_one, rtol=0, atol=1e-12)


def test_keeps_dtype_and_numpy_roundtrip():
    image = torch.rand(1, 16, 16, dtype=torch.float32)
    assert imresize(image, 2.0).dtype == torch.float32
    out_np = imresize(image.numpy().astype(np.float64), 0.5)
    assert isinstance(out_np, np.ndarray) and out_np.shape == (1, 8, 8)


def test_gradient_flows():
    image = torch.rand(2, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    imresize(image, 3.0).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    # Each input pixel's weights sum to (output count / input count) on average: here 9.
    torch.testing.assert_close(image.grad.mean(), torch.tensor(9.0, dtype=torch.float64))


def test_down_x2_ramp_interior_is_pair_mean_and_boundary_mirrors():
    ramp = _ramp(5, 16)
    out = imresize(ramp, 0.5)[0]
    # Output i (1-based) sits at u = 2i - 0.5, with nonzero taps 2i-4 .. 2i+3; fully
    # inside for i = 3..6, where a symmetric kernel on a linear ramp gives the mean
    # of samples 2i-1 and 2i.
    for i in range(3, 7):
        assert out[i - 1].item() == pytest.approx((2 * i - 1 + 2 * i) / 2, abs=1e-12)

    # Boundary, by hand: i = 1, u = 1.5, taps -2..5 with weights 0.5 * cubic(0.5 * (u - k)).
    taps = range(-2, 6)
    weights = [0.5 * _cubic(0.5 * (1.5 - k)) for k in taps]
    # MATLAB mirror aux = [1..16, 16..1]: 0 -> 1, -1 -> 2, -2 -> 3.
    values = [3, 2, 1, 1, 2, 3, 4, 5]
    expected = sum(w * v for w, v in zip(weights, values)) / sum(weights)
    assert expected == pytest.approx(1.44921875, abs=1e-12)  # written out: not 1.5
    assert out[0].item() == pytest.approx(expected, abs=1e-12)
    assert out[-1].item() == pytest.approx(17 - expected, abs=1e-12)  # mirror image of the ramp


def test_up_x2_ramp_interior_is_linear_and_boundary_mirrors():
    ramp = _ramp(4, 10)
    out = imresize(ramp, 2.0)[0]
    # Output i sits at u = i/2 + 0.25; the a = -0.5 cubic reproduces a linear function.
    for i in range(4, 18):
        assert out[i - 1].item() == pytest.approx(i / 2 + 0.25, abs=1e-12)
    # Boundary i = 1, u = 0.75: taps -1..2 with cubic(u - k); mirror: -1 -> 2, 0 -> 1.
    weights = [_cubic(0.75 - k) for k in (-1, 0, 1, 2)]
    expected = sum(w * v for w, v in zip(weights, [2, 1, 1, 2]))
    assert expected == pytest.approx(0.90625, abs=1e-12)
    assert out[0].item() == pytest.approx(expected, abs=1e-12)


def test_single_axis_resize_is_the_1d_matrix():
    # Along-W shrink only: rows untouched, the result is the 1-D resize along W. (The two
    # 1-D resizes commute up to float rounding; MATLAB's order matters only for uint8.)
    image = torch.rand(6, 20, dtype=torch.float64)
    out = imresize(image, out_shape=(6, 5))
    torch.testing.assert_close(out, image @ resize_matrix(20, 5, 0.25).T)


@pytest.mark.parametrize("as_numpy", [True, False])
def test_modcrop(as_numpy):
    image = np.arange(3 * 13 * 10, dtype=np.float64).reshape(3, 13, 10)
    data = image if as_numpy else torch.from_numpy(image)
    cropped = modcrop(data, 4)
    assert tuple(cropped.shape) == (3, 12, 8)
    np.testing.assert_array_equal(np.asarray(cropped), image[:, :12, :8])  # top-left anchored
    assert tuple(modcrop(data, 1).shape) == (3, 13, 10)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(data, 2.5)
