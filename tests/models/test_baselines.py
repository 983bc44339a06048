"""The baselines (method.md sections 4-5): shapes, input checks, parameter counts, gradients,
and whether the guide reaches the output."""

from __future__ import annotations

import pytest
import torch

from jointsr.data.imresize import imresize
from jointsr.models.coista import CoISTA
from jointsr.models.djf import DJF
from jointsr.models.lmcsc import LMCSC
from jointsr.models.srfbn import SRFBN

SCALES = (2, 4, 8, 16)

# Small versions for the shape/gradient tests; the parameter-count tests use the defaults.
SMALL = {
    "djf": lambda s, c: DJF(s, guide_channels=c, branch_widths=(8, 4), fusion_widths=(8, 4)),
    "lmcsc": lambda s, c: LMCSC(s, guide_channels=c, k=6, K=3),
    "coista": lambda s, c: CoISTA(s, guide_channels=c, atoms=24),
    "srfbn": lambda s, c: SRFBN(s, guide_channels=c, num_features=4, num_groups=2, num_steps=2),
}
GUIDED = ("djf", "lmcsc", "coista")


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def inputs(scale: int, channels: int = 1, batch: int = 2, h: int = 3, w: int = 5, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    lr_target = torch.rand(batch, 1, h, w, generator=generator)
    hr_guide = torch.rand(batch, channels, h * scale, w * scale, generator=generator)
    return lr_target, hr_guide


def make_guide_effective(name: str, model: torch.nn.Module) -> None:
    """Both ISTA initialisations start guide-free on purpose (LMCSC's output dictionary D2 = 0,
    CoISTA's fusion Wx = 0); give those weights values so that the wiring can be tested."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        if name == "lmcsc":
            weight = model.refine_dictionary.weight
        elif name == "coista":
            weight = model.fuse_guide.weight
        else:
            return
        weight.copy_(0.1 * torch.randn(weight.shape, generator=generator))


# ------------------------------------------------------------------ shapes and checks
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", sorted(SMALL))
def test_output_shape_on_odd_sizes(name, scale):
    channels = 3 if name in GUIDED else 1
    model = SMALL[name](scale, channels)
    lr_target, hr_guide = inputs(scale, channels)
    with torch.no_grad():
        out = model(lr_target, hr_guide)
    assert out.shape == (2, 1, 3 * scale, 5 * scale)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_wrong_inputs_raise(name):
    model = SMALL[name](4, 1)
    lr_target, hr_guide = inputs(4)
    with pytest.raises(ValueError, match="hr_guide must be"):
        model(lr_target, hr_guide[..., :-1, :])  # one row short
    with pytest.raises(ValueError, match="hr_guide must be"):
        model(lr_target, hr_guide.repeat(1, 3, 1, 1))  # RGB guide for a luminance model
    with pytest.raises(ValueError, match="lr_target must be"):
        model(lr_target.repeat(1, 2, 1, 1), hr_guide)


def test_srfbn_rejects_unsupported_scale():
    with pytest.raises(ValueError, match="scales"):
        SRFBN(3)


# ------------------------------------------------------------------ parameter counts
def test_djf_parameter_count():
    # Branches 1->96->48->1 (9x9, 1x1, 5x5): 7,872 + 4,656 + 1,201 = 13,729 each (x2);
    # fusion 2->64->32->1: 10,432 + 2,080 + 801 = 13,313. Total 40,771 (biases on).
    assert count(DJF(4)) == 40_771
    assert count(DJF(8)) == 40_771  # independent of the scale


@pytest.mark.parametrize("scale, expected", [(2, 2_134_748), (4, 3_625_692), (8, 7_885_532),
                                             (16, 21_517_020)])
def test_srfbn_parameter_count(scale, expected):
    # The paper's one-channel counts (x16 by the same (s + 4, s, 2) projection rule).
    assert count(SRFBN(scale)) == expected


def test_srfbn_s_parameter_count():
    assert count(SRFBN(4, num_features=32, num_groups=3)) == 480_240


def test_lmcsc_parameter_count():
    # k = 64 filters of 7x7 (49 taps), bias-free, one-channel guide, per-channel thresholds:
    #   guide encoder  We (1->k) + 3 x (Wd k->1, We 1->k) = 7 x 3,136 = 21,952, + 4 x 64 thresholds
    #   target encoder the same                                          = 22,208 each
    #   dictionary D (k->1)                                                  3,136
    #   refinement     We + 2 x (Wd, We) = 5 x 3,136 = 15,680, + 3 x 64     15,872
    #   dictionary D2                                                        3,136
    # 2 x 22,208 + 3,136 + 15,872 + 3,136 = 66,560
    assert count(LMCSC(4)) == 66_560
    assert count(LMCSC(8)) == 66_560  # independent of the scale


@pytest.mark.parametrize("scale, expected", [(2, 271_616), (4, 379_136), (8, 686_336),
                                             (16, 1_116_416)])
def test_coista_parameter_count(scale, expected):
    # n = 256 atoms, d = p^2 patch dimension, L = 4 layers, per-atom thresholds, bias-free:
    #   per branch  L P_l (n x d) + (L - 1) D_l (d x n) + L n thresholds = 7 n d + 4 n
    #   fusion      Wx, Wy (n x n) + n thresholds
    #   D_H         d x n
    # total 15 n d + 2 n^2 + 9 n; x4 (p = 8, d = 64): 245,760 + 131,072 + 2,304 = 379,136
    p = {2: 6, 4: 8, 8: 12, 16: 16}[scale]
    n, d = 256, p * p
    assert expected == 15 * n * d + 2 * n * n + 9 * n
    assert count(CoISTA(scale)) == expected


# ------------------------------------------------------------------ gradients and guide use
@pytest.mark.parametrize("name", sorted(SMALL))
def test_gradients_finite(name):
    torch.manual_seed(0)
    model = SMALL[name](4, 1)
    make_guide_effective(name, model)
    lr_target, hr_guide = inputs(4, h=5, w=4)
    model(lr_target, hr_guide).square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(g.abs().sum() for g in grads) > 0


@pytest.mark.parametrize("name", GUIDED)
def test_guide_changes_output(name):
    torch.manual_seed(0)  # PyTorch's default init draws from the global generator: fix it
    model = SMALL[name](4, 1)
    make_guide_effective(name, model)
    lr_target, hr_guide = inputs(4)
    _, other_guide = inputs(4, seed=1)
    with torch.no_grad():
        assert not torch.allclose(model(lr_target, hr_guide), model(lr_target, other_guide))


def test_srfbn_ignores_guide_and_supervises_every_step():
    model = SMALL["srfbn"](4, 1)
    lr_target, hr_guide = inputs(4)
    _, other_guide = inputs(4, seed=1)
    with torch.no_grad():
        steps = model.forward_steps(lr_target, hr_guide)
        assert torch.equal(model(lr_target, other_guide), steps[-1])
    assert len(steps) == len(model.step_weights) == 2
    assert sum(model.step_weights) == pytest.approx(1.0)


# ------------------------------------------------------------------ model-specific behaviour
def test_lmcsc_ista_init_starts_as_bicubic_with_live_codes():
    model = LMCSC(4, k=8)
    lr_target, hr_guide = inputs(4, h=6, w=6)
    with torch.no_grad():
        out, codes = model.forward_codes(lr_target, hr_guide)
    torch.testing.assert_close(out, imresize(lr_target, scale=4))
    for name, code in codes.items():  # no dead branch (method.md section 9)
        assert (code != 0).float().mean() > 0.05, name


def test_coista_eval_stride_is_independent_of_training_stride():
    model = CoISTA(4, atoms=24, patch_stride=4, eval_patch_stride=1)
    make_guide_effective("coista", model)
    lr_target, hr_guide = inputs(4)
    with torch.no_grad():
        train_out = model.train()(lr_target, hr_guide)
        eval_out = model.eval()(lr_target, hr_guide)
    assert model.stride == 1 and train_out.shape == eval_out.shape
    assert not torch.allclose(train_out, eval_out)


def test_coista_rejects_bad_stride():
    with pytest.raises(ValueError, match="patch_stride"):
        CoISTA(4, patch_stride=9)
