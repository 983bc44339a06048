"""The contract every network of jointsr implements: :class:`SRNetwork`.

The LightningModule (``jointsr.training.module``), the entry points (``predict``, ``eval``) and the
inspect tool use a network only through what is written here; a new network subclasses
:class:`SRNetwork`, sets ``scale`` and ``guide_channels`` and defines ``forward``. How the
steps' losses are weighted is the training's business, not the network's
(``model.step_weights`` of the LightningModule).

========================================  ===================================================
member                                    meaning
========================================  ===================================================
``scale: int``                            the upscaling factor ``s``
``guide_channels: int``                   1 (luminance guide) or 3 (RGB guide)
``forward(lr, guide) -> hr``              ``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``
``forward_steps(lr, guide) -> list``      the HR prediction of every unrolled step, the
                                          output last (one element for a one-step network)
``diagnostics(lr, guide) -> dict``        what the network can report about itself on an
                                          input, ``{name: float}``: code densities
                                          (``density/<state><step>``), thresholds
                                          (``threshold/min``, ``threshold/mean``); may be empty
``needs_calibration -> bool``             whether :meth:`calibrate` must run before training
``calibrate(lr, guide, hr)``              the data-driven start, on training patches
``check_inputs(lr, guide)``               a ValueError naming the shapes unless they fit
``learning_rate_scales() -> dict``        per-parameter factors of the optimiser's learning
                                          rate (``{name: factor}``; empty: one rate for all)
========================================  ===================================================
"""

from __future__ import annotations

import torch
from torch import nn

from jointsr.models.blocks import Threshold, check_guided_inputs


class SRNetwork(nn.Module):
    """Base class of every guided super-resolution network (see the module docstring).

    The defaults serve a network with one output and no data-driven start; a network
    with unrolled steps, sparse codes or a calibration overrides what applies.
    """

    scale: int
    guide_channels: int

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(lr_target, hr_guide)")

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> list[torch.Tensor]:
        """The HR prediction of every step, the output last; one step by default."""
        return [self(lr_target, hr_guide)]

    @torch.no_grad()
    def diagnostics(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> dict[str, float]:
        """By default the smallest and mean shrinkage threshold (``threshold/min``,
        ``threshold/mean``) of a network that has :class:`~jointsr.models.blocks.Threshold`
        modules, else nothing."""
        return threshold_summary(self)

    @property
    def needs_calibration(self) -> bool:
        """Whether :meth:`calibrate` has yet to run (never, by default)."""
        return False

    @torch.no_grad()
    def calibrate(self, lr_target: torch.Tensor, hr_guide: torch.Tensor,
                  hr_target: torch.Tensor | None = None) -> None:
        """The data-driven start on a batch of training patches (nothing by default)."""

    def check_inputs(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> None:
        check_guided_inputs(lr_target, hr_guide, self.scale, self.guide_channels)

    def learning_rate_scales(self) -> dict[str, float]:
        """``{parameter name: factor}``: the optimiser steps these parameters at ``factor``
        times its learning rate (the rest at the rate itself). None by default."""
        return {}


def fan_in(module: nn.Module) -> int:
    """Inputs that meet in one output entry of a convolution: ``C_in / groups * K_h * K_w``,
    and for a transposed one of stride ``s``, ``C_in * (K_h / s_h) * (K_w / s_w)``."""
    weight = module.weight
    if isinstance(module, nn.ConvTranspose2d):
        return max(1, round(weight.shape[0] * weight.shape[2] / module.stride[0] * weight.shape[3] / module.stride[1]))
    return weight.shape[1] * weight.shape[2] * weight.shape[3]


def equalized_scales(net: nn.Module) -> dict[str, float]:
    """``1 / sqrt(fan_in)`` for the weight of every convolution of ``net``: Adam with these
    factors is Adam on the equalized parametrization (Karras et al., ICLR 2018, weights stored
    in units of their He constant), where one step of size ``lr`` per coordinate moves every
    convolution's output by a comparable amount, whatever its fan-in."""
    return {f"{name}.weight" if name else "weight": fan_in(module) ** -0.5 for name, module in net.named_modules()
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d))}


def threshold_summary(net: nn.Module) -> dict[str, float]:
    """``threshold/min`` and ``threshold/mean`` over every :class:`Threshold` of ``net``
    (non-negative by construction; a dashboard shows how close to zero they come)."""
    thresholds = [module() for module in net.modules() if isinstance(module, Threshold)]
    if not thresholds:
        return {}
    return {"threshold/min": float(min(t.min() for t in thresholds)),
            "threshold/mean": float(torch.cat([t.flatten() for t in thresholds]).mean())}
