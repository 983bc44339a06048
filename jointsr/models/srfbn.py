"""SRFBN: super-resolution feedback network (Li, Yang, Liu, Yang, Jeon, Wu, CVPR 2019).

A single-image baseline (the guide is validated and ignored). With ``F`` features, ``G``
projection groups and ``T`` steps (method.md section 5):

    F_in  = Conv1x1(4F -> F)(Conv3x3(1 -> 4F)(y))                      LR features
    h_0   = F_in
    h_t   = FB([F_in, h_{t-1}])                                        t = 1..T, FB shared
    out_t = bilinear(y) + Conv3x3(F -> 1)(Deconv(F -> F)(h_t))        HR prediction of step t

Every convolution has a bias and is followed by a PReLU (one slope each) except the
last 3x3. The feedback block FB:

    L_0 = Conv1x1(2F -> F)([F_in, h_{t-1}])
    for g = 1..G:   H_g = Deconv(C^up_g([L_0 .. L_{g-1}]))      LR -> HR projection
                    L_g = Conv(C^down_g([H_1 .. H_g]))          HR -> LR projection
    h_t = Conv1x1(GF -> F)([L_1 .. L_G])

where ``C^up_g`` and ``C^down_g`` are 1x1 compressions ``gF -> F`` for g >= 2 (identity
for g = 1), the dense connections of the paper. The projections use (kernel, stride,
padding) = (s + 4, s, 2): (6, 2, 2) at x2, (8, 4, 2) at x4, (12, 8, 2) at x8 as the paper,
and (20, 16, 2) at x16 by the same rule; each maps h x w exactly to sh x sw and back.

With one channel the official RGB mean shift (subtract a fixed mean before the first
convolution, add it back to the output) is only a reparametrisation of the first
convolution's bias, since bilinear interpolation preserves constants; it is omitted.
The parameter counts match the paper's with one channel in and out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.models.network import SRNetwork, resample_radius

# (kernel, stride, padding) of the LR <-> HR projections, per scale.
PROJECTIONS: dict[int, tuple[int, int, int]] = {s: (s + 4, s, 2) for s in (2, 4, 8, 16)}


def _conv_prelu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                padding: int | None = None) -> nn.Sequential:
    padding = kernel_size // 2 if padding is None else padding
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
                         nn.PReLU())


def _deconv_prelu(channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(channels, channels, kernel_size, stride, padding),
                         nn.PReLU())


class FeedbackBlock(nn.Module):
    """The shared block: G up/down projection groups with dense 1x1 compressions."""

    def __init__(self, num_features: int, num_groups: int, projection: tuple[int, int, int]
                 ) -> None:
        super().__init__()
        f, kernel, stride, padding = num_features, *projection
        self.compress_in = _conv_prelu(2 * f, f, 1)
        self.up = nn.ModuleList(_deconv_prelu(f, kernel, stride, padding)
                                for _ in range(num_groups))
        self.down = nn.ModuleList(_conv_prelu(f, f, kernel, stride, padding)
                                  for _ in range(num_groups))
        # Compressions of the g >= 2 groups: [L_0 .. L_{g-1}] and [H_1 .. H_g], g*F -> F.
        self.up_compress = nn.ModuleList(_conv_prelu(g * f, f, 1) for g in range(2, num_groups + 1))
        self.down_compress = nn.ModuleList(_conv_prelu(g * f, f, 1)
                                           for g in range(2, num_groups + 1))
        self.compress_out = _conv_prelu(num_groups * f, f, 1)

    def forward(self, lr_features: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        low = [self.compress_in(torch.cat([lr_features, hidden], dim=1))]  # (B, F, h, w)
        high: list[torch.Tensor] = []
        for g, (up, down) in enumerate(zip(self.up, self.down)):
            source = low[0] if g == 0 else self.up_compress[g - 1](torch.cat(low, dim=1))
            high.append(up(source))  # (B, F, sh, sw)
            source = high[0] if g == 0 else self.down_compress[g - 1](torch.cat(high, dim=1))
            low.append(down(source))
        return self.compress_out(torch.cat(low[1:], dim=1))  # (B, F, h, w)


class SRFBN(SRNetwork):
    """Super-resolution feedback network, single image (SRFBN: F=64, G=6; SRFBN-S: F=32, G=3).

    Args:
        scale: upscaling factor ``s`` (2, 4, 8 or 16).
        guide_channels: channels of the (ignored) guide, for input validation only.
        num_features: ``F``.
        num_groups: ``G``, projection groups in the feedback block.
        num_steps: ``T``, unrolled feedback steps (:meth:`forward_steps`; the paper supervises
            every step: ``model.step_weights=uniform`` in conf/model/srfbn.yaml).
    """

    title = "SRFBN"

    def __init__(self, scale: int, guide_channels: int = 1, num_features: int = 64,
                 num_groups: int = 6, num_steps: int = 4) -> None:
        super().__init__()
        if isinstance(scale, bool) or scale not in PROJECTIONS:
            raise ConfigError(f"SRFBN supports scales {sorted(PROJECTIONS)}: model.net.scale={scale!r} is not "
                              f"one of them")
        check_choice("model.net.guide_channels", guide_channels, (1, 3))
        for key, value in (("num_features", num_features), ("num_groups", num_groups), ("num_steps", num_steps)):
            check_int(f"model.net.{key}", value, 1)
        self.scale, self.guide_channels, self.num_steps = scale, guide_channels, num_steps
        f, projection = num_features, PROJECTIONS[scale]
        self.conv_in = _conv_prelu(1, 4 * f, 3)
        self.feat_in = _conv_prelu(4 * f, f, 1)
        self.block = FeedbackBlock(f, num_groups, projection)
        self.upsample = _deconv_prelu(f, *projection)
        self.conv_out = nn.Conv2d(f, 1, 3, padding=1)

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``: the last step's prediction."""
        return self.forward_steps(lr_target, hr_guide)[-1]

    def step_count(self) -> int:
        """One prediction per feedback step (``T``)."""
        return self.num_steps

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> list[torch.Tensor]:
        """The HR predictions of all ``T`` steps; the guide is not used."""
        self.check_inputs(lr_target, hr_guide)
        interpolated = F.interpolate(lr_target, scale_factor=self.scale, mode="bilinear",
                                     align_corners=False)  # (B, 1, sH, sW)
        lr_features = self.feat_in(self.conv_in(lr_target))  # (B, F, h, w)
        hidden = lr_features
        outputs = []
        for _ in range(self.num_steps):
            hidden = self.block(lr_features, hidden)
            outputs.append(interpolated + self.conv_out(self.upsample(hidden)))
        return outputs

    def receptive_radius(self) -> float:
        """The LR 3x3 input convolution, then per feedback step the block's up and down
        projections, whose dense 1x1 compressions let every group read the farthest state so
        far; the upsampling projection, the output 3x3 and the bilinear ``y`` added."""
        s = self.scale
        kernel, padding = self.block.up[0][0].kernel_size[0], self.block.up[0][0].padding[0]
        project = resample_radius(kernel, s, padding)
        conv_in = self.conv_in[0].kernel_size[0] // 2 * s  # an LR 3x3: neighbours s HR pixels apart
        features = hidden = conv_in
        for _ in range(self.num_steps):
            low = max(features, hidden)  # L_0 = compress([F_in, h])
            high = -math.inf
            for _ in range(len(self.block.up)):
                high = max(high, low + project)
                low = max(low, high + project)
            hidden = low
        upsample = resample_radius(self.upsample[0].kernel_size[0], s, self.upsample[0].padding[0])
        return max(float(s), hidden + upsample + self.conv_out.kernel_size[0] // 2)
