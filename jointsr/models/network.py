"""The contract every network of jointsr implements: :class:`SRNetwork`.

The LightningModule (``jointsr.training.module``), the entry points (``predict``, ``eval``),
tiling, the report and the inspect tool use a network only through what is written here; a
new network subclasses :class:`SRNetwork`, sets ``scale``, ``guide_channels`` and ``title``,
defines ``forward`` and ``receptive_radius``, and is found from its model config
(``conf/model/<name>.yaml``, :mod:`jointsr.models.catalog`). How the steps' losses are
weighted is the training's business, not the network's (``model.step_weights`` of the
LightningModule).

========================================  ===================================================
member                                    meaning
========================================  ===================================================
``scale: int``                            the upscaling factor ``s``
``guide_channels: int``                   1 (luminance guide) or 3 (RGB guide)
``title: str`` (class)                    the network's row title in reports and tables (a
                                          model config that is its own row, one class
                                          serving several, sets ``title:`` in its YAML)
``has_codes: bool`` (class)               whether it computes sparse codes that
                                          :meth:`code_trace` returns (``jointsr-inspect``)
``forward(lr, guide) -> hr``              ``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``
``forward_steps(lr, guide) -> list``      the HR prediction of every unrolled step, the
                                          output last (one element for a one-step network)
``step_count() -> int``                   how many predictions :meth:`forward_steps` returns,
                                          from the hyper-parameters (``model.step_weights``)
``diagnostics(lr, guide) -> dict``        what the network can report about itself on an
                                          input, ``{name: float}``: code densities
                                          (``density/<state><step>``), thresholds
                                          (``threshold/min``, ``threshold/mean``); may be empty
``needs_calibration -> bool``             whether :meth:`calibrate` must run before training
``calibrate(lr, guide, hr)``              the data-driven start, on training patches
``check_inputs(lr, guide)``               a ValueError naming the shapes unless they fit
``learning_rate_scales() -> dict``        per-parameter factors of the optimiser's learning
                                          rate (``{name: factor}``; empty: one rate for all)
``receptive_radius() -> float``           the HR radius beyond which no input changes an
                                          output pixel, from the hyper-parameters (tiling)
``tile_alignment() -> int``               tile origins (HR) are multiples of this
``code_trace(lr, guide)``                 the codes of one pass, kept whole, a
                                          :class:`~jointsr.models.codes.NetworkTrace`
                                          (networks with ``has_codes`` only)
========================================  ===================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from jointsr.models.blocks import Threshold, check_guided_inputs

if TYPE_CHECKING:
    from jointsr.models.codes import NetworkTrace


class SRNetwork(nn.Module):
    """Base class of every guided super-resolution network (see the module docstring).

    The defaults serve a network with one output and no data-driven start; a network
    with unrolled steps, sparse codes or a calibration overrides what applies.
    """

    scale: int
    guide_channels: int
    #: the network's row title in reports and tables, unless the model config sets ``title:``
    title: ClassVar[str]
    #: whether the network computes sparse codes that :meth:`code_trace` returns
    has_codes: ClassVar[bool] = False

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward(lr_target, hr_guide)")

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> list[torch.Tensor]:
        """The HR prediction of every step, the output last; one step by default."""
        return [self(lr_target, hr_guide)]

    def step_count(self) -> int:
        """How many predictions :meth:`forward_steps` returns (one by default)."""
        return 1

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

    def receptive_radius(self) -> float:
        """The HR radius beyond which no input changes an output pixel, computed from the
        hyper-parameters layer by layer along the longest path of the unrolled graph (what
        tiling grows every tile by). A network that does not define it cannot be tiled."""
        raise ValueError(f"{type(self).__name__}: its receptive radius is unknown, so it cannot be tiled; give "
                         f"it a receptive_radius() method, or run it on the whole image (tile=0)")

    def tile_alignment(self) -> int:
        """Tile origins (HR) are multiples of this: the scale, so that the LR crop of a tile
        is exact and every strided layer keeps its phase."""
        return int(self.scale)

    def code_trace(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> NetworkTrace:
        """The sparse codes of one pass on one image pair, kept whole, with what rebuilds
        every LeSITA shrinkage (:class:`~jointsr.models.codes.NetworkTrace`); only for a
        network with ``has_codes``."""
        raise NotImplementedError(f"{type(self).__name__} has no sparse codes (has_codes is False)")


def resample_radius(kernel: int, stride: int, padding: int) -> float:
    """HR radius of a stride-``s`` convolution HR -> LR or its transpose LR -> HR (``kernel``,
    ``padding``): the farthest HR pixel one LR pixel's kernel touches, from the LR pixel's
    centre. An LR pixel ``i`` sits at HR coordinate ``i s + (s - 1) / 2`` and its kernel
    touches HR ``i s - padding .. i s - padding + kernel - 1``."""
    centre = (stride - 1) / 2
    return max(padding + centre, kernel - 1 - padding - centre)


def bicubic_radius(scale: int) -> float:
    """MATLAB bicubic upscaling: output ``y`` reads LR taps within 2 of ``u = (y + 0.5) / s - 0.5``
    (the cubic kernel is 0 beyond), i.e. within ``2 s`` HR pixels of their centres."""
    return 2.0 * scale


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
