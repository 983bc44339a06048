"""jointsr-inspect: every figure of a tiny network, LeSITA's regimes, the command line and its errors."""

from __future__ import annotations

import json

import cli_helpers
import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run_main
from conftest import require_data
from omegaconf import OmegaConf
from PIL import Image

from jointsr.functional.imresize import imresize
from jointsr.inspection import NoCodesError, analyse, trace_network, write_figures
from jointsr.inspection.analysis import REGIMES, lesita_regimes
from jointsr.inspection.figures import COUPLING_FIGURES, FIGURES
from jointsr.metrics.protocol import psnr
from jointsr.models.djf import DJF
from jointsr.models.jointsr import JointSR
from jointsr.models.ops import lesita
from jointsr.training.build import build_model

SCALE = 2
TINY = {
    "factorised": {"_target_": "jointsr.models.jointsr.JointSR", "scale": SCALE, "k": 6, "K": 3, "T": 1, "R": 2,
                   "form": "factorised", "global_skip": True},
    "free": {"_target_": "jointsr.models.jointsr.JointSR", "scale": SCALE, "k": 6, "K": 3, "T": 1, "R": 2,
             "form": "free"},
    "lmcsc": {"_target_": "jointsr.models.lmcsc.LMCSC", "scale": SCALE, "k": 6, "K": 3, "guide_iterations": 1,
              "target_iterations": 2, "refine_iterations": 1},
}


def scene(size: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A smooth HR target, a guide that shares half its structure and flips the other half's
    contrast (where the modalities disagree), and the bicubic LR target."""
    rows, cols = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    pattern = torch.sin(9 * cols) * torch.cos(6 * rows)
    hr = (0.5 + 0.4 * pattern)[None, None]
    guide = (0.5 + 0.4 * torch.where(cols < 0.5, pattern, -pattern))[None, None]
    lr = imresize(hr.double(), scale=1 / SCALE).float()
    return lr, guide, hr


def tiny_net(kind: str) -> torch.nn.Module:
    net = build_model(OmegaConf.create({"_target_": "jointsr.training.module.SRModule", "name": kind, "net": TINY[kind]})).net
    lr, guide, hr = scene()
    if net.needs_calibration:
        net.calibrate(lr, guide, hr)  # the data-driven start of a training run: codes neither dead nor dense
    return net.eval()


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TINY))
def test_every_figure_and_the_summary_of_a_tiny_network(kind, tmp_path):
    net = tiny_net(kind)
    lr, guide, hr = scene()
    trace = trace_network(net, lr, guide, kind)
    inspection = analyse(trace, lr, guide, hr, model=kind)
    figures = write_figures(inspection, tmp_path, dpi=40)
    assert set(figures) == set(FIGURES)
    for path in figures.values():
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 50
    summary = json.loads(json.dumps(inspection.summary(), allow_nan=False))  # valid JSON, no NaN
    # the output is the network's own, and its PSNR the protocol's
    with torch.no_grad():
        output = net(lr, guide)
    assert torch.allclose(trace.output, output, atol=1e-6)
    assert summary["psnr"]["output"] == pytest.approx(psnr(output[0, 0].clamp(0, 1).numpy(), hr[0, 0].numpy()),
                                                      abs=1e-4)
    # the densities agree with the network's own diagnostics contract
    prefix = {"target": "u", "guide": "v"} if isinstance(net, JointSR) else {"target": "u", "guide": "z",
                                                                             "refine": "v"}
    for state, letter in prefix.items():
        for index, step in enumerate(summary["states"][state]):
            if step["step"].startswith("enc"):
                key = f"density/{letter}{index}"
            else:
                key = f"density/{'h' if state == 'target' else 'g'}{step['step'].split()[1]}"
            assert step["density"] == pytest.approx(trace.diagnostics[key], abs=1e-5), key
    # every LeSITA step is classified into regimes that partition its entries
    assert summary["coupling"]
    for step in summary["coupling"]:
        assert sum(step[name] for name in REGIMES) == pytest.approx(1.0, abs=1e-5)
    assert len(summary["reconstructions"]) == (3 if isinstance(net, JointSR) else 2)
    assert summary["dictionary"]["atoms"] == 6 and len(summary["thresholds"]) >= 3


def test_jointsr_states_steps_and_couplings_are_those_of_the_unrolling():
    net = tiny_net("factorised")
    lr, guide, _ = scene()
    trace = trace_network(net, lr, guide)
    target, guide_state = trace.states
    assert [label for label, _ in target.steps] == ["enc 0", "enc 1", "rnn 1", "rnn 2"]
    assert [label for label, _ in guide_state.steps] == ["enc 0", "enc 1", "rnn 1"]  # g is not updated at the last step
    assert [(s.label, s.side_name) for s in trace.shrinkages] == [("h rnn 1", "g"), ("g rnn 1", "h"), ("h rnn 2", "g")]
    assert [label for label, *_ in trace.pairs] == ["enc 1", "rnn 1", "rnn 2"]
    # the side information of h_2 is g_1, that of g_1 is h_1
    assert trace.shrinkages[2].side is guide_state.steps[2][1]
    assert trace.shrinkages[1].side is target.steps[2][1]


@pytest.mark.parametrize("options", [{"R": 0}, {"R": 1}, {"guide_update": False}, {"tied": False, "T": 2, "R": 3}])
def test_every_variant_of_jointsr_is_traced(options, tmp_path):
    net = JointSR(scale=SCALE, k=4, K=3, form="factorised", global_skip=True, **{"T": 1, "R": 2, **options}).eval()
    lr, guide, hr = scene(16)
    trace = trace_network(net, lr, guide)  # checks every rebuilt LeSITA input against the traced code
    expected_steps = options.get("R", 2) * (2 if options.get("guide_update", True) else 1) - (
        1 if options.get("guide_update", True) and options.get("R", 2) > 0 else 0)
    assert len(trace.shrinkages) == expected_steps
    inspection = analyse(trace, lr, guide, hr)
    assert len(inspection.regimes) == expected_steps
    if not expected_steps:  # no LeSITA step: the coupling figures are left out, the others drawn
        figures = write_figures(inspection, tmp_path, dpi=30)
        assert set(figures) == set(FIGURES) - set(COUPLING_FIGURES)


def test_lesita_regimes_partition_the_entries_and_give_lesita_back():
    generator = torch.Generator().manual_seed(0)
    value = torch.randn(2, 5, 7, 7, generator=generator)
    side = torch.randn(2, 5, 7, 7, generator=generator) * (torch.rand(2, 5, 7, 7, generator=generator) > 0.3)
    mu = torch.rand(1, 5, 1, 1, generator=generator) * 0.5
    masks = lesita_regimes(value, side, mu)
    assert torch.equal(sum(m.int() for m in masks.values()), torch.ones_like(value, dtype=torch.int))
    direction = torch.where(value - torch.maximum(torch.minimum(value, side.clamp(min=0)), side.clamp(max=0)) > 0,
                            1.0, -1.0)
    rebuilt = torch.where(masks["zero"], 0.0, torch.where(masks["pass"], value, torch.where(
        masks["clamp"], side, value - direction * 2 * mu)))
    assert torch.allclose(rebuilt, lesita(value, side, mu), atol=1e-6)
    # where the side information is zero LeSITA is soft thresholding at 2 mu: never pass or clamp
    assert not (masks["pass"] | masks["clamp"])[side == 0].any()
    # the coupling acts exactly where LeSITA differs from soft thresholding at 2 mu
    soft = value - value.clamp(-2 * mu, 2 * mu)
    differs = (lesita(value, side, mu) - soft).abs() > 1e-7
    assert torch.equal(differs, (masks["pass"] | masks["clamp"]) & (value.abs() > 0))


def test_a_network_without_codes_is_refused():
    lr, guide, _ = scene()
    with pytest.raises(NoCodesError, match="^model=djf \\(DJF\\) has no sparse codes to inspect; jointsr-inspect reads "
                                           "checkpoints of model=jointsr, jointsr_paper or lmcsc$"):
        trace_network(DJF(scale=SCALE), lr, guide, "djf")


# --------------------------------------------------------------------------- command line
def save_checkpoint(path, kind: str, net_cfg: dict | None = None):
    """A checkpoint as jointsr-train writes it (weights and the model config), for a tiny network."""
    cfg = {"_target_": "jointsr.training.module.SRModule", "name": kind, "net": net_cfg or TINY[kind]}
    model = build_model(OmegaConf.create(cfg))
    if model.net.needs_calibration:
        lr, guide, hr = scene()
        model.net.calibrate(lr, guide, hr)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "jointsr": {"model_cfg": cfg, "name": kind}}, path)
    return path


def write_png(path, image: np.ndarray):
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def inspect_cli(monkeypatch, capsys, tmp_path):
    def run(*args: str):
        return run_main("inspect", [*args, f"hydra.run.dir={tmp_path / 'run'}", "dpi=30"], capsys, monkeypatch)

    return run


@pytest.fixture
def images(tmp_path):
    _, guide, hr = scene(26)  # 26 is cropped to 26 (a multiple of x2); the LR is 13x13
    rgb = np.repeat(guide[0, 0].numpy()[..., None], 3, axis=2) * np.array([1.0, 0.9, 0.8])
    return {"hr": write_png(tmp_path / "hr.png", hr[0, 0].numpy()), "guide": write_png(tmp_path / "rgb.png", rgb),
            "lr": write_png(tmp_path / "lr.png", imresize(hr.double(), scale=0.5)[0, 0].numpy())}


@pytest.mark.slow
def test_the_command_simulates_the_protocol_and_writes_figures_and_summary(inspect_cli, images, tmp_path):
    ckpt = save_checkpoint(tmp_path / "train" / "checkpoints" / "last.ckpt", "factorised")
    result = inspect_cli(f"ckpt_path={ckpt}", f"simulate={images['hr']}", f"guide={images['guide']}")
    assert result.code == 0, result.err[-3000:]
    run = tmp_path / "run"
    summary = json.loads((run / "inspect_summary.json").read_text())
    assert summary["input"]["mode"] == "simulate" and summary["training_run"] == "train"
    assert summary["hr_size"] == [26, 26]
    assert all((run / name).is_file() for name in summary["figures"].values())
    assert len(summary["figures"]) == len(FIGURES)
    assert summary["psnr"]["bicubic"] is not None
    assert (run / "steps_psnr.csv").read_text().splitlines()[0] == "step,psnr"
    assert "PSNR (dB)" in result.out and "coupled" in result.out


@pytest.mark.slow
def test_an_lr_target_without_truth_gives_no_psnr_and_a_crop(inspect_cli, images, tmp_path):
    ckpt = save_checkpoint(tmp_path / "ckpt" / "lmcsc.ckpt", "lmcsc")
    result = inspect_cli(f"ckpt_path={ckpt}", f"target={images['lr']}", f"guide={images['guide']}", "crop=12",
                         "crop_origin=[3,5]")
    assert result.code == 0, result.err[-3000:]
    summary = json.loads((tmp_path / "run" / "inspect_summary.json").read_text())
    assert summary["network"] == "LMCSC" and summary["psnr"] == {"bicubic": None, "output": None}
    assert summary["input"]["crop"] == [2, 4, 12, 12] and summary["hr_size"] == [12, 12]
    assert summary["agreement"]["reference"] == "bicubic"


@pytest.mark.parametrize("args, fragments", [
    ([], ["give exactly one input (none given)", "ckpt_path="]),
    (["simulate=x.png"], ["simulate= needs guide="]),
    (["image=feathers"], ["image=feathers needs data="]),
    (["pretrained=jointsr-cave-x4", "image=feathers", "data=cave"], ["no pretrained weights are shipped yet"]),
])
def test_configuration_errors_are_one_line(inspect_cli, tmp_path, args, fragments):
    ckpt = save_checkpoint(tmp_path / "c.ckpt", "factorised")
    assert_user_error(inspect_cli(f"ckpt_path={ckpt}", *args), *fragments)


def test_a_missing_image_or_checkpoint_is_one_line(inspect_cli, images, tmp_path):
    ckpt = save_checkpoint(tmp_path / "c.ckpt", "factorised")
    assert_user_error(inspect_cli(f"ckpt_path={ckpt}", f"simulate={tmp_path / 'nope.png'}", f"guide={images['guide']}"),
                      "image file not found", "nope.png")
    assert_user_error(inspect_cli(f"ckpt_path={tmp_path / 'none.ckpt'}", f"simulate={images['hr']}",
                                  f"guide={images['guide']}"), "checkpoint not found")
    assert_user_error(inspect_cli(f"ckpt_path={ckpt}", f"simulate={images['hr']}", f"guide={images['lr']}"),
                      "must be the HR target's size")


def test_a_baseline_checkpoint_gets_a_one_line_message(inspect_cli, images, tmp_path):
    ckpt = save_checkpoint(tmp_path / "djf.ckpt", "djf", {"_target_": "jointsr.models.djf.DJF", "scale": SCALE})
    line = assert_user_error(inspect_cli(f"ckpt_path={ckpt}", f"simulate={images['hr']}", f"guide={images['guide']}"),
                             "model=djf (DJF) has no sparse codes")
    assert "jointsr_paper or lmcsc" in line
    assert not (tmp_path / "run" / "inspect_summary.json").exists()


@pytest.mark.slow
def test_a_dataset_image_by_name(inspect_cli, tmp_path):
    require_data("cave")
    ckpt = save_checkpoint(tmp_path / "c.ckpt", "factorised")
    bad = inspect_cli(f"ckpt_path={ckpt}", "data=cave", "image=nothing", f"paths.data_dir={cli_helpers.DATA_DIR}")
    assert_user_error(bad, "image=nothing is not an image of cave", "feathers")
    result = inspect_cli(f"ckpt_path={ckpt}", "data=cave", "image=feathers", "crop=24",
                         f"paths.data_dir={cli_helpers.DATA_DIR}")
    assert result.code == 0, result.err[-3000:]
    summary = json.loads((tmp_path / "run" / "inspect_summary.json").read_text())
    assert summary["input"]["dataset"] == "cave" and summary["input"]["split"] == "test"
    assert summary["hr_size"] == [24, 24] and summary["psnr"]["output"] is not None


@pytest.mark.slow
def test_wandb_gets_every_figure_and_the_numbers_and_is_always_finished(inspect_cli, images, tmp_path, monkeypatch):
    import sys
    import types

    calls = {"images": [], "logged": {}, "summary": {}, "finished": 0}

    class Run:
        summary = calls["summary"]

        def log(self, values):
            calls["logged"].update(values)

        def finish(self):
            calls["finished"] += 1

    fake = types.SimpleNamespace(init=lambda **kwargs: calls.update(init=kwargs) or Run(),
                                 Image=lambda path: calls["images"].append(path) or path)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    ckpt = save_checkpoint(tmp_path / "train" / "checkpoints" / "last.ckpt", "factorised")
    result = inspect_cli(f"ckpt_path={ckpt}", f"simulate={images['hr']}", f"guide={images['guide']}",
                         "wandb.enabled=true", "wandb.mode=offline")
    assert result.code == 0, result.err[-3000:]
    assert calls["init"]["mode"] == "offline" and calls["init"]["group"] == "train"
    assert calls["init"]["dir"] == str(tmp_path / "run")
    assert set(calls["logged"]) == {f"inspect/{name}" for name in FIGURES}
    assert "inspect/psnr/output" in calls["summary"] and "inspect/coupling/h rnn 1/clamp" in calls["summary"]
    assert calls["finished"] == 1
