"""JointSR: the recurrent network with coupled sparse priors (Marivani et al., ICIP 2020).

The network unrolls alternating proximal steps on the coupled model (method.md section 3)

    min_{u,v} 1/2 |y - H Dx u|^2 + 1/2 |z - Dz v|^2 + lambda (|u|_1 + |v|_1 + |u - v|_1)

    guide ACSC   : v_0 = phi(Wz z);  v_{t+1} = phi(update_z(v_t) + Wz z)       T iterations
    target ACSC  : u_0 = phi(Wy y);  u_{t+1} = phi(update_y(u_t) + Wy y)       Wy: LR -> HR grid
    dual-state RNN (h_0 = u_T, g_0 = v_T), R steps:
        h_{r+1} = xi(update_h(h_r) + Bh y; g_r)
        g_{r+1} = xi(update_g(g_r) + Bg z; h_{r+1})
    output       : x_hat = Dx h_R  (+ an optional learned skip of y)

where ``update(a)`` is ``S a`` (free form) or ``a - E(D a)`` (factorised form) and
``xi`` is LeSITA. The LR target reaches the HR grid only through learned transposed
convolutions: no interpolation anywhere.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from jointsr.models.blocks import (
    ACSC,
    CodeUpdate,
    Threshold,
    UpdateForm,
    bilinear_kernel,
    check_guided_inputs,
    conv,
    conv_down,
    conv_up,
    identity_minus_gram,
    normalise_atoms_,
    operator_norm_sq,
)
from jointsr.models.ops import lesita

Init = Literal["ista", "random"]


class DualStateStep(nn.Module):
    """One step of the dual-state RNN: the target state, then (optionally) the guide state."""

    def __init__(self, target_update: CodeUpdate, target_drive: nn.Module, target_mu: Threshold,
                 guide_update: CodeUpdate | None, guide_drive: nn.Module | None,
                 guide_mu: Threshold | None) -> None:
        super().__init__()
        self.target_update, self.target_drive, self.target_mu = target_update, target_drive, target_mu
        self.guide_update, self.guide_drive, self.guide_mu = guide_update, guide_drive, guide_mu

    def update_target(self, h: torch.Tensor, g: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        return lesita(self.target_update(h) + drive, g, self.target_mu())

    def update_guide(self, g: torch.Tensor, h: torch.Tensor, drive: torch.Tensor) -> torch.Tensor:
        return lesita(self.guide_update(g) + drive, h, self.guide_mu())


class JointSR(nn.Module):
    """Joint image super-resolution by an RNN with coupled convolutional sparse priors.

    Args:
        scale: upscaling factor ``s`` (the HR guide is ``s`` times the LR target).
        k: number of code channels (dictionary atoms).
        K: kernel size of the convolutions on one grid (odd).
        T: ACSC iterations of each encoder (``T = 0``: one analysis + shrinkage).
        R: dual-state RNN steps (``R = 0``: decode the target encoder's code).
        guide_channels: 1 for luminance, 3 for RGB.
        form: ``free`` (``S: k -> k``, as the slides write ACSC) or ``factorised``
            (``a - E(D a)``, far fewer FLOPs).
        tied: share the weights across encoder iterations and across RNN steps.
        guide_update: update the guide state in the RNN (off = fixed side information).
        global_skip: add a learned transposed-convolution upsampling of the LR target,
            initialised to bilinear interpolation, to the output; the dictionary then
            starts at zero, so the untrained network is that interpolation and ``Dx h``
            learns the residual.
        deep_supervision: ``False`` (loss on the output only), ``True`` (equal weights on
            the reconstruction of every RNN step) or a list of ``R`` weights.
        init: ``ista`` (unit-norm dictionary atoms, ``W = D^T / L``, ``S = I - D^T D / L``,
            thresholds ``threshold_init / L``) or ``random`` (PyTorch default weights,
            thresholds ``threshold_init``).
        threshold_init: ``lambda`` of the ISTA initialisation (see ``init``).
        seed: seed of the ISTA initialisation's random dictionary (reproducible weights).
    """

    def __init__(
        self,
        scale: int,
        k: int = 64,
        K: int = 7,
        T: int = 2,
        R: int = 3,
        guide_channels: int = 1,
        form: UpdateForm = "free",
        tied: bool = True,
        guide_update: bool = True,
        global_skip: bool = False,
        deep_supervision: bool | Sequence[float] = False,
        init: Init = "ista",
        threshold_init: float = 0.05,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        if T < 0 or R < 0:
            raise ValueError(f"T and R must be >= 0, got T={T}, R={R}")
        if init not in ("ista", "random"):
            raise ValueError(f"init must be 'ista' or 'random', got {init!r}")
        self.scale, self.k, self.K, self.T, self.R = scale, k, K, T, R
        self.guide_channels, self.form, self.tied = guide_channels, form, tied
        self.guide_update_enabled = guide_update
        self.step_weights = _step_weights(deep_supervision, R)

        n_iter = 1 if tied else max(T, 1)
        n_steps = 1 if tied else max(R, 1)

        # Encoders (one ACSC per modality).
        self.guide_encoder = ACSC(
            analysis=conv(guide_channels, k, K),
            updates=nn.ModuleList(self._guide_update() for _ in range(n_iter)),
            thresholds=nn.ModuleList(Threshold(k, threshold_init) for _ in range(1 + n_iter)),
            iterations=T,
        )
        self.target_encoder = ACSC(
            analysis=conv_up(1, k, scale),
            updates=nn.ModuleList(self._target_update() for _ in range(n_iter)),
            thresholds=nn.ModuleList(Threshold(k, threshold_init) for _ in range(1 + n_iter)),
            iterations=T,
        )
        # Dual-state RNN. The guide update of the last step never reaches the output, so a
        # network with R = 1 (or untied R steps) builds no guide weights for that last step.
        guide_steps = n_steps if (tied and R > 1) else R - 1
        self.steps = nn.ModuleList(
            DualStateStep(
                target_update=self._target_update(),
                target_drive=conv_up(1, k, scale),
                target_mu=Threshold(k, threshold_init),
                guide_update=self._guide_update() if guide_update and i < guide_steps else None,
                guide_drive=conv(guide_channels, k, K) if guide_update and i < guide_steps else None,
                guide_mu=Threshold(k, threshold_init) if guide_update and i < guide_steps else None,
            )
            for i in range(n_steps if R > 0 else 0)
        )
        self.dictionary = conv(k, 1, K)  # Dx: (B, k, sH, sW) -> (B, 1, sH, sW)
        self.skip = conv_up(1, 1, scale) if global_skip else None

        if init == "ista":
            self.reset_ista(threshold_init, seed)
        elif self.skip is not None:
            self._reset_skip()
            nn.init.zeros_(self.dictionary.weight)

    # ------------------------------------------------------------------ construction
    def _guide_update(self) -> CodeUpdate:
        if self.form == "free":
            return CodeUpdate("free", S=conv(self.k, self.k, self.K))
        return CodeUpdate("factorised", D=conv(self.k, self.guide_channels, self.K),
                          E=conv(self.guide_channels, self.k, self.K))

    def _target_update(self) -> CodeUpdate:
        if self.form == "free":
            return CodeUpdate("free", S=conv(self.k, self.k, self.K))
        return CodeUpdate("factorised", D=conv_down(self.k, 1, self.scale),
                          E=conv_up(1, self.k, self.scale))

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def _reset_skip(self) -> None:
        self.skip.weight.copy_(bilinear_kernel(self.scale).to(self.skip.weight))

    @torch.no_grad()
    def reset_ista(self, threshold_init: float, seed: int = 0) -> None:
        """ISTA-consistent initialisation (see the class docstring).

        One random unit-norm HR dictionary ``Dx`` (k atoms of K x K) is shared by both
        modalities so that the codes ``h`` and ``g`` are comparable, as LeSITA's coupling
        term ``|h - g|_1`` assumes. The target's degraded dictionary ``H Dx`` is ``Dx``
        blurred by an s x s box and sampled with stride s (a ``2s x 2s`` kernel).
        """
        generator = torch.Generator().manual_seed(seed)
        s, k, K = self.scale, self.k, self.K
        atoms = torch.randn(1, k, K, K, generator=generator, dtype=torch.float32)
        normalise_atoms_(atoms, atom_dim=1)  # Dx weight (1, k, K, K)

        # Guide dictionary Dz: the same atoms on each guide channel.
        guide_dict = atoms.expand(self.guide_channels, k, K, K) / self.guide_channels ** 0.5
        pad_z = K // 2

        def dz(a: torch.Tensor) -> torch.Tensor:
            return F.conv2d(a, guide_dict, padding=pad_z)

        def dz_t(x: torch.Tensor) -> torch.Tensor:
            return F.conv_transpose2d(x, guide_dict, padding=pad_z)

        lip_z = operator_norm_sq(dz, dz_t, (1, k, 32, 32))

        # Degraded target dictionary H Dx: box blur then stride s, on a 2s x 2s support.
        box = torch.ones(1, 1, s, s, dtype=torch.float32) / (s * s)
        blurred = F.conv2d(atoms.reshape(k, 1, K, K), box, padding=s - 1)  # (k, 1, K+s-1, K+s-1)
        size, support = 2 * s, blurred.shape[-1]
        target_dict = torch.zeros(k, 1, size, size, dtype=torch.float32)
        lo = max(0, (size - support) // 2)
        src = max(0, (support - size) // 2)
        n = min(size, support)
        target_dict[..., lo:lo + n, lo:lo + n] = blurred[..., src:src + n, src:src + n]
        target_dict = target_dict.reshape(1, k, size, size)
        down = conv_down(k, 1, s)
        stride, padding = down.stride, down.padding

        def hd(a: torch.Tensor) -> torch.Tensor:
            return F.conv2d(a, target_dict, stride=stride, padding=padding)

        def hd_t(y: torch.Tensor) -> torch.Tensor:
            return F.conv_transpose2d(y, target_dict, stride=stride, padding=padding,
                                      output_padding=s % 2)

        lip_y = operator_norm_sq(hd, hd_t, (1, k, 8 * s, 8 * s))

        # Free-form S: I - D^T D / L, from the HR dictionary for both states (the target's
        # exact Gram is shift-variant; the HR one, scaled by 1/s^2, is its stride-1 average).
        def dx(a: torch.Tensor) -> torch.Tensor:
            return F.conv2d(a, atoms, padding=K // 2)

        def dx_t(x: torch.Tensor) -> torch.Tensor:
            return F.conv_transpose2d(x, atoms, padding=K // 2)

        support_s = 2 * K + 1  # the Gram kernel D^T D spans 2K - 1 samples
        s_guide = identity_minus_gram(dz, dz_t, k, K, 1.0 / lip_z, support_s)
        s_target = identity_minus_gram(dx, dx_t, k, K, 1.0 / (lip_y * s * s), support_s)

        analysis_z = guide_dict.transpose(0, 1).flip(-1, -2) / lip_z  # (k, Cg, K, K)
        analysis_y = target_dict / lip_y  # ConvTranspose2d weight (1, k, 2s, 2s)

        def set_update(update: CodeUpdate, free: torch.Tensor, dictionary: torch.Tensor,
                       adjoint: torch.Tensor) -> None:
            if update.form == "free":
                update.S.weight.copy_(free)
            else:
                update.D.weight.copy_(dictionary)
                update.E.weight.copy_(adjoint)

        def set_guide(update: CodeUpdate) -> None:
            set_update(update, s_guide, guide_dict, analysis_z)

        def set_target(update: CodeUpdate) -> None:
            set_update(update, s_target, target_dict, analysis_y)

        self.guide_encoder.analysis.weight.copy_(analysis_z)
        self.target_encoder.analysis.weight.copy_(analysis_y)
        for update in self.guide_encoder.updates:
            set_guide(update)
        for update in self.target_encoder.updates:
            set_target(update)
        for threshold in self.guide_encoder.thresholds:
            threshold.reset(threshold_init / lip_z)
        for threshold in self.target_encoder.thresholds:
            threshold.reset(threshold_init / lip_y)
        for step in self.steps:
            set_target(step.target_update)
            step.target_drive.weight.copy_(analysis_y)
            step.target_mu.reset(threshold_init / lip_y)
            if step.guide_update is not None:
                set_guide(step.guide_update)
                step.guide_drive.weight.copy_(analysis_z)
                step.guide_mu.reset(threshold_init / lip_z)
        self.dictionary.weight.copy_(atoms)
        if self.skip is not None:
            self._reset_skip()
            self.dictionary.weight.zero_()  # start as the skip's interpolation; learn the residual

    # ------------------------------------------------------------------ forward
    def check_inputs(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> None:
        check_guided_inputs(lr_target, hr_guide, self.scale, self.guide_channels)

    @torch.no_grad()
    def code_density(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> dict[str, float]:
        """Fraction of non-zero code entries of each state after encoding and the RNN:
        a branch whose density stays at 0 is dead and trains silently."""
        _, codes = self.forward_steps(lr_target, hr_guide, all_steps=False, return_codes=True)
        return {f"{state}_{i}": float((code != 0).float().mean())
                for state, steps in codes.items() for i in (0, len(steps) - 1)
                for code in [steps[i]]}

    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``: the HR target estimate."""
        return self.forward_steps(lr_target, hr_guide, all_steps=False)[-1]

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor,
                      all_steps: bool = True, return_codes: bool = False):
        """Reconstructions ``Dx h_r`` (every step when ``all_steps``, else only the last).

        With ``return_codes`` also returns ``{"target": [h_0..h_R], "guide": [g_0..]}``,
        the code maps of both states at every step, for inspection.
        """
        self.check_inputs(lr_target, hr_guide)
        g = self.guide_encoder(hr_guide)   # (B, k, sH, sW)
        h = self.target_encoder(lr_target)  # (B, k, sH, sW)
        codes = {"target": [h], "guide": [g]}
        skip = self.skip(lr_target) if self.skip is not None else None
        outputs = []
        drives: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        for r in range(self.R):
            index = r % len(self.steps)
            step = self.steps[index]
            if index not in drives:  # Bh y and Bg z, once per distinct set of weights
                guide_drive = step.guide_drive(hr_guide) if step.guide_drive is not None else None
                drives[index] = (step.target_drive(lr_target), guide_drive)
            target_drive, guide_drive = drives[index]
            h = step.update_target(h, g, target_drive)
            if r < self.R - 1 and step.guide_update is not None:
                g = step.update_guide(g, h, guide_drive)
            if return_codes:
                codes["target"].append(h)
                codes["guide"].append(g)
            if all_steps or r == self.R - 1:
                outputs.append(self._decode(h, skip))
        if self.R == 0:
            outputs.append(self._decode(h, skip))
        return (outputs, codes) if return_codes else outputs

    def _decode(self, code: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        image = self.dictionary(code)
        return image if skip is None else image + skip


def _step_weights(deep_supervision: bool | Sequence[float], steps: int) -> list[float] | None:
    """Loss weights of the per-step reconstructions, or None for the output only."""
    if deep_supervision is False or deep_supervision is None or steps <= 1:
        return None
    if deep_supervision is True:
        return [1.0 / steps] * steps
    weights = [float(w) for w in deep_supervision]
    if len(weights) != steps:
        raise ValueError(f"deep_supervision needs one weight per RNN step ({steps}), got {weights}")
    return weights
