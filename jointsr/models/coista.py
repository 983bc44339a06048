"""CoISTA: deep coupled ISTA network (Deng & Dragotti, IEEE TIP 2019).

Patch-based (method.md section 5), run on whole images. Every ``p x p`` patch of the
bicubic-upsampled target ``Y`` and of the guide ``Z`` (on a grid of stride
``patch_stride``) is vectorised and its mean removed; each branch codes it with an
unthresholded start and ``L`` untied thresholded ISTA layers, the codes are fused and the
HR patch is synthesised, as the official ``multimodal_upscaling.m`` and ``DeepCoupledISTA.m``:

    b_0 = We y_p                                                unthresholded, per branch
    b_l = phi(b_{l-1} + P_l (y_p - D_l b_{l-1}))                l = 1..L (official: L = 4)
    a   = phi(Wx a_x + Wy a_y)                                  fusion (a_x: target code)
    x_p = D_H a + mean(y_p)                                     HR patch

Each branch holds ``We``, ``P_1..P_L`` (d -> n), ``D_1..D_L`` (n -> d) and ``L`` per-atom
threshold vectors; the fusion ``Wx``, ``Wy`` (n x n), one threshold vector and ``D_H``
(n -> d), as the official weight files ``weight_x``, ``weight_y``, ``weight_z``.

Overlapping HR patches are averaged (sum of the patches divided by the overlap count).
The official test uses every overlapping patch (stride 1, ``overlap = [7 7]`` for 8 x 8
patches); that is the default in evaluation (``eval_patch_stride``). Training may use a
coarser grid (``patch_stride``, default ``p // 2``): the patch operators act on each patch
alone, so the grid stride changes how many patches are averaged, not the network. The
training grid starts at a random offset at every step (``grid_phase``), so that the training
patches take every position relative to the LR sampling grid that the stride-1 test averages.
All patch operators are matrices acting on every patch at once: the patches are
extracted with ``unfold`` (the analysis is then a ``p x p`` convolution of stride
``patch_stride``) and put back with ``fold`` (the transposed convolution of ``D_H``),
band by band of patch rows so that a stride-1 pass over a large image stays within a
bounded memory (about ``_BAND_ELEMENTS`` code entries at a time).
Thresholds are per atom, non-negative.

Initialisation (``init="ista"``): one random unit-norm dictionary ``D`` (``p^2 C x n``)
per branch, ``D_l = D``, ``P_l = We = D^T / L``, thresholds ``threshold_init / L`` (each
branch starts as ISTA from the gradient step ``D^T y / L``); ``Wy = I``, ``Wx = 0``,
``D_H = D_y``: the network starts as a sparse approximation of the bicubic target and
learns the guide coupling (``Wx`` receives a gradient from the first step).
``init="random"``: PyTorch's default weights.

The image is padded (replicate) at the bottom and right so that the patch grid covers it;
the padding is cropped from the output.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from jointsr.errors import ConfigError, check_choice, check_int
from jointsr.functional.imresize import imresize
from jointsr.functional.operators import operator_norm_sq
from jointsr.models.blocks import Threshold, normalise_atoms_
from jointsr.models.network import SRNetwork, bicubic_radius
from jointsr.models.ops import soft_threshold

Init = Literal["ista", "random"]

# Patch size per scale: 8 at x4 and 12 at x8 (the paper); 6 at x2 by the same rule
# p = s + 4; 16 at x16 (not s + 4 = 20) so that the default 256 atoms stay a complete
# dictionary of the p^2 = 256-dimensional patches.
DEFAULT_PATCH_SIZE: dict[int, int] = {2: 6, 4: 8, 8: 12, 16: 16}
#: code entries (batch x atoms x patches) computed at once: about 64 MB of float32 per tensor
_BAND_ELEMENTS = 1 << 24


class PatchISTA(nn.Module):
    """An unthresholded start and ``L`` untied ISTA layers on patch vectors laid out as
    channels of a patch grid (one branch of the official ``multimodal_upscaling.m``):

    ``b_0 = We y;  b_l = phi(b_{l-1} + P_l (y - D_l b_{l-1}))``,  l = 1..L,

    with ``y`` (B, d, n_h, n_w) and codes (B, n, n_h, n_w); ``We``, ``P_l``: d -> n and
    ``D_l``: n -> d are 1x1 convolutions, one per-atom threshold vector per layer.
    """

    def __init__(self, patch_dim: int, atoms: int, layers: int, threshold_init: float) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"ISTA layers must be >= 1, got {layers}")
        self.encoder = nn.Conv2d(patch_dim, atoms, 1, bias=False)  # We
        self.analysis = nn.ModuleList(nn.Conv2d(patch_dim, atoms, 1, bias=False)
                                      for _ in range(layers))  # P_1 .. P_L
        self.synthesis = nn.ModuleList(nn.Conv2d(atoms, patch_dim, 1, bias=False)
                                       for _ in range(layers))  # D_1 .. D_L
        self.thresholds = nn.ModuleList(Threshold(atoms, threshold_init) for _ in range(layers))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        code = self.encoder(patches)  # b_0, not thresholded
        for P, D, threshold in zip(self.analysis, self.synthesis, self.thresholds):
            code = soft_threshold(code + P(patches - D(code)), threshold())
        return code

    @torch.no_grad()
    def reset_ista(self, dictionary: torch.Tensor, threshold_init: float) -> float:
        """``D_l = dictionary`` (d x n), ``P_l = We = D^T / L``, thresholds ``lambda / L``; returns L."""
        lipschitz = operator_norm_sq(dictionary)
        analysis = (dictionary.T / lipschitz)[..., None, None]
        self.encoder.weight.copy_(analysis)
        for P in self.analysis:
            P.weight.copy_(analysis)
        for D in self.synthesis:
            D.weight.copy_(dictionary[..., None, None])
        for threshold in self.thresholds:
            threshold.reset(threshold_init / lipschitz)
        return lipschitz


class CoISTA(SRNetwork):
    """Deep coupled ISTA on overlapping patches of the bicubic target and the guide.

    Args:
        scale: upscaling factor ``s``.
        guide_channels: 1 for luminance, 3 for RGB.
        patch_size: ``p``; ``None`` = the default for the scale (``DEFAULT_PATCH_SIZE``).
        patch_stride: step of the patch grid in training; ``None`` = ``p // 2``;
            1 = every overlapping patch (the most averaging, slowest), ``p`` = no overlap.
        eval_patch_stride: step of the patch grid in eval mode: 1 (default) = every
            overlapping patch, as the official test; ``None`` = ``patch_stride``.
        grid_phase: where the training grid starts. ``random`` (default): at an offset drawn
            uniformly from ``[0, patch_stride)^2`` at every step, so the patches take every
            position relative to the LR sampling grid, as the official training's patches
            (cut everywhere in the images) do; ``fixed``: at the image's top-left corner. The
            training crops start on multiples of the scale, so with a fixed grid every
            training patch sits at one phase of the LR grid (and its 90-degree rotations'):
            the network learns that phase only, and the stride-1 test, which averages every
            phase, loses 0.8 dB to a stride-4 test at the trained phase (CAVE x4).
        atoms: ``n``, dictionary atoms (code length) of each branch and of ``D_H``.
        layers: ``L``, untied ISTA layers per branch.
        init: ``ista`` or ``random`` (see the module docstring).
        threshold_init: ``lambda`` (``ista``: thresholds ``lambda / L``) or the thresholds.
        seed: seed of the ``ista`` initialisation's random dictionaries.
    """

    title = "CoISTA"

    def __init__(
        self,
        scale: int,
        guide_channels: int = 1,
        patch_size: int | None = None,
        patch_stride: int | None = None,
        eval_patch_stride: int | None = 1,
        grid_phase: str = "random",
        atoms: int = 256,
        layers: int = 4,
        init: Init = "ista",
        threshold_init: float = 0.01,
        seed: int = 0,
    ) -> None:
        super().__init__()
        scale = check_int("model.net.scale", scale, 1)
        check_choice("model.net.guide_channels", guide_channels, (1, 3))
        if patch_size is None:
            if scale not in DEFAULT_PATCH_SIZE:
                raise ConfigError(f"model.net.patch_size=null: no default patch size for scale x{scale} "
                                  f"(defaults: {DEFAULT_PATCH_SIZE}); set model.net.patch_size")
            patch_size = DEFAULT_PATCH_SIZE[scale]
        patch_size = check_int("model.net.patch_size", patch_size, 1)
        patch_stride = max(1, patch_size // 2) if patch_stride is None else patch_stride
        eval_patch_stride = patch_stride if eval_patch_stride is None else eval_patch_stride
        strides = {"patch_stride": patch_stride, "eval_patch_stride": eval_patch_stride}
        for name, stride in strides.items():
            check_int(f"model.net.{name}", stride, 1)
            if stride > patch_size:
                raise ConfigError(f"model.net.{name}={stride} is out of range: it must be in [1, "
                                  f"patch_size={patch_size}]")
        atoms, layers = check_int("model.net.atoms", atoms, 1), check_int("model.net.layers", layers, 1)
        check_choice("model.net.init", init, ("ista", "random"))
        self.grid_phase = check_choice("model.net.grid_phase", grid_phase, ("random", "fixed"))
        if isinstance(threshold_init, bool) or not isinstance(threshold_init, (int, float)) or \
                not 0 <= threshold_init < math.inf:
            raise ConfigError(f"model.net.threshold_init={threshold_init!r} must be a number >= 0")
        self.scale, self.guide_channels = scale, guide_channels
        self.patch_size, self.atoms = patch_size, atoms
        self.patch_stride, self.eval_patch_stride = patch_stride, eval_patch_stride
        target_dim, guide_dim = patch_size ** 2, guide_channels * patch_size ** 2

        self.target_branch = PatchISTA(target_dim, atoms, layers, threshold_init)
        self.guide_branch = PatchISTA(guide_dim, atoms, layers, threshold_init)
        # the official weight_z.Wx multiplies the target's code, weight_z.Wy the guide's
        self.fuse_target = nn.Conv2d(atoms, atoms, 1, bias=False)  # Wx
        self.fuse_guide = nn.Conv2d(atoms, atoms, 1, bias=False)   # Wy
        self.fuse_threshold = Threshold(atoms, threshold_init)
        self.hr_dictionary = nn.Conv2d(atoms, target_dim, 1, bias=False)  # D_H

        if init == "ista":
            self.reset_ista(threshold_init, seed)

    @torch.no_grad()
    def reset_ista(self, threshold_init: float, seed: int = 0) -> None:
        """ISTA-consistent initialisation (see the module docstring)."""
        generator = torch.Generator().manual_seed(seed)

        def dictionary(dim: int) -> torch.Tensor:
            atoms = torch.randn(dim, self.atoms, generator=generator, dtype=torch.float64)
            return normalise_atoms_(atoms, atom_dim=1)

        target_dict = dictionary(self.patch_size ** 2)
        lip_y = self.target_branch.reset_ista(target_dict, threshold_init)
        self.guide_branch.reset_ista(dictionary(self.guide_channels * self.patch_size ** 2),
                                     threshold_init)
        self.fuse_target.weight.copy_(torch.eye(self.atoms)[..., None, None])
        self.fuse_guide.weight.zero_()
        self.fuse_threshold.reset(threshold_init / lip_y)
        self.hr_dictionary.weight.copy_(target_dict[..., None, None])

    def receptive_radius(self) -> float:
        """The bicubic input, then every ``p x p`` patch containing the pixel (each coded from
        itself alone)."""
        return bicubic_radius(self.scale) + self.patch_size - 1

    def tile_alignment(self) -> int:
        """The scale and the patch grid's step in the current mode: every tile sees the grid
        the whole image has."""
        return math.lcm(int(self.scale), int(self.stride))

    # ------------------------------------------------------------------ patches
    @property
    def stride(self) -> int:
        """The patch grid's step in the current mode (train or eval)."""
        return self.patch_stride if self.training else self.eval_patch_stride

    def _padding(self, size: int) -> int:
        """Bottom/right padding so that patches of the current stride cover ``size``."""
        p, stride = self.patch_size, self.stride
        covered = p + stride * math.ceil(max(size - p, 0) / stride)
        return covered - size

    def _patches(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean-removed patch vectors (B, C p^2, n_h, n_w) and their means (B, 1, n_h, n_w)."""
        b, c, height, width = image.shape
        p, stride = self.patch_size, self.stride
        columns = F.unfold(image, p, stride=stride)  # (B, C p^2, n_h n_w)
        grid = ((height - p) // stride + 1, (width - p) // stride + 1)
        patches = columns.view(b, c * p * p, *grid)
        mean = patches.mean(dim=1, keepdim=True)
        return patches - mean, mean

    def hr_patches(self, upsampled: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """The HR patches (B, p^2, n_h, n_w) of the patch grid of two aligned images (their
        sizes covered by the grid): both branches, the fusion and ``D_H``, the target's
        patch means added back."""
        target_patches, target_mean = self._patches(upsampled)  # (B, p^2, n_h, n_w)
        guide_patches, _ = self._patches(hr_guide)              # (B, C p^2, n_h, n_w)
        code_target = self.target_branch(target_patches)        # (B, n, n_h, n_w)
        code_guide = self.guide_branch(guide_patches)
        code = soft_threshold(self.fuse_target(code_target) + self.fuse_guide(code_guide),
                              self.fuse_threshold())
        return self.hr_dictionary(code) + target_mean

    # ------------------------------------------------------------------ forward
    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``."""
        self.check_inputs(lr_target, hr_guide)
        upsampled = imresize(lr_target, scale=self.scale)  # (B, 1, H, W)
        height, width = upsampled.shape[-2:]
        # training with a random grid phase: the grid starts (shift_y, shift_x) pixels above and
        # left of the image (replicate padding), cropped from the output again
        shift_y, shift_x = (int(v) for v in torch.randint(0, self.stride, (2,))) \
            if self.training and self.grid_phase == "random" and self.stride > 1 else (0, 0)
        pad = (shift_x, self._padding(shift_x + width), shift_y, self._padding(shift_y + height))
        if any(pad):
            upsampled = F.pad(upsampled, pad, mode="replicate")
            hr_guide = F.pad(hr_guide, pad, mode="replicate")
        return self.grid_average(upsampled, hr_guide)[..., shift_y:shift_y + height, shift_x:shift_x + width]

    def grid_average(self, upsampled: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """The HR image of two aligned images whose sizes the patch grid of the current stride
        covers, with the grid at their top-left corner: every patch of the grid synthesised
        (:meth:`hr_patches`) and the overlapping patches averaged."""
        # Band by band of patch rows: band i holds patch rows [r0, r1), image rows
        # [r0 stride, (r1 - 1) stride + p); its patches are folded back and summed into the image.
        p, stride = self.patch_size, self.stride
        padded_height, padded_width = upsampled.shape[-2:]
        rows = (padded_height - p) // stride + 1
        columns = (padded_width - p) // stride + 1
        band = max(1, _BAND_ELEMENTS // (upsampled.shape[0] * self.atoms * columns))
        total = upsampled.new_zeros(upsampled.shape)
        count = upsampled.new_zeros((1, 1, padded_height, padded_width))
        for r0 in range(0, rows, band):
            r1 = min(rows, r0 + band)
            top, bottom = r0 * stride, (r1 - 1) * stride + p
            patches = self.hr_patches(upsampled[..., top:bottom, :], hr_guide[..., top:bottom, :])
            size = (bottom - top, padded_width)
            folded = F.fold(patches.flatten(2), size, p, stride=stride)  # (B, 1, bottom - top, W')
            total = total.index_add(2, torch.arange(top, bottom, device=total.device), folded)
            ones = torch.ones_like(patches[:1]).flatten(2)
            count[..., top:bottom, :] += F.fold(ones, size, p, stride=stride)
        return total / count

