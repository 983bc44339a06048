"""JointSR against a literal transcription of method.md's equations.

The reference below is written from method.md, not from the implementation: the shrinkage
operators from the formulas of section 2 (soft threshold ``sign(a) max(|a| - g, 0)``, LeSITA
piece by piece), the recurrences of section 3 with plain ``F.conv2d`` /
``F.conv_transpose2d`` on the network's weights:

    guide ACSC   : v_0 = phi(Wz z);  v_{t+1} = phi(Sz v_t + Wz z)            t < T
    target ACSC  : u_0 = phi(Wy y);  u_{t+1} = phi(Sy u_t + Wy y)            Wy: 1 -> k, 2s x 2s, stride s
    dual-state RNN (h_0 = u_T, g_0 = v_T), r < R:
        h_{r+1} = xi(Sh h_r + Bh y; g_r)
        g_{r+1} = xi(Sg g_r + Bg z; h_{r+1})                                 (r < R - 1: g_R is never used)
    output       : x_r = Dx h_r  (+ the learned skip of y)

where the factorised form replaces ``S a`` by ``a - E(D a)``. Tied weights: one set for every
iteration (step); untied: one per iteration (step). Every weight is drawn at random (not
the ISTA start, whose symmetries could hide a swapped index) and the states are checked to
be neither dead nor dense, so a wrong operator, index or order changes the numbers.
"""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from jointsr.models.blocks import ACSC, CodeUpdate, Threshold, conv
from jointsr.models.jointsr import JointSR


# ---------------------------------------------------------------------------- section 2
def phi(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Soft threshold: ``sign(a) * max(|a| - g, 0)``."""
    return torch.sign(a) * torch.clamp(a.abs() - g, min=0.0)


def xi(u: torch.Tensor, s: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """LeSITA ``xi_mu(u; s)``, method.md's five pieces for ``s >= 0`` and their mirror image
    ``xi_mu(u; s) = -xi_mu(-u; -s)`` for ``s < 0``."""
    def nonnegative_side(u, s):
        return torch.where(u < -2 * mu, u + 2 * mu,
               torch.where(u <= 0, torch.zeros_like(u),
               torch.where(u < s, u,
               torch.where(u <= s + 2 * mu, s, u - 2 * mu))))

    return torch.where(s >= 0, nonnegative_side(u, s), -nonnegative_side(-u, -s))


def test_the_reference_lesita_is_the_proximal_operator():
    """The transcription itself, against a brute-force argmin of 0.5 (v - u)^2 + mu |v| + mu |v - s|."""
    mu = torch.tensor(0.3, dtype=torch.float64)
    grid = torch.linspace(-4, 4, 80001, dtype=torch.float64)
    for s_value, u_value in itertools.product((-1.0, 0.0, 0.7), torch.linspace(-3, 3, 61).tolist()):
        objective = 0.5 * (grid - u_value) ** 2 + mu * grid.abs() + mu * (grid - s_value).abs()
        expected = grid[objective.argmin()]
        got = xi(torch.tensor(u_value, dtype=torch.float64), torch.tensor(s_value, dtype=torch.float64), mu)
        assert abs(float(got - expected)) < 2e-4, (s_value, u_value)


# ---------------------------------------------------------------------------- section 3
def same(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A stride-1 'same' convolution (odd kernel)."""
    return F.conv2d(x, weight, padding=weight.shape[-1] // 2)


def up(x: torch.Tensor, weight: torch.Tensor, s: int) -> torch.Tensor:
    """LR -> HR grid: transposed convolution, kernel 2s, stride s, padding s // 2 (even s)."""
    return F.conv_transpose2d(x, weight, stride=s, padding=s // 2)


def down(x: torch.Tensor, weight: torch.Tensor, s: int) -> torch.Tensor:
    """HR -> LR grid: convolution, kernel 2s, stride s, padding s // 2 (even s)."""
    return F.conv2d(x, weight, stride=s, padding=s // 2)


def gradient_step(update: CodeUpdate, a: torch.Tensor, grid: str, s: int) -> torch.Tensor:
    """``S a`` (free) or ``a - E(D a)`` (factorised; ``D`` onto the LR grid for the target)."""
    if update.form == "free":
        return same(a, update.S.weight)
    if grid == "target":
        return a - up(down(a, update.D.weight, s), update.E.weight, s)
    return a - same(same(a, update.D.weight), update.E.weight)


def reference(net: JointSR, y: torch.Tensor, z: torch.Tensor):
    """Every state and reconstruction of method.md section 3 with the network's weights."""
    s, T, R = net.scale, net.T, net.R

    def acsc(encoder: ACSC, drive: torch.Tensor, grid: str) -> list[torch.Tensor]:
        updates, thresholds = encoder.updates, encoder.thresholds
        states = [phi(drive, thresholds[0]())]
        for t in range(T):
            update = updates[t] if len(updates) > 1 else updates[0]           # untied | tied
            threshold = thresholds[1 + t] if len(thresholds) > 2 else thresholds[1]
            states.append(phi(gradient_step(update, states[-1], grid, s) + drive, threshold()))
        return states

    v = acsc(net.guide_encoder, same(z, net.guide_encoder.analysis.weight), "guide")     # Wz z
    u = acsc(net.target_encoder, up(y, net.target_encoder.analysis.weight, s), "target")  # Wy y
    h, g = [u[-1]], [v[-1]]
    for r in range(R):
        step = net.steps[r] if len(net.steps) > 1 else net.steps[0]
        h.append(xi(gradient_step(step.target_update, h[r], "target", s) + up(y, step.target_drive.weight, s),
                    g[r], step.target_mu()))
        if r < R - 1 and step.guide_update is not None:
            g.append(xi(gradient_step(step.guide_update, g[r], "guide", s) + same(z, step.guide_drive.weight),
                        h[r + 1], step.guide_mu()))
        else:
            g.append(g[r])  # fixed side information (guide update off)
    skip = up(y, net.skip.weight, s) if net.skip is not None else 0.0
    outputs = [same(code, net.dictionary.weight) + skip for code in h[1:]]
    return outputs, {"u": u, "v": v, "h": h[1:], "g": g[1:R]}


def randomised(net: JointSR, seed: int) -> JointSR:
    """Every weight random, thresholds random in [0.02, 0.1]: no symmetry of the ISTA start."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, Threshold):
                module.reset(0.02 + 0.08 * torch.rand(module.raw.shape[1], generator=generator))
        for name, parameter in net.named_parameters():
            if not name.endswith(".raw"):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) / parameter[0].numel() ** 0.5)
    return net


CASES = [dict(form=form, tied=tied, scale=scale, global_skip=skip, guide_update=True)
         for form, tied, (scale, skip) in itertools.product(("free", "factorised"), (True, False),
                                                            ((2, False), (4, True)))]
CASES.append(dict(form="free", tied=False, scale=2, global_skip=False, guide_update=False))


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_network_states_and_outputs_equal_the_equations(case):
    torch.manual_seed(0)
    net = randomised(JointSR(k=5, K=3, T=2, R=3, **case), seed=1).double()
    generator = torch.Generator().manual_seed(2)
    y = torch.rand(2, 1, 5, 6, generator=generator, dtype=torch.float64)
    z = torch.rand(2, 1, 5 * case["scale"], 6 * case["scale"], generator=generator, dtype=torch.float64)

    expected_outputs, expected = reference(net, y, z)
    with torch.no_grad():
        outputs, trace = net.trace(y, z)
        steps = net.forward_steps(y, z)
        final = net(y, z)

    assert [len(trace[key]) for key in "uvhg"] == [3, 3, 3, 2 if case["guide_update"] else 0]
    for key in "uvh":
        for index, (got, want) in enumerate(zip(trace[key], expected[key])):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=f"{key}{index}")
    if case["guide_update"]:
        for index, (got, want) in enumerate(zip(trace["g"], expected["g"])):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12, msg=f"g{index + 1}")
    for got in (outputs, steps):
        assert len(got) == 3
        for index, (out, want) in enumerate(zip(got, expected_outputs)):
            torch.testing.assert_close(out, want, rtol=1e-10, atol=1e-12, msg=f"x{index + 1}")
    torch.testing.assert_close(final, expected_outputs[-1], rtol=1e-10, atol=1e-12)
    # a meaningful comparison: every state is alive and sparse (not all zero, not dense)
    for key in "uvh":
        for state in expected[key]:
            density = float((state != 0).double().mean())
            assert 0.02 < density < 0.98, (key, density)


@pytest.mark.parametrize("form", ["free", "factorised"])
def test_acsc_with_side_information_is_the_lesita_recurrence(form):
    """The ACSC block as the LMCSC encoder: ``a_0 = xi(W x; s)``, ``a_{t+1} = xi(update(a_t) + W x; s)``."""
    torch.manual_seed(0)
    k, K, T = 4, 3, 3
    updates = torch.nn.ModuleList(
        [CodeUpdate("free", S=conv(k, k, K)) if form == "free" else CodeUpdate("factorised", D=conv(k, 1, K),
                                                                                  E=conv(1, k, K))
         for _ in range(T)])
    thresholds = torch.nn.ModuleList(Threshold(k, 0.05 + 0.02 * i) for i in range(1 + T))
    encoder = ACSC(analysis=conv(1, k, K), updates=updates, thresholds=thresholds, iterations=T).double()
    generator = torch.Generator().manual_seed(3)
    signal = torch.rand(2, 1, 9, 8, generator=generator, dtype=torch.float64)
    side = torch.randn(2, k, 9, 8, generator=generator, dtype=torch.float64) * 0.2

    drive = same(signal, encoder.analysis.weight)
    want = [xi(drive, side, thresholds[0]())]
    for t in range(T):
        want.append(xi(gradient_step(updates[t], want[-1], "guide", 1) + drive, side, thresholds[1 + t]()))
    trace: list[torch.Tensor] = []
    with torch.no_grad():
        code = encoder(signal, side=side, trace=trace)
    assert len(trace) == T + 1
    for got, expected in zip(trace, want):
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(code, want[-1], rtol=1e-10, atol=1e-12)
