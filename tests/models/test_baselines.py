"""The baselines (method.md sections 4-5): shapes, input checks, parameter counts, gradients,
and whether the guide reaches the output."""

from __future__ import annotations

import math

import pytest
import torch

from jointsr.errors import ConfigError
from jointsr.functional.imresize import imresize
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


def official_coista_weights(patch_size: int, atoms: int = 256, guide_channels: int = 1) -> dict:
    """The weight arrays of the official CoISTA (cindydeng1991/Deep-Coupled-ISTA-Network,
    ``4X_depth/DeepCoupledISTA.m`` and ``utils/multimodal_upscaling.m``) and their shapes, as
    its graph uses them on a patch matrix Y (d x patches):

    - ``weight_x`` (the bicubic target's branch), ``weight_y`` (the guide's): ``b0 = We * Y``;
      ``b = wthresh(b + Pl * (Y - Dl * b), 's', laml)`` for l = 1..4, so ``We``, ``P1..P4``
      are n x d, ``D1..D4`` d x n and ``lam1..lam4`` one threshold per atom (n x 1);
    - ``weight_z``: ``Alphaz = Wx * Alphax + Wy * Alphay`` (n x n each), thresholded by
      ``lam_r`` (n x 1), then ``X = DH * Alphaz`` (d x n).
    """
    n, d = atoms, patch_size ** 2

    def branch(dim: int) -> dict:
        shapes = {"We": (n, dim)}
        for layer in range(1, 5):
            shapes.update({f"P{layer}": (n, dim), f"D{layer}": (dim, n), f"lam{layer}": (n, 1)})
        return shapes

    return {"weight_x": branch(d), "weight_y": branch(guide_channels * d),
            "weight_z": {"Wx": (n, n), "Wy": (n, n), "lam_r": (n, 1), "DH": (d, n)}}


def ours_to_official(model: CoISTA) -> dict:
    """Each of our parameters -> (official weight file, array name)."""
    mapping = {}
    for ours, official in (("target_branch", "weight_x"), ("guide_branch", "weight_y")):
        mapping[f"{ours}.encoder.weight"] = (official, "We")
        for layer in range(4):
            mapping[f"{ours}.analysis.{layer}.weight"] = (official, f"P{layer + 1}")
            mapping[f"{ours}.synthesis.{layer}.weight"] = (official, f"D{layer + 1}")
            mapping[f"{ours}.thresholds.{layer}.raw"] = (official, f"lam{layer + 1}")
    mapping.update({"fuse_target.weight": ("weight_z", "Wx"), "fuse_guide.weight": ("weight_z", "Wy"),
                    "fuse_threshold.raw": ("weight_z", "lam_r"), "hr_dictionary.weight": ("weight_z", "DH")})
    return mapping


@pytest.mark.parametrize("scale, guide_channels", [(2, 1), (4, 1), (4, 3), (8, 1), (16, 1)])
def test_coista_has_the_official_graphs_weights(scale, guide_channels):
    """Every weight of the official graph, of its shape, and nothing else; the count is the
    sum over the official arrays (x4, one-channel guide: 444,672)."""
    model = CoISTA(scale, guide_channels=guide_channels)
    official = official_coista_weights(model.patch_size, guide_channels=guide_channels)
    expected = sum(math.prod(shape) for weights in official.values() for shape in weights.values())
    assert count(model) == expected
    if (scale, guide_channels) == (4, 1):
        assert expected == 444_672
    mapping = ours_to_official(model)
    parameters = dict(model.named_parameters())
    assert set(parameters) == set(mapping)
    assert sorted(mapping.values()) == sorted((file, name) for file, weights in official.items() for name in weights)
    for name, (file, array) in mapping.items():
        shape = official[file][array]
        squeezed = tuple(size for size in parameters[name].shape if size != 1) or (1,)
        assert squeezed == tuple(size for size in shape if size != 1), (name, array)


def test_coista_starts_with_an_unthresholded_code_then_four_thresholded_layers():
    """With the layers' updates off (P = D = 0) and their thresholds ~0 the code is exactly
    We y: the start is the encoder's response, no shrinkage of its own (the official b0)."""
    branch = CoISTA(4, atoms=24).target_branch
    patches = torch.randn(2, 64, 3, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in [*branch.analysis, *branch.synthesis]:
            layer.weight.zero_()
        for threshold in branch.thresholds:
            threshold.reset(1e-6)
        torch.testing.assert_close(branch(patches), branch.encoder(patches), atol=1e-5, rtol=0)
    assert len(branch.analysis) == len(branch.synthesis) == len(branch.thresholds) == 4


def test_coista_tests_every_overlapping_patch_by_default():
    model = CoISTA(4)
    assert model.eval().stride == 1 and model.train().stride == 4


def test_coista_banded_stride_one_pass_equals_one_pass(monkeypatch):
    """The band-by-band evaluation (bounded memory) is the plain unfold / fold of all patches."""
    import jointsr.models.coista as coista

    model = CoISTA(4, atoms=24, eval_patch_stride=1).eval()
    make_guide_effective("coista", model)
    lr_target, hr_guide = inputs(4, h=9, w=7)
    with torch.no_grad():
        whole = model(lr_target, hr_guide)
        monkeypatch.setattr(coista, "_BAND_ELEMENTS", 1)  # one patch row per band
        banded = model(lr_target, hr_guide)
    torch.testing.assert_close(banded, whole, atol=1e-6, rtol=1e-6)


def test_coista_trains_its_patch_grid_at_every_phase_of_the_lr_grid():
    """grid_phase=random: each training step starts the stride-4 grid at an offset drawn from
    [0, 4)^2, written out here as replicate padding above and left, unfold / fold of every
    patch, and the crop back. Over the steps every phase occurs. fixed: always the corner."""
    import torch.nn.functional as F

    model = CoISTA(4, atoms=24).train()
    make_guide_effective("coista", model)
    lr_target, hr_guide = inputs(4, h=5, w=4)
    upsampled = imresize(lr_target, scale=4)
    height, width = upsampled.shape[-2:]
    seen = set()
    for step in range(100):
        torch.manual_seed(step)
        shift_y, shift_x = (int(v) for v in torch.randint(0, 4, (2,)))
        seen.add((shift_y, shift_x))
        pad_h = (-(shift_y + height - 8)) % 4  # the grid of 8x8 patches, stride 4, must cover the padded image
        pad_w = (-(shift_x + width - 8)) % 4
        big_up = F.pad(upsampled, (shift_x, pad_w, shift_y, pad_h), mode="replicate")
        big_guide = F.pad(hr_guide, (shift_x, pad_w, shift_y, pad_h), mode="replicate")
        with torch.no_grad():
            patches = model.hr_patches(big_up, big_guide)
            size = big_up.shape[-2:]
            expected = F.fold(patches.flatten(2), size, 8, stride=4) / \
                F.fold(torch.ones_like(patches).flatten(2), size, 8, stride=4)
            torch.manual_seed(step)
            torch.testing.assert_close(model(lr_target, hr_guide),
                                       expected[..., shift_y:shift_y + height, shift_x:shift_x + width],
                                       atol=1e-6, rtol=1e-6)
    assert seen == {(y, x) for y in range(4) for x in range(4)}
    fixed = CoISTA(4, atoms=24, grid_phase="fixed", eval_patch_stride=4)
    fixed.load_state_dict(model.state_dict())
    with torch.no_grad():  # the fixed grid is the eval pass at the training stride
        torch.testing.assert_close(fixed.train()(lr_target, hr_guide), fixed.eval()(lr_target, hr_guide))


def test_coista_rejects_an_unknown_grid_phase():
    with pytest.raises(ConfigError, match="model.net.grid_phase='corner'"):
        CoISTA(4, grid_phase="corner")


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
    assert len(steps) == 2


# ------------------------------------------------------------------ model-specific behaviour
def test_lmcsc_ista_init_starts_as_bicubic_with_live_codes():
    model = LMCSC(4, k=8)
    lr_target, hr_guide = inputs(4, h=6, w=6)
    with torch.no_grad():
        (out,), codes = model.trace(lr_target, hr_guide)
    torch.testing.assert_close(out, imresize(lr_target, scale=4))
    for name, steps in codes.items():  # no dead branch (method.md section 9)
        assert (steps[-1] != 0).float().mean() > 0.05, name


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
