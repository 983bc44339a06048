"""Shrinkage operators of the unrolled algorithms (method.md section 2).

Plain functions: each is the proximal operator of a sparsity penalty, written so
that it broadcasts per-channel thresholds of shape ``(1, k, 1, 1)`` (or scalars)
against feature maps ``(B, k, H, W)`` and is differentiable almost everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Threshold = torch.Tensor | float


def soft_threshold(x: torch.Tensor, theta: Threshold) -> torch.Tensor:
    """Soft thresholding, the proximal operator of ``theta * |v|``.

    ``phi_theta(x) = sign(x) * max(|x| - theta, 0) = x - clamp(x, -theta, theta)``

    ``theta`` must be non-negative (use :func:`positive` on a free parameter).
    """
    if isinstance(theta, torch.Tensor):
        return x - torch.clamp(x, -theta, theta)
    return x - x.clamp(-theta, theta)


def lesita(u: torch.Tensor, s: torch.Tensor, mu: Threshold) -> torch.Tensor:
    """LeSITA shrinkage ``xi_mu(u; s)``, the proximal operator of ``mu * (|v| + |v - s|)``.

    ``xi_mu(u; s) = argmin_v 0.5 (v - u)^2 + mu |v| + mu |v - s|``

    For ``s >= 0`` the five pieces are ``u + 2mu`` (u < -2mu), ``0`` on [-2mu, 0],
    ``u`` on (0, s), ``s`` on [s, s + 2mu] and ``u - 2mu`` above; mirrored for ``s < 0``;
    soft thresholding at ``2mu`` for ``s = 0``. Vectorised exactly for every ``s``:

    ``c = clamp(u, min(0, s), max(0, s));  xi = u - clamp(u - c, -2mu, 2mu)``

    ``c`` is the projection of ``u`` on the segment between 0 and ``s`` (where the
    penalty is flat); outside it the point moves towards the segment by at most ``2mu``.
    """
    low = torch.clamp(s, max=0.0)
    high = torch.clamp(s, min=0.0)
    residual = u - torch.maximum(torch.minimum(u, high), low)
    if isinstance(mu, torch.Tensor):
        two_mu = 2.0 * mu
        return u - torch.clamp(residual, -two_mu, two_mu)
    return u - residual.clamp(-2.0 * mu, 2.0 * mu)


def positive(raw: torch.Tensor) -> torch.Tensor:
    """Map a free parameter to a non-negative threshold: ``softplus(raw) >= 0``."""
    return F.softplus(raw)


def inverse_positive(value: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`positive` for ``value > 0``: ``log(exp(value) - 1)``."""
    return value + torch.log(-torch.expm1(-value))
