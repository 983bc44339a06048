"""Building blocks of unrolled sparse-coding networks.

The pieces mirror an iterative algorithm: a *dictionary* (synthesis convolution),
its *analysis* counterpart, one *code update* (the gradient step on the data
fidelity, in the free ``S a`` or the factorised ``a - E(D a)`` form), a
*shrinkage* (soft threshold or LeSITA) and the *iteration* that repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from jointsr.functional.operators import conv_spectral_norm, operator_norm_sq
from jointsr.models.ops import inverse_positive, lesita, positive, soft_threshold

UpdateForm = Literal["free", "factorised"]


# --------------------------------------------------------------------------- convolutions
def conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Conv2d:
    """Bias-free 'same' convolution on one grid (odd kernel sizes keep the size exactly)."""
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd to keep the image size, got {kernel_size}")
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)


def conv_down(in_channels: int, out_channels: int, scale: int) -> nn.Conv2d:
    """Strided convolution from the HR grid to the LR grid (kernel 2s, stride s).

    Maps ``(B, C, s*h, s*w)`` to ``(B, C', h, w)``; it is the exact adjoint of
    :func:`conv_up` with the same weight.
    """
    return nn.Conv2d(
        in_channels, out_channels, 2 * scale, stride=scale, padding=(scale + 1) // 2, bias=False
    )


def conv_up(in_channels: int, out_channels: int, scale: int, bias: bool = False) -> nn.ConvTranspose2d:
    """Transposed convolution from the LR grid to the HR grid (kernel 2s, stride s).

    Maps ``(B, C, h, w)`` to ``(B, C', s*h, s*w)``: this is how the LR target enters
    the HR code grid without any interpolation.
    """
    return nn.ConvTranspose2d(
        in_channels,
        out_channels,
        2 * scale,
        stride=scale,
        padding=(scale + 1) // 2,
        output_padding=scale % 2,
        bias=bias,
    )


def bilinear_kernel(scale: int) -> torch.Tensor:
    """The ``2s x 2s`` kernel that makes :func:`conv_up` a bilinear interpolation."""
    size = 2 * scale
    centre = (size - 1) / 2.0
    taps = 1.0 - torch.abs(torch.arange(size, dtype=torch.float64) - centre) / scale
    return torch.outer(taps, taps).clamp(min=0.0)


# --------------------------------------------------------------------------- shrinkage
class Threshold(nn.Module):
    """Per-channel shrinkage threshold, non-negative by construction (softplus)."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        if init <= 0:
            raise ValueError(f"threshold init must be > 0, got {init}")
        self.raw = nn.Parameter(inverse_positive(torch.full((1, channels, 1, 1), float(init))))

    def forward(self) -> torch.Tensor:  # (1, k, 1, 1)
        return positive(self.raw)

    @torch.no_grad()
    def reset(self, value: float | torch.Tensor) -> None:
        value = torch.as_tensor(value, dtype=self.raw.dtype)
        if value.dim() == 1:  # one value per channel
            value = value.reshape(self.raw.shape)
        self.raw.copy_(inverse_positive(value.clamp_min(1e-6).expand_as(self.raw)))

    @torch.no_grad()
    def calibrate_(self, value: torch.Tensor, density: float, side: torch.Tensor | None = None) -> None:
        """Set each channel's threshold so that shrinking ``value`` (B, k, H, W) keeps a
        fraction ``density`` of that channel's entries non-zero.

        Soft thresholding at ``t`` zeroes ``|u| <= t``: ``t`` is the ``1 - density``
        quantile of ``|u|``. LeSITA ``xi_mu(u; s)`` (threshold ``2 mu``) zeroes only the
        entries with ``u s <= 0`` and ``|u| <= 2 mu``; those with ``u s > 0`` survive
        whatever ``mu``, so ``2 mu`` is the quantile of ``|u|`` over the others that leaves
        the remaining share of the density (``mu`` as large as the data where that share is
        already used up).
        """
        channels = value.shape[1]
        magnitude = value.abs().transpose(0, 1).reshape(channels, -1)
        if side is None:
            self.reset(_row_quantile(magnitude, 1.0 - density))
            return
        kept = (value * side > 0).transpose(0, 1).reshape(channels, -1)
        share = kept.float().mean(dim=1)
        needed = ((density - share) / (1.0 - share).clamp_min(1e-6)).clamp(0.0, 1.0)
        candidates = magnitude.masked_fill(kept, float("nan"))
        self.reset(0.5 * _row_quantile(candidates, 1.0 - needed))


def _row_quantile(rows: torch.Tensor, q: float | torch.Tensor) -> torch.Tensor:
    """Per-row quantile ``q`` (a float or one per row) of a (rows, n) tensor, NaNs ignored."""
    q = torch.as_tensor(q, dtype=rows.dtype).expand(rows.shape[0])
    values = torch.sort(rows, dim=1).values  # NaNs sort last
    count = (~torch.isnan(rows)).sum(dim=1)
    index = (q * (count - 1).clamp_min(0)).round().long().clamp_min(0)
    picked = values.gather(1, index[:, None])[:, 0]
    return torch.nan_to_num(picked, nan=0.0)


# --------------------------------------------------------------------------- code updates
class CodeUpdate(nn.Module):
    """The linear part of one ISTA step on a code ``a``, before the drive term is added.

    - ``free``:       ``S * a``            with ``S: k -> k``
    - ``factorised``: ``a - E * (D * a)``  with ``D: k -> c`` (dictionary, possibly strided
      onto the LR grid) and ``E: c -> k`` (its learned adjoint).

    With the drive term ``W * x`` the step is ``a <- shrink(update(a) + W * x)``; the
    factorised form is ``a - E(D a - x)`` when ``W = E``, the ACSC encoder of
    Sreter & Giryes.
    """

    def __init__(self, form: UpdateForm, *, S: nn.Module | None = None,
                 D: nn.Module | None = None, E: nn.Module | None = None) -> None:
        super().__init__()
        if form == "free":
            if S is None:
                raise ValueError("the free form needs S")
            self.S = S
        elif form == "factorised":
            if D is None or E is None:
                raise ValueError("the factorised form needs D and E")
            self.D, self.E = D, E
        else:
            raise ValueError(f"update form must be 'free' or 'factorised', got {form!r}")
        self.form = form

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        if self.form == "free":
            return self.S(code)
        return code - self.E(self.D(code))


# --------------------------------------------------------------------------- encoder
class ACSC(nn.Module):
    """Approximate convolutional sparse coding, ``T`` unrolled ISTA iterations.

    ``a_0 = phi(W * x);  a_{t+1} = phi(update_t(a_t) + W * x)``

    Given side information ``s`` (a code of another modality), the shrinkage ``phi`` is
    LeSITA ``xi(.; s)`` instead of the soft threshold (the LMCSC encoder).

    ``updates`` holds one :class:`CodeUpdate` (weights tied across iterations, as in
    the paper) or ``T`` of them (untied); likewise ``thresholds`` holds the threshold of
    ``a_0`` followed by one (tied) or ``T`` (untied) iteration thresholds.
    """

    def __init__(self, analysis: nn.Module, updates: nn.ModuleList, thresholds: nn.ModuleList,
                 iterations: int) -> None:
        super().__init__()
        if iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {iterations}")
        self.analysis, self.updates, self.thresholds = analysis, updates, thresholds
        self.iterations = iterations

    def forward(self, signal: torch.Tensor, side: torch.Tensor | None = None,
                trace: list[torch.Tensor] | None = None, calibrate: float | None = None) -> torch.Tensor:
        """The code ``a_T``. ``trace`` collects ``a_0 .. a_T``; ``calibrate`` (a density)
        sets each threshold from the data at its first use (:meth:`Threshold.calibrate_`)."""
        calibrated: set[int] = set()

        def shrink(value: torch.Tensor, index: int) -> torch.Tensor:
            threshold = self.thresholds[index]
            if calibrate is not None and index not in calibrated:
                threshold.calibrate_(value, calibrate, side)
                calibrated.add(index)
            if side is None:
                return soft_threshold(value, threshold())
            return lesita(value, side, threshold())

        drive = self.analysis(signal)  # W * x, computed once
        code = shrink(drive, 0)
        if trace is not None:
            trace.append(code)
        for t in range(self.iterations):
            update = self.updates[t % len(self.updates)]
            code = shrink(update(code) + drive, 1 + t % (len(self.thresholds) - 1))
            if trace is not None:
                trace.append(code)
        return code


# --------------------------------------------------------------------------- ISTA helpers
@torch.no_grad()
def normalise_atoms_(weight: torch.Tensor, atom_dim: int) -> torch.Tensor:
    """Scale each dictionary atom (slice along ``atom_dim``) to unit Frobenius norm, in place."""
    dims = [d for d in range(weight.dim()) if d != atom_dim]
    weight.div_(weight.square().sum(dim=dims, keepdim=True).sqrt().clamp_min(1e-12))
    return weight


@torch.no_grad()
def degraded_dictionary(atoms: torch.Tensor, scale: int) -> torch.Tensor:
    """The weight ``(1, k, 2s, 2s)`` of ``H Dx`` in the layout of :func:`conv_down`: the HR
    atoms ``(1, k, K, K)`` blurred by an ``s x s`` box (the average over each LR pixel's
    footprint) and sampled with stride ``s``, centred in (or cropped to) the ``2s`` kernel."""
    k, size = atoms.shape[1], 2 * scale
    box = torch.ones(1, 1, scale, scale, dtype=atoms.dtype) / scale ** 2
    blurred = F.conv2d(atoms.reshape(k, 1, *atoms.shape[-2:]), box, padding=scale - 1)
    support = blurred.shape[-1]
    n, lo, src = min(size, support), max(0, (size - support) // 2), max(0, (support - size) // 2)
    weight = torch.zeros(k, 1, size, size, dtype=atoms.dtype)
    weight[..., lo:lo + n, lo:lo + n] = blurred[..., src:src + n, src:src + n]
    return weight.reshape(1, k, size, size)


class ConvOperator:
    """A convolutional synthesis operator ``A: code (B, k, H, W) -> image (B, c, H/s, W/s)``
    and its adjoint, from one weight ``(c, k, P, P)``: a dictionary ``Dz`` (stride 1) or a
    degraded dictionary ``H Dx`` (the HR atoms blurred and sampled with stride ``s``, the
    layout of :func:`conv_down`). Used to build ISTA-consistent initialisations."""

    def __init__(self, weight: torch.Tensor, stride: int = 1) -> None:
        self.weight, self.stride = weight, stride
        size = weight.shape[-1]
        if stride == 1:
            self.padding, self.output_padding = size // 2, 0
        else:  # the geometry of conv_down / conv_up
            self.padding, self.output_padding = (stride + 1) // 2, stride % 2

    @classmethod
    def dictionary(cls, atoms: torch.Tensor, channels: int = 1) -> "ConvOperator":
        """``Dz``: the atoms ``(1, k, K, K)`` on each of ``channels`` image channels, scaled by
        ``1 / sqrt(channels)`` so that every atom keeps unit norm."""
        return cls(atoms.expand(channels, -1, -1, -1) / channels ** 0.5)

    @classmethod
    def degradation(cls, atoms: torch.Tensor, scale: int) -> "ConvOperator":
        """``H Dx``: the HR atoms ``(1, k, K, K)`` observed through the degradation, blurred by
        an ``s x s`` box and sampled with stride ``s`` (:func:`degraded_dictionary`)."""
        return cls(degraded_dictionary(atoms, scale), stride=scale)

    @property
    def channels(self) -> int:
        return self.weight.shape[1]

    def adjoint_weight(self) -> torch.Tensor:
        """The weight of ``A^T`` as the encoders apply it: a stride-1 :func:`conv` (the weight
        transposed and flipped) or, for a strided ``A``, a :func:`conv_up` (the same weight)."""
        return self.weight.transpose(0, 1).flip(-1, -2) if self.stride == 1 else self.weight

    def __call__(self, code: torch.Tensor) -> torch.Tensor:
        return F.conv2d(code, self.weight, stride=self.stride, padding=self.padding)

    def adjoint(self, image: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(image, self.weight, stride=self.stride, padding=self.padding,
                                  output_padding=self.output_padding)

    def correlation(self) -> torch.Tensor:
        """``C[i, j](d) = sum_c sum_p w[c, i](p) w[c, j](p + d)``, (k, k, 2P - 1, 2P - 1): the
        stride-1 Gram ``A_1^T A_1`` of the same weight as a conv2d (correlation) weight,
        ``(A_1^T A_1 a)_i(q) = sum_j sum_d C[i, j](d) a_j(q + d)``."""
        size = self.weight.shape[-1]
        atoms = self.weight.transpose(0, 1)  # (k, c, P, P): each atom as a c-channel image
        return F.conv2d(atoms, atoms, padding=size - 1).transpose(0, 1)

    def norm_sq(self, grid: int = 64) -> float:
        """``L = ||A||^2`` (:func:`~jointsr.functional.operators.operator_norm_sq`)."""
        return operator_norm_sq(self.weight, self.stride, grid)

    @torch.no_grad()
    def gram_kernel(self, support: int) -> torch.Tensor:
        """Weight ``(k, k, support, support)`` of the stride-1 convolution closest to
        ``A^T A``: its impulse response averaged over the ``s x s`` sub-pixel phases (for a
        stride-1 ``A``, ``A^T A`` itself), cropped to ``support`` (odd) around the centre.

        ``A^T A`` of a strided ``A = Dec_s A_1`` is periodic with period ``s``, not
        shift-invariant. Averaged over the phases the sampling mask ``Dec^T Dec`` becomes
        ``I / s^2``, so the average is ``A_1^T A_1 / s^2``: the same weight's stride-1 Gram.
        """
        if support % 2 != 1:
            raise ValueError(f"support must be odd, got {support}")
        full = self.correlation() / self.stride ** 2  # (k, k, 2P-1, 2P-1)
        centre, half = full.shape[-1] // 2, support // 2
        if half > centre:
            full = F.pad(full, [half - centre] * 4)
            centre = half
        window = full[..., centre - half: centre + half + 1, centre - half: centre + half + 1]
        return window.contiguous()


@torch.no_grad()
def ista_update_weight(operator: ConvOperator, lipschitz: float, kernel_size: int) -> torch.Tensor:
    """The free form's ``S = I - A^T A / L`` as a stride-1 ``kernel_size`` convolution
    (k, k, K, K): the phase-averaged Gram (:meth:`ConvOperator.gram_kernel`) cropped to the
    kernel, then scaled down if needed so that ``||S|| <= 1`` (the step never expands)."""
    k, half = operator.channels, kernel_size // 2
    weight = -operator.gram_kernel(kernel_size) / lipschitz
    weight[torch.arange(k), torch.arange(k), half, half] += 1.0
    norm = conv_spectral_norm(weight)
    if norm <= 1.0 + 1e-6:  # exact when the kernel holds the whole Gram: eigenvalues in [0, 1]
        return weight
    # a cropped Gram: the sampled norm can be below the true one by < 1e-3, keep that margin
    return weight / (1.001 * norm)


@dataclass
class IstaStart:
    """One ISTA step on the operator ``A`` of one modality, in the layouts of the modules it
    initialises: the drive ``W = A^T / L`` (``L = ||A||^2``), the update (free form
    ``S = I - A^T A / L`` (:func:`ista_update_weight`); factorised ``D = A``, ``E = A^T / L``,
    exactly ISTA) and the threshold ``lambda / L``."""

    operator: ConvOperator
    lipschitz: float
    analysis: torch.Tensor
    free: torch.Tensor | None

    @classmethod
    def of(cls, operator: ConvOperator, free_kernel_size: int | None = None) -> "IstaStart":
        """``free_kernel_size``: the kernel of the free form's ``S`` (None: factorised only)."""
        lipschitz = operator.norm_sq()
        free = None if free_kernel_size is None else ista_update_weight(operator, lipschitz, free_kernel_size)
        return cls(operator, lipschitz, operator.adjoint_weight() / lipschitz, free)

    @torch.no_grad()
    def set_update(self, update: CodeUpdate) -> None:
        if update.form == "free":
            update.S.weight.copy_(self.free)
            return
        decoder = update.D[0] if isinstance(update.D, nn.Sequential) else update.D  # LMCSC's D-ReLU
        decoder.weight.copy_(self.operator.weight)
        update.E.weight.copy_(self.analysis)

    @torch.no_grad()
    def set_encoder(self, encoder: ACSC, lam: float) -> None:
        """Every iteration of ``encoder`` one ISTA step with ``lambda = lam``."""
        encoder.analysis.weight.copy_(self.analysis)
        for update in encoder.updates:
            self.set_update(update)
        for threshold in encoder.thresholds:
            threshold.reset(lam / self.lipschitz)

    @torch.no_grad()
    def set_step(self, update: CodeUpdate, drive: nn.Module, threshold: Threshold, lam: float) -> None:
        """One recurrent step ``a <- shrink(update(a) + drive(x))`` one ISTA step."""
        self.set_update(update)
        drive.weight.copy_(self.analysis)
        threshold.reset(lam / self.lipschitz)


# --------------------------------------------------------------------------- input checks
def check_guided_inputs(lr_target: torch.Tensor, hr_guide: torch.Tensor, scale: int,
                        guide_channels: int) -> None:
    """Raise a ValueError unless ``lr_target`` is (B, 1, h, w) and ``hr_guide`` (B, C, s*h, s*w).

    The common contract of every network's ``forward(lr_target, hr_guide)``; ``C`` is
    ``guide_channels`` (1 for luminance, 3 for RGB) and ``s`` the scale.
    """
    if lr_target.dim() != 4 or lr_target.shape[1] != 1:
        raise ValueError(f"lr_target must be (B, 1, h, w), got {tuple(lr_target.shape)}")
    expected = (lr_target.shape[0], guide_channels,
                lr_target.shape[2] * scale, lr_target.shape[3] * scale)
    if tuple(hr_guide.shape) != expected:
        raise ValueError(
            f"hr_guide must be {expected} for lr_target {tuple(lr_target.shape)} at scale "
            f"x{scale} with {guide_channels} guide channel(s), got "
            f"{tuple(hr_guide.shape)}; crop the HR images to a multiple of the scale (modcrop)"
        )

