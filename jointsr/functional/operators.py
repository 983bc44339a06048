"""Operator norms: the Lipschitz constant ``L = ||A||^2`` of an ISTA step, and the norm of a
convolution. One module for every network's initialisation (dense dictionaries of patch
networks, strided convolutional dictionaries of the unrolled ones)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def operator_norm_sq(weight: torch.Tensor, stride: int = 1, grid: int = 64) -> float:
    """``||A||^2 = ||A A^T||`` of a synthesis operator ``A: code -> signal``.

    - a matrix ``(d, n)`` (a patch dictionary of ``n`` atoms): its largest singular value,
      squared;
    - a convolution weight ``(c, k, P, P)`` (``k`` code channels to ``c`` image channels,
      with ``stride`` s onto a coarser grid, the layout of a strided ``conv2d``): ``A A^T``
      maps the image grid to itself shift-invariantly (for a stride-s ``A`` too), with the
      kernel ``sum_j w[., j] * w[., j]`` sampled every ``s`` pixels; ``L`` is the peak over a
      ``grid x grid`` DFT of its largest eigenvalue.
    """
    if weight.dim() == 2:
        return float(torch.linalg.svdvals(weight)[0] ** 2)
    size, s = weight.shape[-1], stride
    images = weight.to(torch.float64)  # (c, k, P, P)
    auto = F.conv2d(images, images, padding=size - 1)  # (c, c, 2P-1, 2P-1): A A^T on the fine grid
    centre = size - 1
    offsets = torch.arange(centre % s, 2 * size - 1, s)  # fine-grid offsets that are multiples of s
    kernel = auto[:, :, offsets][:, :, :, offsets]
    middle = int((centre - offsets[0]) // s)  # index of offset 0: remove its phase
    spectrum = torch.fft.fft2(kernel, s=(grid, grid)).permute(2, 3, 0, 1)
    phase = torch.exp(2j * torch.pi * torch.fft.fftfreq(grid, dtype=torch.float64) * middle)
    spectrum = spectrum * (phase[:, None, None, None] * phase[None, :, None, None])
    return float(torch.linalg.eigvalsh(spectrum).max())


@torch.no_grad()
def conv_spectral_norm(weight: torch.Tensor, grid: int = 32) -> float:
    """Operator norm of the stride-1 convolution ``weight`` (out, in, K, K) on large images:
    the peak over a ``grid x grid`` DFT of the largest singular value of its frequency
    response (an ``out x in`` matrix per frequency). For a symmetric kernel such as
    ``I - A^T A / L`` (``w[i, j](d) = w[j, i](-d)``) the centred response is Hermitian, and
    half the frequencies (a real kernel's spectrum is conjugate-symmetric) and eigenvalues
    suffice: milliseconds to a second for k = 64, where SVDs on the full grid took seconds.
    The sampled peak is below the true one by < 1e-3 relative for K <= 13 at ``grid = 32``."""
    weight = weight.detach().to(torch.float64)
    symmetric = weight.shape[0] == weight.shape[1] and torch.allclose(
        weight, weight.transpose(0, 1).flip(-1, -2), atol=1e-12)
    if not symmetric:
        spectrum = torch.fft.fft2(weight, s=(grid, grid)).permute(2, 3, 0, 1)
        return float(torch.linalg.matrix_norm(spectrum, ord=2).max())
    centre = weight.shape[-1] // 2
    spectrum = torch.fft.rfft2(weight, s=(grid, grid)).permute(2, 3, 0, 1)  # (grid, grid//2+1, k, k)
    rows = torch.exp(2j * torch.pi * torch.fft.fftfreq(grid, dtype=torch.float64) * centre)
    cols = torch.exp(2j * torch.pi * torch.fft.rfftfreq(grid, dtype=torch.float64) * centre)
    spectrum = spectrum * (rows[:, None, None, None] * cols[None, :, None, None])
    return float(torch.linalg.eigvalsh(spectrum).abs().max())
