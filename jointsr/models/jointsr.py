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

from typing import Literal

import torch
from torch import nn

from jointsr.models.blocks import (
    ACSC,
    CodeUpdate,
    ConvOperator,
    IstaStart,
    Threshold,
    UpdateForm,
    bilinear_kernel,
    conv,
    conv_down,
    conv_up,
    normalise_atoms_,
)
from jointsr.models.codes import NetworkTrace, Shrinkage, State, encoder_labels, threshold_layers
from jointsr.models.network import SRNetwork, equalized_scales, resample_radius, threshold_summary
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

    def update_target(self, h: torch.Tensor, g: torch.Tensor, drive: torch.Tensor,
                      calibrate: float | None = None) -> torch.Tensor:
        """``h' = xi(update_h(h) + Bh y; g)``; ``calibrate`` sets ``mu_h`` from this step first."""
        return _coupled_step(self.target_update, self.target_mu, h, g, drive, calibrate)

    def update_guide(self, g: torch.Tensor, h: torch.Tensor, drive: torch.Tensor,
                     calibrate: float | None = None) -> torch.Tensor:
        """``g' = xi(update_g(g) + Bg z; h')``; ``calibrate`` sets ``mu_g`` from this step first."""
        return _coupled_step(self.guide_update, self.guide_mu, g, h, drive, calibrate)


def _coupled_step(update: CodeUpdate, mu: Threshold, code: torch.Tensor, side: torch.Tensor,
                  drive: torch.Tensor, calibrate: float | None) -> torch.Tensor:
    """One LeSITA-coupled ISTA step ``xi(update(code) + drive; side)`` of either state."""
    value = update(code) + drive
    if calibrate is not None:
        mu.calibrate_(value, calibrate, side=side)
    return lesita(value, side, mu())


class JointSR(SRNetwork):
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
        init: ``ista`` (unit-norm dictionary atoms, ``W = A^T / L``, ``S = I - A^T A / L``
            for ``A = Dz`` and ``A = H Dx``, thresholds ``threshold_init / L``; see
            :meth:`reset_ista`) or ``random`` (PyTorch default weights, thresholds
            ``threshold_init``).
        threshold_init: ``lambda`` of the ISTA initialisation (see ``init``), used until
            :meth:`calibrate` sets the thresholds from data.
        seed: seed of the ISTA initialisation's random dictionary (reproducible weights).
        free_kernel_size: kernel of the free form's ``S`` (odd; default ``K``). ``2K - 1``
            holds the guide's Gram ``Dz^T Dz`` exactly.
        calibration_density: the share of non-zero code entries each threshold is set to
            give by :meth:`calibrate` (on the first training batch), or ``None`` to keep
            the analytic thresholds.
        fit_dictionary: let :meth:`calibrate` set ``Dx`` to the least-squares decoder of the
            calibrated codes (else ``Dx`` keeps its ISTA atoms, or zero with the skip).
        equalized_lr: step every convolution weight at ``1 / sqrt(fan_in)`` times the
            optimiser's rate (:meth:`learning_rate_scales`). Adam's first step moves every
            coordinate by about ``lr`` whatever its gradient; on a code update ``S`` (fan-in
            ``k K^2`` = 3,136 in the paper's shape) a step of 1e-4 on every tap shifts its
            response to a smooth code by up to 0.31 of the code, and the unrolled network
            applies ``S`` ``T + R`` times: the calibrated start is lost in one step.
    """

    title = "JointSR"
    has_codes = True

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
        init: Init = "ista",
        threshold_init: float = 0.05,
        seed: int = 0,
        free_kernel_size: int | None = None,
        calibration_density: float | None = 0.25,
        fit_dictionary: bool = True,
        equalized_lr: bool = False,
    ) -> None:
        super().__init__()
        free_kernel_size = K if free_kernel_size is None else free_kernel_size
        _check_arguments(scale=scale, k=k, K=K, T=T, R=R, guide_channels=guide_channels, form=form,
                         init=init, threshold_init=threshold_init, free_kernel_size=free_kernel_size,
                         calibration_density=calibration_density)
        self.scale, self.k, self.K, self.T, self.R = scale, k, K, T, R
        self.free_kernel_size, self.calibration_density = free_kernel_size, calibration_density
        self.fit_dictionary, self.equalized_lr = fit_dictionary, bool(equalized_lr)
        # whether the thresholds were set from data; saved with the weights, so a resumed
        # run or a loaded checkpoint never calibrates again
        self.register_buffer("calibrated", torch.tensor(False))
        self.guide_channels, self.form, self.tied = guide_channels, form, tied
        self.guide_update_enabled = guide_update

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
            return CodeUpdate("free", S=conv(self.k, self.k, self.free_kernel_size))
        return CodeUpdate("factorised", D=conv(self.k, self.guide_channels, self.K),
                          E=conv(self.guide_channels, self.k, self.K))

    def _target_update(self) -> CodeUpdate:
        if self.form == "free":
            return CodeUpdate("free", S=conv(self.k, self.k, self.free_kernel_size))
        return CodeUpdate("factorised", D=conv_down(self.k, 1, self.scale),
                          E=conv_up(1, self.k, self.scale))

    # ------------------------------------------------------------------ initialisation
    @torch.no_grad()
    def _reset_skip(self) -> None:
        self.skip.weight.copy_(bilinear_kernel(self.scale).to(self.skip.weight))

    @torch.no_grad()
    def reset_ista(self, threshold_init: float, seed: int = 0) -> None:
        """ISTA-consistent initialisation: every update is one ISTA step on its modality
        (:class:`~jointsr.models.blocks.IstaStart`).

        One random unit-norm HR dictionary ``Dx`` (k atoms of K x K) serves both modalities,
        so that the codes ``h`` and ``g`` are comparable, as LeSITA's coupling term
        ``|h - g|_1`` assumes. The guide's operator is ``A = Dz`` (the atoms on each guide
        channel), the target's ``A = H Dx`` (:meth:`ConvOperator.degradation`). For each,
        ``W = A^T / L`` (``L = ||A||^2``), the factorised update is ``D = A, E = A^T / L``
        (exactly ISTA), the free update ``S`` the shift-invariant ``I - A^T A / L`` closest to
        it, made non-expansive (:func:`ista_update_weight`), the thresholds ``lambda / L``.
        """
        generator = torch.Generator().manual_seed(seed)
        atoms = torch.randn(1, self.k, self.K, self.K, generator=generator)
        normalise_atoms_(atoms, atom_dim=1)  # Dx weight (1, k, K, K)
        free_kernel = self.free_kernel_size if self.form == "free" else None
        guide = IstaStart.of(ConvOperator.dictionary(atoms, self.guide_channels), free_kernel)  # A = Dz
        target = IstaStart.of(ConvOperator.degradation(atoms, self.scale), free_kernel)         # A = H Dx
        guide.set_encoder(self.guide_encoder, threshold_init)
        target.set_encoder(self.target_encoder, threshold_init)
        for step in self.steps:
            target.set_step(step.target_update, step.target_drive, step.target_mu, threshold_init)
            if step.guide_update is not None:
                guide.set_step(step.guide_update, step.guide_drive, step.guide_mu, threshold_init)
        self.dictionary.weight.copy_(atoms)
        if self.skip is not None:
            self._reset_skip()
            self.dictionary.weight.zero_()  # start as the skip's interpolation; learn the residual

    @torch.no_grad()
    def calibrate(self, lr_target: torch.Tensor, hr_guide: torch.Tensor,
                  hr_target: torch.Tensor | None = None) -> None:
        """Data-driven start, on a training batch: every threshold, at its first use in the
        unrolled network, is set so that its state keeps ``calibration_density`` of its
        entries non-zero per channel (:meth:`Threshold.calibrate_`); then, given the HR
        truth, the dictionary ``Dx`` is the least-squares decoder of the final code ``h_R``
        (of the residual to the skip, with one): one dictionary update of alternating
        sparse coding, so the sparse path shapes the output from the first step instead of
        waiting for a zero dictionary to grow. Marks the network calibrated."""
        if self.calibration_density is not None:
            self._unroll(lr_target, hr_guide, all_steps=False, calibrate=self.calibration_density)
        if hr_target is not None and self.fit_dictionary:
            trace: dict[str, list[torch.Tensor]] = {}
            self._unroll(lr_target, hr_guide, all_steps=False, trace=trace)
            code = (trace["h"] or trace["u"])[-1]
            residual = hr_target - (self.skip(lr_target) if self.skip is not None else 0.0)
            self.dictionary.weight.copy_(least_squares_dictionary(code, residual, self.K))
        self.balance_scales()
        self.calibrated.fill_(True)

    @torch.no_grad()
    def balance_scales(self) -> None:
        """Rescale weights without changing the function, so that every weight tensor has a
        comparable magnitude and Adam (whose steps are about ``lr`` per weight whatever its
        size) moves each at a comparable relative rate.

        Shrinkage is positively homogeneous (``phi_{ct}(cu) = c phi_t(u)``, likewise LeSITA
        with ``cs``) and the updates are linear, so multiplying every analysis and drive
        weight and every threshold by ``c`` multiplies every code by ``c``; the dictionary
        takes ``1 / c``. Within a factorised update ``E(D a)`` is unchanged by ``D alpha``,
        ``E / alpha``. ``c`` and ``alpha`` equalise the RMS of the weights they trade."""
        def rms(*tensors: torch.Tensor) -> float:
            return float(torch.cat([t.flatten() for t in tensors]).square().mean().sqrt())

        drives = [self.guide_encoder.analysis.weight, self.target_encoder.analysis.weight]
        for step in self.steps:
            drives += [step.target_drive.weight] + ([step.guide_drive.weight] if step.guide_drive is not None else [])
        dictionary = self.dictionary.weight
        if rms(dictionary) > 0 and rms(*drives) > 0:
            c = (rms(dictionary) / rms(*drives)) ** 0.5
            for weight in drives:
                weight.mul_(c)
            for threshold in (m for m in self.modules() if isinstance(m, Threshold)):
                threshold.reset(threshold() * c)
            dictionary.div_(c)
        for update in (m for m in self.modules() if isinstance(m, CodeUpdate)):
            if update.form == "factorised" and rms(update.D.weight) > 0 and rms(update.E.weight) > 0:
                alpha = (rms(update.E.weight) / rms(update.D.weight)) ** 0.5
                update.D.weight.mul_(alpha)
                update.E.weight.div_(alpha)

    @torch.no_grad()
    def diagnostics(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> dict[str, float]:
        """What the network can report about itself on an input: the density (share of
        non-zero entries) of every code state at every unrolled step, ``density/u0..uT``
        (target encoder), ``density/v0..vT`` (guide encoder), ``density/h1..hR`` and
        ``density/g1..`` (RNN), and the smallest and mean threshold. A state at density 0
        is a dead branch; one near 1 is not sparse."""
        trace: dict[str, list[torch.Tensor]] = {}
        self._unroll(lr_target, hr_guide, all_steps=False, trace=trace)
        result = {}
        for state, codes in trace.items():
            first = 1 if state in ("h", "g") else 0
            for i, code in enumerate(codes):
                result[f"density/{state}{first + i}"] = float((code != 0).float().mean())
        return {**result, **threshold_summary(self)}

    @torch.no_grad()
    def trace(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> tuple[list[torch.Tensor], dict[str, list[torch.Tensor]]]:
        """Every reconstruction ``Dx h_r`` (r = 1..R, or ``Dx u_T`` when R = 0) and every code
        state: ``u`` and ``v`` per encoder iteration (T + 1 each), ``h`` per RNN step (R),
        ``g`` per RNN step where the guide state is updated (R - 1, none when off)."""
        trace: dict[str, list[torch.Tensor]] = {}
        outputs = self._unroll(lr_target, hr_guide, all_steps=True, trace=trace)
        return outputs, trace

    @property
    def needs_calibration(self) -> bool:
        return not bool(self.calibrated)

    def learning_rate_scales(self) -> dict[str, float]:
        """With ``equalized_lr``, ``1 / sqrt(fan_in)`` for every convolution weight
        (:func:`~jointsr.models.network.equalized_scales`); thresholds at the rate itself."""
        return equalized_scales(self) if self.equalized_lr else {}

    def receptive_radius(self) -> float:
        """Along the unrolled graph: the guide encoder (analysis, then T updates), the target
        encoder, then every RNN step (LeSITA reads the other state at the same pixel), the
        dictionary ``Dx``, and the skip of ``y``."""
        s, half = self.scale, self.K // 2
        up = resample_radius(2 * s, s, (s + 1) // 2)  # conv_up and conv_down
        if self.form == "free":
            guide_update = target_update = self.free_kernel_size // 2
        else:
            guide_update, target_update = 2 * half, 2 * up  # E(D a) on the HR grid; via the LR grid
        guide_drive, target_drive = half, up
        g = guide_drive + self.T * guide_update
        h = target_drive + self.T * target_update
        guide_steps = sum(1 for step in self.steps if step.guide_update is not None)
        for r in range(self.R):
            h = max(h + target_update, target_drive, g)
            if r < self.R - 1 and guide_steps:
                g = max(g + guide_update, guide_drive, h)
        radius = h + half  # the dictionary Dx
        return max(radius, up) if self.skip is not None else radius

    @torch.no_grad()
    def code_trace(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> NetworkTrace:
        """States ``target`` = ``u_0 .. u_T`` (``enc t``), then ``h_1 .. h_R`` (``rnn r``);
        ``guide`` = ``v_0 .. v_T``, then ``g_1 .. g_{R-1}`` (where the guide state is updated).
        LeSITA at every RNN step: ``h_r = xi(update_h(h_{r-1}) + Bh y; g_{r-1})``, then
        ``g_r = xi(update_g(g_{r-1}) + Bg z; h_r)``."""
        outputs, codes = self.trace(lr_target, hr_guide)
        u, v, h, g = codes["u"], codes["v"], codes["h"], codes["g"]
        target = State("target", encoder_labels(u) + [(f"rnn {r}", c) for r, c in enumerate(h, 1)])
        guide = State("guide", encoder_labels(v) + [(f"rnn {r}", c) for r, c in enumerate(g, 1)])

        shrinkages: list[Shrinkage] = []
        pairs = [(f"enc {len(u) - 1}", u[-1], v[-1])]
        previous_h, previous_g = u[-1], v[-1]
        for r in range(1, self.R + 1):
            step = self.steps[(r - 1) % len(self.steps)]
            value = step.target_update(previous_h) + step.target_drive(lr_target)
            shrinkages.append(Shrinkage(f"h rnn {r}", "g", value, previous_g, step.target_mu(), h[r - 1]))
            previous_h = h[r - 1]
            if r - 1 < len(g):  # the guide state is updated after this step
                value = step.guide_update(previous_g) + step.guide_drive(hr_guide)
                shrinkages.append(Shrinkage(f"g rnn {r}", "h", value, previous_h, step.guide_mu(), g[r - 1]))
                previous_g = g[r - 1]
            pairs.append((f"rnn {r}", previous_h, previous_g))

        skip = self.skip(lr_target) if self.skip is not None else 0.0
        encoder_image = self.dictionary(u[-1]) + skip  # Dx u_T: what the encoders alone give
        reconstructions = [(f"enc {len(u) - 1}", encoder_image)]
        if self.R > 0:
            reconstructions += [(f"rnn {r}", image) for r, image in enumerate(outputs, 1)]
        final_code = h[-1] if h else u[-1]
        return NetworkTrace(
            network=type(self).__name__, output=reconstructions[-1][1], states=[target, guide],
            shrinkages=shrinkages, pairs=pairs, reconstructions=reconstructions,
            atoms=self.dictionary.weight.detach().transpose(0, 1).cpu(), atom_code=final_code,
            guide_filters=self.guide_encoder.analysis.weight.detach().cpu(), guide_code=(g or v)[-1],
            layers=threshold_layers(self, ("steps.",)))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # weights saved before thresholds were calibrated from data: already trained
        state_dict.setdefault(prefix + "calibrated", torch.tensor(True))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ forward
    def forward(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> torch.Tensor:
        """``(B,1,h,w), (B,C,sh,sw) -> (B,1,sh,sw)``: the HR target estimate."""
        return self._unroll(lr_target, hr_guide, all_steps=False)[-1]

    def step_count(self) -> int:
        """One prediction per RNN step (``R``; one with ``R = 0``)."""
        return max(self.R, 1)

    def forward_steps(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> list[torch.Tensor]:
        """The reconstruction ``Dx h_r`` of every RNN step r = 1..R (``Dx u_T`` when R = 0)."""
        return self._unroll(lr_target, hr_guide, all_steps=True)

    @torch.no_grad()
    def state_codes(self, lr_target: torch.Tensor, hr_guide: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """``{"target": [h_0..h_R], "guide": [g_0..g_R]}``: the code maps of both states after
        the encoders and after every RNN step (a guide state not updated is repeated)."""
        trace: dict[str, list[torch.Tensor]] = {}
        self._unroll(lr_target, hr_guide, all_steps=False, trace=trace)
        codes = {"target": [trace["u"][-1], *trace["h"]], "guide": [trace["v"][-1]]}
        for r in range(self.R):  # the guide state after step r (unchanged where not updated)
            codes["guide"].append(trace["g"][r] if r < len(trace["g"]) else codes["guide"][-1])
        return codes

    def _unroll(self, lr_target: torch.Tensor, hr_guide: torch.Tensor, all_steps: bool,
                trace: dict[str, list[torch.Tensor]] | None = None,
                calibrate: float | None = None) -> list[torch.Tensor]:
        """The unrolled algorithm. ``trace`` collects every state, ``u`` and ``v`` per encoder
        iteration, ``h`` and ``g`` per RNN step (``g`` only where it is updated);
        ``calibrate`` sets each threshold from the data at its first use."""
        self.check_inputs(lr_target, hr_guide)
        if trace is not None:
            trace.update(u=[], v=[], h=[], g=[])
        g = self.guide_encoder(hr_guide, trace=None if trace is None else trace["v"], calibrate=calibrate)  # (B, k, sH, sW)
        h = self.target_encoder(lr_target, trace=None if trace is None else trace["u"], calibrate=calibrate)
        skip = self.skip(lr_target) if self.skip is not None else None
        outputs = []
        drives: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        for r in range(self.R):
            index = r % len(self.steps)
            step = self.steps[index]
            first_use = index not in drives
            if first_use:  # Bh y and Bg z, once per distinct set of weights
                guide_drive = step.guide_drive(hr_guide) if step.guide_drive is not None else None
                drives[index] = (step.target_drive(lr_target), guide_drive)
            target_drive, guide_drive = drives[index]
            step_calibration = calibrate if first_use else None
            h = step.update_target(h, g, target_drive, step_calibration)
            if trace is not None:
                trace["h"].append(h)
            if r < self.R - 1 and step.guide_update is not None:
                g = step.update_guide(g, h, guide_drive, step_calibration)
                if trace is not None:
                    trace["g"].append(g)
            if all_steps or r == self.R - 1:
                outputs.append(self._decode(h, skip))
        if self.R == 0:
            outputs.append(self._decode(h, skip))
        return outputs

    def _decode(self, code: torch.Tensor, skip: torch.Tensor | None) -> torch.Tensor:
        image = self.dictionary(code)
        return image if skip is None else image + skip


@torch.no_grad()
def least_squares_dictionary(code: torch.Tensor, target: torch.Tensor, kernel_size: int,
                             ridge: float = 0.1, chunk: int = 8192) -> torch.Tensor:
    """The weight ``(1, k, K, K)`` of the 'same' convolution ``D`` minimising
    ``|D * code - target|^2 + ridge * mean(diag) |D|^2`` over a batch: ``code`` (B, k, H, W),
    ``target`` (B, 1, H, W). Normal equations accumulated in float64 over a few images at a
    time, so memory stays that of ``chunk`` pixels' columns whatever the batch."""
    k, half = code.shape[1], kernel_size // 2
    features = k * kernel_size ** 2
    gram = torch.zeros(features, features, dtype=torch.float64)
    rhs = torch.zeros(features, dtype=torch.float64)
    per_step = max(1, chunk // (code.shape[2] * code.shape[3]))
    for start in range(0, code.shape[0], per_step):
        columns = torch.nn.functional.unfold(code[start:start + per_step], kernel_size, padding=half)
        columns = columns.transpose(1, 2).reshape(-1, features)  # (pixels, k K K)
        values = target[start:start + per_step].reshape(-1)
        gram += (columns.T @ columns).double()
        rhs += (columns.T @ values).double()
    gram.diagonal().add_(ridge * float(gram.diagonal().mean().clamp_min(1e-12)))
    weight = torch.linalg.solve(gram, rhs)
    return weight.reshape(1, k, kernel_size, kernel_size).to(code.dtype)


def _check_arguments(*, scale: int, k: int, K: int, T: int, R: int, guide_channels: int, form: str,
                     init: str, threshold_init: float, free_kernel_size: int,
                     calibration_density: float | None) -> None:
    """One ValueError naming the argument, its value and what is allowed (a value of another
    type, ``K='abc'``, included)."""

    def integer(value, minimum: int, odd: bool = False) -> bool:
        return (isinstance(value, int) and not isinstance(value, bool) and value >= minimum
                and (not odd or value % 2 == 1))

    def number(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    checks = [
        (integer(scale, 1), "scale", scale, "an integer >= 1"),
        (integer(k, 1), "k", k, "an integer >= 1 (code channels)"),
        (integer(K, 1, odd=True), "K", K, "an odd integer >= 1 (kernel size)"),
        (integer(T, 0), "T", T, "an integer >= 0 (encoder iterations)"),
        (integer(R, 0), "R", R, "an integer >= 0 (RNN steps)"),
        (guide_channels in (1, 3), "guide_channels", guide_channels, "1 (luminance) or 3 (RGB)"),
        (form in ("free", "factorised"), "form", form, "'free' or 'factorised'"),
        (init in ("ista", "random"), "init", init, "'ista' or 'random'"),
        (number(threshold_init) and threshold_init > 0, "threshold_init", threshold_init, "a number > 0"),
        (integer(free_kernel_size, 1, odd=True), "free_kernel_size", free_kernel_size, "an odd integer >= 1"),
        (calibration_density is None or number(calibration_density) and 0 < calibration_density < 1,
         "calibration_density", calibration_density, "a number in (0, 1) or null"),
    ]
    for ok, name, value, allowed in checks:
        if not ok:
            raise ValueError(f"JointSR: {name}={value!r} is not allowed; {name} must be {allowed}")
