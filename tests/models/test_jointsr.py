"""JointSR: shapes at every scale, clear errors, and what each ablation switch changes."""

import pytest
import torch

from jointsr.models.blocks import conv_down, conv_up
from jointsr.models.jointsr import JointSR

SMALL = dict(k=8, K=3)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def inputs(scale: int, h: int = 7, w: int = 5, guide_channels: int = 1, batch: int = 2):
    generator = torch.Generator().manual_seed(scale)
    return (torch.rand(batch, 1, h, w, generator=generator),
            torch.rand(batch, guide_channels, h * scale, w * scale, generator=generator))


@pytest.mark.parametrize("scale", [2, 4, 8, 16])
@pytest.mark.parametrize("form", ["free", "factorised"])
def test_output_shape_on_odd_lr_sizes(scale, form):
    net = JointSR(scale=scale, form=form, **SMALL)
    lr, guide = inputs(scale)
    out = net(lr, guide)
    assert out.shape == (2, 1, 7 * scale, 5 * scale)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_up_and_down_convolutions_are_adjoint(scale):
    up, down = conv_up(1, 4, scale), conv_down(4, 1, scale)
    down.weight.data.copy_(up.weight.data)
    y, a = torch.randn(1, 1, 5, 6, dtype=torch.float64), torch.randn(1, 4, 5 * scale, 6 * scale, dtype=torch.float64)
    up, down = up.double(), down.double()
    assert up(y).shape == a.shape and down(a).shape == y.shape
    torch.testing.assert_close((up(y) * a).sum(), (y * down(a)).sum())


def test_wrong_guide_raises_a_clear_error():
    net = JointSR(scale=4, **SMALL)
    lr, guide = inputs(4)
    with pytest.raises(ValueError, match=r"hr_guide must be \(2, 1, 28, 20\).*got \(2, 1, 27, 20\)"):
        net(lr, guide[..., :27, :])
    with pytest.raises(ValueError, match="guide channel"):
        net(lr, torch.rand(2, 3, 28, 20))
    with pytest.raises(ValueError, match=r"lr_target must be \(B, 1, h, w\)"):
        net(torch.rand(2, 2, 7, 5), guide)


def test_rgb_guide():
    net = JointSR(scale=2, guide_channels=3, **SMALL)
    lr, guide = inputs(2, guide_channels=3)
    assert net(lr, guide).shape == (2, 1, 14, 10)


def test_default_parameter_count_is_pinned():
    # free form, k=64, K=7, T=2, R=3, tied, learned skip:
    # guide ACSC: Wz 64*49 + Sz 64*64*49 + 2 thresholds*64            = 203,968
    # target ACSC: Wy 64*8*8 + Sy 64*64*49 + 2*64                     = 204,928
    # RNN step: Sh + Bh(64*64) + mu_h + Sg + Bg(64*49) + mu_g          = 408,768
    # dictionary 64*49 = 3,136; skip 8*8 = 64
    net = JointSR(scale=4, global_skip=True)
    assert n_params(net) == 820_864
    assert n_params(JointSR(scale=4, global_skip=False)) == 820_800
    assert n_params(JointSR(scale=4, form="factorised")) == 46_912


def test_untied_weights_multiply_the_step_parameters():
    R, T = 3, 2
    tied, untied = JointSR(scale=4, T=T, R=R, **SMALL), JointSR(scale=4, T=T, R=R, tied=False, **SMALL)
    step = tied.steps[0]
    target_part = sum(n_params(m) for m in (step.target_update, step.target_drive, step.target_mu))
    guide_part = n_params(step) - target_part
    # R target updates, but only R - 1 guide updates: the last one never reaches the output
    assert n_params(untied.steps) == R * target_part + (R - 1) * guide_part
    encoder_step = n_params(tied.target_encoder.updates[0]) + n_params(tied.target_encoder.thresholds[1])
    assert n_params(untied.target_encoder) - n_params(tied.target_encoder) == (T - 1) * encoder_step


def test_last_guide_update_is_not_built_or_computed():
    net = JointSR(scale=2, R=1, **SMALL)
    assert net.steps[0].guide_update is None
    lr, guide = inputs(2)
    codes = net.state_codes(lr, guide)
    assert codes["guide"][0] is codes["guide"][1]  # the guide state stays v_T


def test_guide_update_off_keeps_the_side_information_fixed():
    net = JointSR(scale=2, R=3, guide_update=False, **SMALL)
    assert all(step.guide_update is None for step in net.steps)
    lr, guide = inputs(2)
    codes = net.state_codes(lr, guide)
    assert all(g is codes["guide"][0] for g in codes["guide"])
    on = JointSR(scale=2, R=3, guide_update=True, **SMALL)
    codes_on = on.state_codes(lr, guide)
    assert not torch.equal(codes_on["guide"][0], codes_on["guide"][-1])


def test_t0_and_r0_limits():
    lr, guide = inputs(2)
    net = JointSR(scale=2, T=0, R=0, global_skip=False, **SMALL)
    assert len(net.steps) == 0
    assert net.target_encoder.iterations == 0
    from jointsr.models.ops import soft_threshold

    code = soft_threshold(net.target_encoder.analysis(lr), net.target_encoder.thresholds[0]())
    torch.testing.assert_close(net(lr, guide), net.dictionary(code))
    # with R = 0 the guide cannot influence the output
    torch.testing.assert_close(net(lr, guide), net(lr, torch.zeros_like(guide)))


def test_guide_influences_the_output_when_coupled():
    net = JointSR(scale=2, R=2, **SMALL)
    lr, guide = inputs(2)
    assert not torch.allclose(net(lr, guide), net(lr, torch.zeros_like(guide)))


def test_forward_steps_returns_every_rnn_step_the_output_last():
    net = JointSR(scale=2, R=3, **SMALL)
    lr, guide = inputs(2)
    outs = net.forward_steps(lr, guide)
    assert isinstance(outs, list) and len(outs) == 3
    torch.testing.assert_close(outs[-1], net(lr, guide))
    assert len(JointSR(scale=2, R=0, **SMALL).forward_steps(lr, guide)) == 1  # Dx u_T alone


def test_global_skip_starts_as_bilinear_interpolation():
    net = JointSR(scale=4, global_skip=True, **SMALL)
    lr = torch.full((1, 1, 6, 6), 0.3)
    guide = torch.rand(1, 1, 24, 24)
    out = net(lr, guide)
    # a constant image is reproduced away from the zero-padded border
    torch.testing.assert_close(out[..., 4:-4, 4:-4], torch.full_like(out[..., 4:-4, 4:-4], 0.3))


@pytest.mark.parametrize("form", ["free", "factorised"])
def test_diagnostics_report_every_state_and_thresholds_stay_nonnegative(form):
    """One density per state and step (u0..uT, v0..vT, h1..hR, g1..g(R-1)); the band the
    calibration guarantees on real images is tested in test_ista_init.py."""
    net = JointSR(scale=4, form=form, k=16, K=5, T=2, R=3)
    lr, guide = inputs(4, h=12, w=12)
    diagnostics = net.diagnostics(lr, guide)
    densities = sorted(k.split("/")[1] for k in diagnostics if k.startswith("density/"))
    assert densities == ["g1", "g2", "h1", "h2", "h3", "u0", "u1", "u2", "v0", "v1", "v2"]
    assert all(0.0 <= diagnostics[f"density/{d}"] <= 1.0 for d in densities)
    assert diagnostics["threshold/min"] >= 0
    for name, module in net.named_modules():
        if hasattr(module, "raw"):
            assert (module() >= 0).all(), name


def test_random_init_differs_and_is_seeded():
    a, b = JointSR(scale=2, init="random", **SMALL), JointSR(scale=2, init="ista", **SMALL)
    lr, guide = inputs(2)
    assert not torch.allclose(a(lr, guide), b(lr, guide))
    c, d = JointSR(scale=2, seed=3, **SMALL), JointSR(scale=2, seed=3, **SMALL)
    torch.testing.assert_close(c(lr, guide), d(lr, guide))


def test_gradients_are_finite():
    net = JointSR(scale=4, R=2, tied=False, **SMALL)
    lr, guide = inputs(4)
    sum(o.square().mean() for o in net.forward_steps(lr, guide)).backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_equalized_rates_are_one_over_the_square_root_of_each_convolutions_fan_in():
    """The paper's shape, k=64 atoms of 7x7, x4: a code update S sees 64 x 7 x 7 inputs, the
    guide analysis 1 x 7 x 7, the transposed LR analysis (kernel 8, stride 4) 1 x 2 x 2 per
    output pixel, the dictionary 64 x 7 x 7; thresholds keep the rate itself."""
    net = JointSR(scale=4, k=64, K=7, T=2, R=3, equalized_lr=True)
    scales = net.learning_rate_scales()
    assert scales["guide_encoder.updates.0.S.weight"] == pytest.approx(1 / (64 * 49) ** 0.5)
    assert scales["steps.0.target_update.S.weight"] == pytest.approx(1 / 56)
    assert scales["guide_encoder.analysis.weight"] == pytest.approx(1 / 7)
    assert scales["target_encoder.analysis.weight"] == pytest.approx(1 / 2)
    assert scales["steps.0.target_drive.weight"] == pytest.approx(1 / 2)
    assert scales["dictionary.weight"] == pytest.approx(1 / 56)
    weights = {name for name, _ in net.named_parameters() if name.endswith(".weight")}
    assert set(scales) == weights, "every convolution weight and nothing else"
    assert JointSR(scale=4, k=8, K=3).learning_rate_scales() == {}, "off by default: one rate"


def test_the_optimiser_steps_each_group_at_its_scaled_rate():
    from functools import partial

    from jointsr.training.module import build_optimizer

    net = JointSR(scale=2, k=8, K=3, equalized_lr=True)
    optimizer = build_optimizer(partial(torch.optim.Adam, lr=1e-4), net)
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    named = dict(net.named_parameters())
    assert rate[id(named["guide_encoder.updates.0.S.weight"])] == pytest.approx(1e-4 / (8 * 9) ** 0.5)
    assert rate[id(named["target_encoder.thresholds.0.raw"])] == pytest.approx(1e-4)
    assert sorted(id(p) for group in optimizer.param_groups for p in group["params"]) == \
        sorted(id(p) for p in net.parameters()), "every parameter in exactly one group"
