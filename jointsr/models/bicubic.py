"""Bicubic upsampling of the LR target (MATLAB ``imresize``): the reference baseline."""

from __future__ import annotations

import torch

from jointsr.errors import check_choice, check_int
from jointsr.functional.imresize import imresize
from jointsr.models.network import SRNetwork, bicubic_radius


class Bicubic(SRNetwork):
    """``x_hat = imresize(y, s, 'bicubic')``; the guide is checked and ignored."""

    title = "Bicubic"

    def __init__(self, scale: int, guide_channels: int = 1) -> None:
        super().__init__()
        self.scale = check_int("model.net.scale", scale, 1)
        self.guide_channels = check_choice("model.net.guide_channels", guide_channels, (1, 3))

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        self.check_inputs(lr_target, hr_guide)
        return imresize(lr_target, out_shape=tuple(hr_guide.shape[-2:]))

    def receptive_radius(self) -> float:
        return bicubic_radius(self.scale)
