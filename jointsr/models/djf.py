"""DJF: deep joint image filtering (Li, Huang, Ahuja, Yang, ECCV 2016).

Three small CNNs (method.md section 5): one on the bicubic-upsampled target, one on the
HR guide, and a fusion CNN on the concatenation of their one-channel outputs,

    f_target = CNN_t(bicubic(y))        conv9x9(->96)-ReLU-conv1x1(->48)-ReLU-conv5x5(->1)
    f_guide  = CNN_g(z)                 same shape, C input channels
    x_hat    = CNN_f([f_target, f_guide]) + bicubic(y)
                                        conv9x9(->64)-ReLU-conv1x1(->32)-ReLU-conv5x5(->1)

The original network is residual (it learns the difference between the HR target and its
upsampled version), so the bicubic input is added to the output; ``residual=False``
switches that off. The original trains with 'valid' convolutions on patches; here every
convolution is 'same' (zero padding) so whole images keep their size. Biases on,
PyTorch's default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.functional.imresize import imresize
from jointsr.models.network import SRNetwork, bicubic_radius


def _three_layer_cnn(in_channels: int, widths: tuple[int, int], kernels: tuple[int, int, int]
                     ) -> nn.Sequential:
    """conv(K1, ->w1)-ReLU-conv(K2, ->w2)-ReLU-conv(K3, ->1), 'same' padding, biases on."""
    (w1, w2), (k1, k2, k3) = widths, kernels
    return nn.Sequential(
        nn.Conv2d(in_channels, w1, k1, padding=k1 // 2),
        nn.ReLU(inplace=True),
        nn.Conv2d(w1, w2, k2, padding=k2 // 2),
        nn.ReLU(inplace=True),
        nn.Conv2d(w2, 1, k3, padding=k3 // 2),
    )


class DJF(SRNetwork):
    """Deep joint filtering on the bicubic-upsampled target and the HR guide.

    Args:
        scale: upscaling factor ``s``.
        guide_channels: 1 for luminance, 3 for RGB.
        branch_widths: feature widths of the target and guide branches (96, 48).
        fusion_widths: feature widths of the fusion branch (64, 32).
        kernel_sizes: kernel sizes of the three layers of every branch (9, 1, 5).
        residual: add the bicubic-upsampled target to the output (as the original).
    """

    title = "DJF"

    def __init__(
        self,
        scale: int,
        guide_channels: int = 1,
        branch_widths: tuple[int, int] = (96, 48),
        fusion_widths: tuple[int, int] = (64, 32),
        kernel_sizes: tuple[int, int, int] = (9, 1, 5),
        residual: bool = True,
    ) -> None:
        super().__init__()
        scale = check_int("model.net.scale", scale, 1)
        check_choice("model.net.guide_channels", guide_channels, (1, 3))
        for key, values, count in (("branch_widths", branch_widths, 2), ("fusion_widths", fusion_widths, 2),
                                   ("kernel_sizes", kernel_sizes, 3)):
            if isinstance(values, (str, bytes)) or len(values) != count:
                raise ConfigError(f"model.net.{key}={values!r} must be a list of {count} integers >= 1")
            for value in values:
                check_int(f"model.net.{key}", value, 1)
        if any(k % 2 != 1 for k in kernel_sizes):
            raise ConfigError(f"model.net.kernel_sizes={list(kernel_sizes)}: kernel sizes must be odd to keep "
                              f"the image size")
        check_choice("model.net.residual", residual, (True, False))
        self.scale, self.guide_channels, self.residual = scale, guide_channels, residual
        branch_widths, fusion_widths = tuple(branch_widths), tuple(fusion_widths)
        kernel_sizes = tuple(kernel_sizes)
        self.target_branch = _three_layer_cnn(1, branch_widths, kernel_sizes)
        self.guide_branch = _three_layer_cnn(guide_channels, branch_widths, kernel_sizes)
        self.fusion = _three_layer_cnn(2, fusion_widths, kernel_sizes)

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``."""
        self.check_inputs(lr_target, hr_guide)
        upsampled = imresize(lr_target, scale=self.scale)  # (B, 1, sH, sW)
        features = torch.cat([self.target_branch(upsampled), self.guide_branch(hr_guide)], dim=1)
        out = self.fusion(features)
        return out + upsampled if self.residual else out

    def receptive_radius(self) -> float:
        """The bicubic input, the deeper of the two branches, the fusion CNN ('same'
        convolutions: each adds half its kernel), and the bicubic input added back."""
        def branch(sequential: nn.Sequential) -> int:
            return sum(m.kernel_size[0] // 2 for m in sequential if isinstance(m, nn.Conv2d))

        bicubic = bicubic_radius(self.scale)
        features = max(bicubic + branch(self.target_branch), branch(self.guide_branch))
        return max(features + branch(self.fusion), bicubic if self.residual else 0)
