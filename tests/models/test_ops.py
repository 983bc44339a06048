"""The shrinkage operators against brute-force proximal minimisation and their formulas."""

import numpy as np
import pytest
import torch

from jointsr.models.ops import inverse_positive, lesita, positive, soft_threshold

GRID = np.linspace(-6.0, 6.0, 48001)  # candidate v, step 2.5e-4


def brute_prox(u: float, penalty) -> float:
    """argmin_v 0.5 (v - u)^2 + penalty(v) over a fine grid."""
    objective = 0.5 * (GRID - u) ** 2 + penalty(GRID)
    return float(GRID[np.argmin(objective)])


@pytest.mark.parametrize("theta", [0.0, 0.3, 1.1])
def test_soft_threshold_is_the_l1_prox(theta):
    u = torch.linspace(-3, 3, 61, dtype=torch.float64)
    out = soft_threshold(u, theta)
    expected = [brute_prox(float(v), lambda g: theta * np.abs(g)) for v in u]
    np.testing.assert_allclose(out.numpy(), expected, atol=3e-4)


@pytest.mark.parametrize("s", [0.0, 0.8, -0.8, 2.5, -2.5])
@pytest.mark.parametrize("mu", [0.1, 0.5])
def test_lesita_is_the_coupled_prox(s, mu):
    u = torch.linspace(-4, 4, 81, dtype=torch.float64)
    out = lesita(u, torch.full_like(u, s), mu)
    expected = [brute_prox(float(v), lambda g: mu * (np.abs(g) + np.abs(g - s))) for v in u]
    np.testing.assert_allclose(out.numpy(), expected, atol=3e-4)


def piecewise(u: float, s: float, mu: float) -> float:
    """The five pieces of the slides, written out literally."""
    if s >= 0:
        if u < -2 * mu:
            return u + 2 * mu
        if u <= 0:
            return 0.0
        if u < s:
            return u
        if u <= s + 2 * mu:
            return s
        return u - 2 * mu
    if u < s - 2 * mu:
        return u + 2 * mu
    if u <= s:
        return s
    if u < 0:
        return u
    if u <= 2 * mu:
        return 0.0
    return u - 2 * mu


def test_lesita_matches_the_piecewise_formula_and_soft_threshold_at_zero():
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(4000, generator=generator, dtype=torch.float64) * 3
    s = torch.randn(4000, generator=generator, dtype=torch.float64) * 2
    s[:1000] = 0.0  # side information exactly zero: must be soft thresholding at 2 mu
    mu = 0.35
    out = lesita(u, s, mu)
    expected = torch.tensor([piecewise(float(a), float(b), mu) for a, b in zip(u, s)], dtype=torch.float64)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(out[:1000], soft_threshold(u[:1000], 2 * mu))
    assert (out[:1000] != 0).any(), "LeSITA must not zero the output where the side information is 0"


def test_per_channel_thresholds_broadcast_and_match_scalar_calls():
    generator = torch.Generator().manual_seed(1)
    u = torch.randn(2, 3, 5, 5, generator=generator)
    s = torch.randn(2, 3, 5, 5, generator=generator)
    mu = torch.tensor([0.1, 0.5, 1.0]).reshape(1, 3, 1, 1)
    out = lesita(u, s, mu)
    soft = soft_threshold(u, mu)
    for c, value in enumerate([0.1, 0.5, 1.0]):
        torch.testing.assert_close(out[:, c], lesita(u[:, c], s[:, c], value))
        torch.testing.assert_close(soft[:, c], soft_threshold(u[:, c], value))


def test_gradients_are_finite_and_reach_thresholds():
    u = torch.randn(2, 4, 6, 6, requires_grad=True)
    s = torch.randn(2, 4, 6, 6, requires_grad=True)
    raw = torch.zeros(1, 4, 1, 1, requires_grad=True)
    (lesita(u, s, positive(raw)).square().sum() + soft_threshold(u, positive(raw)).sum()).backward()
    for tensor in (u, s, raw):
        assert torch.isfinite(tensor.grad).all()
    assert raw.grad.abs().sum() > 0


def test_positive_is_non_negative_and_invertible():
    raw = torch.linspace(-30, 30, 101)
    assert (positive(raw) >= 0).all()
    values = torch.tensor([1e-4, 0.01, 0.1, 1.0, 5.0])
    torch.testing.assert_close(positive(inverse_positive(values)), values)
