"""Tiled inference (jointsr/inference/tiling.py): the stitched image equals whole-image inference on a
real image for every model config, odd sizes included; the halo is the receptive radius the
network computes from its config, and a smaller one is caught by the same comparison."""

from __future__ import annotations

import discovery
import numpy as np
import pytest
import torch
from conftest import require_data

from jointsr.data.io import read_image
from jointsr.inference.tiling import (
    alignment,
    auto_tile,
    receptive_radius,
    tile_grid,
    tiled_forward,
)
from jointsr.training.build import build_model

#: every model config (tests/discovery.py), narrowed (fewer channels) for speed: the depth,
#: kernels and scale that set the receptive radius are the config's own
MODELS = {model: discovery.narrow(model) for model in discovery.MODELS}
#: halo shares (of the radius) that visibly fail; the others' influence decays faster
#: than the worst case (their codes are sparse), below 1e-5 before the radius
SHORT_HALO = {"coista": 0.5, "jointsr_paper": 0.5, "djf": 0.25, "lmcsc": 0.25}


def real_pair(scale: int, lr_height: int, lr_width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An LR NIR crop (its HR truth box-averaged) and the HR luminance guide, from a real image."""
    folder = require_data("rgbnir", "urban")
    nir = read_image(folder / "0004_nir.tiff")
    rgb = read_image(folder / "0004_rgb.tiff")
    height, width = lr_height * scale, lr_width * scale
    top, left = 101, 203  # an arbitrary, odd window
    hr = torch.from_numpy(np.ascontiguousarray(nir[top:top + height, left:left + width])).float()
    guide = torch.from_numpy(np.ascontiguousarray(rgb[top:top + height, left:left + width])).float()
    if guide.dim() == 3:
        guide = guide @ torch.tensor([0.299, 0.587, 0.114])
    lr = torch.nn.functional.avg_pool2d(hr[None, None], scale)
    return lr, guide[None, None]


def live_network(compose_cfg, name: str, scale: str = "x4") -> torch.nn.Module:
    """The model's network with every weight perturbed, so that no path is dead (the ISTA
    starts zero some on purpose) and every layer can carry a tile's border inwards."""
    cfg = compose_cfg("train", [f"model={name}", f"scale={scale}", *MODELS[name]])
    return perturb_(build_model(cfg.model).net.eval())


@torch.no_grad()
def perturb_(net: torch.nn.Module) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(0)
    for parameter in net.parameters():
        noise = torch.randn(parameter.shape, generator=generator)
        parameter.mul_(1 + 0.1 * noise).add_(0.02 * torch.randn(parameter.shape, generator=generator))
    return net


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiles_stitch_to_the_whole_image_for_every_model(compose_cfg, name):
    lr, guide = real_pair(4, 61, 47)  # HR 244 x 188, odd LR sizes
    net = live_network(compose_cfg, name)
    radius = receptive_radius(net)
    with torch.no_grad():
        whole = net(lr, guide)
        for tile in (44, 70):  # one aligned, one not (rounded down to the alignment)
            tiled = tiled_forward(net, lr, guide, tile, progress=False)
            assert tiled.shape == whole.shape
            assert (tiled - whole).abs().max().item() <= 1e-5, (name, tile, radius)
        # the comparison can fail: without a halo the seams show, and for these models a
        # halo of a share of the radius already breaks the 1e-5 bound
        seams = tiled_forward(net, lr, guide, 44, halo=0, progress=False)
        assert (seams - whole).abs().max().item() > 1e-3, name
        if name in SHORT_HALO:
            short = tiled_forward(net, lr, guide, 44, halo=int(SHORT_HALO[name] * radius), progress=False)
            assert (short - whole).abs().max().item() > 1e-5, (name, radius)


def test_the_radius_follows_the_config(compose_cfg):
    # JointSR factorised, x4, K=5: the guide encoder reaches 2 + T*4, the target encoder
    # 4 + T*8 (conv_up and conv_down each 3.5 -> 4 HR pixels); each RNN step adds 8 to h
    # and 4 to g, alternately, and the dictionary 2.
    cfg = compose_cfg("train", ["model=jointsr", "model.net.T=2", "model.net.R=3"])
    net = build_model(cfg.model).net
    up = max(2 + 1.5, 7 - 2 - 1.5)  # LR pixel centre 1.5 HR pixels into its 4 x 4 block
    u = up + 2 * (2 * up)
    v = 2 + 2 * 4
    h = u + 2 * up            # r = 1: h from u; g = max(v + 4, h)
    g = max(v + 4, h)
    h = max(h + 2 * up, g)    # r = 2
    g = max(g + 4, h)
    h = max(h + 2 * up, g)    # r = 3
    assert receptive_radius(net) == int(np.ceil(h + 2))
    deeper = build_model(compose_cfg("train", ["model=jointsr", "model.net.R=5"]).model).net
    assert receptive_radius(deeper) > receptive_radius(net)


def test_tiles_cover_the_image_once_on_aligned_origins():
    tiles = tile_grid(244, 188, 70, 4)
    covered = np.zeros((244, 188), dtype=int)
    for y0, y1, x0, x1 in tiles:
        assert y0 % 4 == 0 and x0 % 4 == 0 and y1 - y0 <= 68 and x1 - x0 <= 68
        covered[y0:y1, x0:x1] += 1
    assert (covered == 1).all()


def test_auto_tile_is_the_whole_image_when_it_fits_and_shrinks_with_the_budget(compose_cfg):
    net = build_model(compose_cfg("train", ["model.net.k=4"]).model).net.eval()
    cpu = torch.device("cpu")
    assert auto_tile(net, 400, 400, 1, cpu, budget_bytes=10**10) == 0
    small = auto_tile(net, 4096, 4096, 1, cpu, budget_bytes=50 * 10**6)
    smaller = auto_tile(net, 4096, 4096, 1, cpu, budget_bytes=25 * 10**6)
    assert 0 < smaller < small < 4096
    assert small % alignment(net) == 0
    assert auto_tile(net, 4096, 4096, 1, cpu, budget_bytes=1000) is None  # not even the smallest tile


# ---------------------------------------------------------------------------------------- hooks
@pytest.mark.slow
def test_predict_with_tiles_writes_the_whole_image_result(compose_cfg, tmp_path):
    from jointsr.cli.predict import predict
    from jointsr.cli.train import train
    from jointsr.data.io import write_image
    from jointsr.functional.imresize import imresize, modcrop

    data = require_data("rgbnir")
    train(compose_cfg("train", ["model.net.k=4", "logger=csv", "debug=fast", "trainer.max_steps=1",
                                "trainer.val_check_interval=1", "test=false"]))
    nir = modcrop(read_image(data / "urban" / "0004_nir.tiff"), 4)[:212, :300]
    lr = imresize(torch.from_numpy(nir.astype(np.float64)), scale=0.25).numpy()
    target = write_image(tmp_path / "nir_lr.png", lr, bits=16)
    rgb = tmp_path / "rgb.npy"
    np.save(rgb, read_image(data / "urban" / "0004_rgb.tiff")[:212, :300])
    outputs = {}
    for tile in (0, 64):
        out = tmp_path / f"sr_{tile}.png"
        predict(compose_cfg("predict", [f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}", f"target={target}",
                                        f"guide={rgb}", f"out={out}", f"tile={tile}"]))
        outputs[tile] = read_image(out)
    assert outputs[0].shape == (212, 300)
    levels = {tile: np.round(image.astype(np.float64) * 65535) for tile, image in outputs.items()}
    # the same 16-bit image: a float difference of ~1e-7 may flip one rounding by one level
    assert np.abs(levels[64] - levels[0]).max() <= 1


def test_validation_with_tiles_gives_the_whole_image_metrics(compose_cfg):
    lr, guide = real_pair(4, 61, 47)
    hr = torch.nn.functional.interpolate(lr, scale_factor=4, mode="nearest")
    batch = {"lr": lr, "guide": guide, "hr": hr.clamp(0, 1), "name": ["urban/0004"]}
    rows = {}
    for tile in (0, 48):
        model = build_model(compose_cfg("train", ["model.net.k=4", f"model.tile={tile}"]).model).eval()
        perturb_(model.net)  # every path live (the ISTA start's dictionary is zero)
        with torch.no_grad():
            model.val_metrics.update(model._predict(batch), batch["hr"], batch["name"])
            rows[tile] = model.val_metrics.compute()[0]
    assert rows[48]["psnr"] == pytest.approx(rows[0]["psnr"], abs=1e-4)
    assert rows[0]["psnr"] < 60  # a real reconstruction error, not a copy


def test_a_negative_tile_is_one_line_naming_it(tmp_path, capsys, monkeypatch):
    from cli_helpers import run_main

    result = run_main("predict", [f"ckpt_path={tmp_path / 'a.ckpt'}", f"target={tmp_path / 't.png'}",
                                  f"guide={tmp_path / 'g.png'}", f"out={tmp_path / 'o.png'}", "tile=-8",
                                  f"hydra.run.dir={tmp_path / 'run'}"], capsys, monkeypatch)
    assert result.code != 0 and len(result.error_lines) == 1
    assert "tile=-8" in result.error_lines[0] and "Traceback" not in result.err
