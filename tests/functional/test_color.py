"""MATLAB rgb2ycbcr luminance."""

import numpy as np
import pytest
import torch

from jointsr.functional.color import rgb_to_y


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [((0, 0, 0), 16 / 255), ((1, 1, 1), 235 / 255), ((1, 0, 0), (16 + 65.481) / 255),
     ((0, 1, 0), (16 + 128.553) / 255), ((0, 0, 1), (16 + 24.966) / 255),
     ((0.5, 0.5, 0.5), (16 + 0.5 * 219) / 255)],
)
def test_known_values(rgb, expected):
    pixel = np.array(rgb, dtype=np.float64).reshape(1, 1, 3)
    assert rgb_to_y(pixel)[0, 0] == pytest.approx(expected, abs=1e-12)
    tensor = torch.tensor(rgb, dtype=torch.float64).reshape(3, 1, 1)
    assert rgb_to_y(tensor)[0, 0, 0].item() == pytest.approx(expected, abs=1e-12)


def test_numpy_and_torch_agree_and_shapes():
    rng = np.random.default_rng(0)
    rgb = rng.random((9, 7, 3))
    y_np = rgb_to_y(rgb)
    assert y_np.shape == (9, 7)
    y_torch = rgb_to_y(torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0))  # (1, 3, H, W)
    assert y_torch.shape == (1, 1, 9, 7)
    np.testing.assert_allclose(y_torch[0, 0].numpy(), y_np, rtol=0, atol=1e-12)
    assert y_np.min() >= 16 / 255 and y_np.max() <= 235 / 255


def test_wrong_channel_count_raises():
    with pytest.raises(ValueError, match="channel-last"):
        rgb_to_y(np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="channel-first"):
        rgb_to_y(torch.zeros(1, 4, 8, 8))
    with pytest.raises(TypeError, match="float"):
        rgb_to_y(np.zeros((4, 4, 3), dtype=np.uint8))
