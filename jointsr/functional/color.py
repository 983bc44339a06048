"""Colour conversion for the guide image (method.md section 6)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rgb_to_y"]

# MATLAB rgb2ycbcr, luminance row, for R, G, B in [0, 1]; result in [16/255, 235/255].
_Y_OFFSET = 16.0
_Y_WEIGHTS = (65.481, 128.553, 24.966)


def rgb_to_y(rgb):
    """Luminance of MATLAB ``rgb2ycbcr``: ``Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255``.

    Float RGB in [0, 1]. The channel axis depends on the type:

    - numpy: channel-last, (..., 3) such as (H, W, 3) -> (..., ) such as (H, W);
    - torch: channel-first, (..., 3, H, W) -> (..., 1, H, W), keeping a channel
      axis so the result is a one-channel guide image.

    dtype (float) and device are kept; differentiable for tensors.
    """
    if isinstance(rgb, torch.Tensor):
        if rgb.ndim < 3 or rgb.shape[-3] != 3:
            raise ValueError(f"rgb_to_y expects a torch tensor (..., 3, H, W) (channel-first), "
                             f"got shape {tuple(rgb.shape)}")
        if not rgb.is_floating_point():
            raise TypeError(f"rgb_to_y expects float RGB in [0, 1], got dtype {rgb.dtype}; "
                            "divide integer images by 255 (8-bit) or 65535 (16-bit) first")
        red, green, blue = rgb.unbind(dim=-3)
        luma = _Y_OFFSET + _Y_WEIGHTS[0] * red + _Y_WEIGHTS[1] * green + _Y_WEIGHTS[2] * blue
        return (luma / 255.0).unsqueeze(-3)
    if isinstance(rgb, np.ndarray):
        if rgb.ndim < 1 or rgb.shape[-1] != 3:
            raise ValueError(f"rgb_to_y expects a numpy array (..., 3) (channel-last, e.g. H x W x 3), "
                             f"got shape {rgb.shape}")
        if not np.issubdtype(rgb.dtype, np.floating):
            raise TypeError(f"rgb_to_y expects float RGB in [0, 1], got dtype {rgb.dtype}; "
                            "divide integer images by 255 (8-bit) or 65535 (16-bit) first")
        luma = _Y_OFFSET + rgb[..., 0] * _Y_WEIGHTS[0] + rgb[..., 1] * _Y_WEIGHTS[1] + rgb[..., 2] * _Y_WEIGHTS[2]
        return luma / 255.0
    raise TypeError(f"rgb_to_y expects a numpy array or torch tensor, got {type(rgb).__name__}")
