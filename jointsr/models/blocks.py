"""Building blocks of unrolled sparse-coding networks.

The pieces mirror an iterative algorithm: a *dictionary* (synthesis convolution),
its *analysis* counterpart, one *code update* (the gradient step on the data
fidelity, in the free ``S a`` or the factorised ``a - E(D a)`` form), a
*shrinkage* (soft threshold or LeSITA) and the *iteration* that repeats them.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import nn

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
        self.raw.copy_(inverse_positive(torch.as_tensor(value, dtype=self.raw.dtype).expand_as(self.raw)))


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

    def forward(self, signal: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        def shrink(value: torch.Tensor, threshold: Threshold) -> torch.Tensor:
            if side is None:
                return soft_threshold(value, threshold())
            return lesita(value, side, threshold())

        drive = self.analysis(signal)  # W * x, computed once
        code = shrink(drive, self.thresholds[0])
        for t in range(self.iterations):
            update = self.updates[t % len(self.updates)]
            code = shrink(update(code) + drive, self.thresholds[1 + t % (len(self.thresholds) - 1)])
        return code


# --------------------------------------------------------------------------- ISTA helpers
@torch.no_grad()
def normalise_atoms_(weight: torch.Tensor, atom_dim: int) -> torch.Tensor:
    """Scale each dictionary atom (slice along ``atom_dim``) to unit Frobenius norm, in place."""
    dims = [d for d in range(weight.dim()) if d != atom_dim]
    weight.div_(weight.square().sum(dim=dims, keepdim=True).sqrt().clamp_min(1e-12))
    return weight


@torch.no_grad()
def dictionary_norm_sq(weight: torch.Tensor, grid: int = 64) -> float:
    """Squared operator norm ``L`` of the stride-1 convolutional dictionary ``weight`` (c, k, K, K).

    The peak over frequencies of the largest eigenvalue of ``D(w) D(w)^H`` (c x c), sampled
    on a ``grid x grid`` DFT: the norm of the convolution on large images, in milliseconds
    (power iteration on float64 convolutions takes seconds).
    """
    spectrum = torch.fft.fft2(weight.to(torch.float64), s=(grid, grid))  # (c, k, g, g)
    gram = torch.einsum("ckxy,dkxy->xycd", spectrum, spectrum.conj())     # (g, g, c, c)
    return float(torch.linalg.eigvalsh(gram).max())


@torch.no_grad()
def operator_norm_sq(
    forward: Callable[[torch.Tensor], torch.Tensor],
    adjoint: Callable[[torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    iterations: int = 30,
    seed: int = 0,
) -> float:
    """Largest eigenvalue of ``A^T A`` (the Lipschitz constant ``L``) by power iteration."""
    generator = torch.Generator().manual_seed(seed)
    vector = torch.randn(shape, generator=generator)
    eigenvalue = 0.0
    for _ in range(iterations):
        vector = vector / vector.norm()
        image = adjoint(forward(vector))
        eigenvalue = float((vector * image).sum())
        vector = image
    return eigenvalue


@torch.no_grad()
def identity_minus_gram(
    forward: Callable[[torch.Tensor], torch.Tensor],
    adjoint: Callable[[torch.Tensor], torch.Tensor],
    channels: int,
    kernel_size: int,
    step: float,
    support: int,
) -> torch.Tensor:
    """Weight ``(k, k, K, K)`` of ``S = I - step * A^T A`` as a stride-1 convolution.

    The impulse response of ``A^T A`` is measured on a ``support x support`` grid and
    cropped to ``K x K`` around its centre (exact when ``A^T A`` is shift invariant and its
    support fits; otherwise the ISTA-consistent *initialisation* it is meant for).
    """
    centre = support // 2
    impulses = torch.zeros(channels, channels, support, support)
    impulses[torch.arange(channels), torch.arange(channels), centre, centre] = 1.0
    response = adjoint(forward(impulses))  # (k_in, k_out, P, P): response of input channel j
    half = kernel_size // 2
    crop = response[:, :, centre - half: centre + half + 1, centre - half: centre + half + 1]
    gram = crop.transpose(0, 1).flip(-1, -2)  # correlation weight (out, in, K, K)
    identity = torch.zeros_like(gram)
    identity[torch.arange(channels), torch.arange(channels), half, half] = 1.0
    return identity - step * gram


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

