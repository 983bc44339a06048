"""The network contract (jointsr/models/network.py): every network of conf/model/ keeps it,
found by discovery (tests/discovery.py), and the shipped networks answer as written here."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import compose_config
from discovery import MODELS, narrow

from jointsr.errors import ConfigError
from jointsr.inspection.trace import NoCodesError, check_inspectable, trace_network
from jointsr.models.blocks import Threshold
from jointsr.models.catalog import (
    model_config,
    model_title,
    model_titles,
    models_with_codes,
    network_class,
)
from jointsr.models.djf import DJF
from jointsr.models.network import SRNetwork
from jointsr.training.build import build_model

#: what the shipped model configs answer (x4, one-channel guide): the report title, sparse
#: codes, shrinkage thresholds, a calibration before training, the steps of forward_steps,
#: and the receptive radius in HR pixels (a halo of tiling)
SHIPPED = {
    "bicubic": ("Bicubic", False, False, False, 1, 8.0),
    "coista": ("CoISTA", False, True, False, 1, 15.0),
    "djf": ("DJF", False, False, False, 1, 20.0),
    "jointsr": ("JointSR-fast (ours, CPU recipe)", True, True, True, 3, 40.5),
    "jointsr_paper": ("Proposed (jointsr_paper)", True, True, True, 3, 21.5),
    "lmcsc": ("LMCSC", True, True, False, 1, 60.0),
    "srfbn": ("SRFBN", False, False, False, 4, 176.5),
    "srfbn_s": ("SRFBN-S", False, False, False, 4, 92.5),
}


def small_network(model: str, tmp_path) -> SRNetwork:
    cfg = compose_config("train", [f"model={model}", "scale=x4", *narrow(model)], tmp_path)
    return build_model(cfg.model).net.eval()


def inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    lr, guide = torch.rand(batch, 1, 6, 5, generator=generator), torch.rand(batch, 1, 24, 20, generator=generator)
    return lr, guide, torch.rand(batch, 1, 24, 20, generator=generator)


@pytest.mark.parametrize("model", MODELS)
def test_every_configured_network_keeps_the_contract(model, tmp_path):
    net = small_network(model, tmp_path)
    assert isinstance(net, SRNetwork) and type(net) is network_class(model)
    assert net.scale == 4 and net.guide_channels == 1
    lr, guide, hr = inputs()
    with torch.no_grad():
        output = net(lr, guide)
        steps = net.forward_steps(lr, guide)
    assert output.shape == (2, 1, 24, 20)
    assert isinstance(steps, list) and len(steps) == net.step_count() >= 1  # model.step_weights is checked on it
    torch.testing.assert_close(steps[-1], output)
    report = net.diagnostics(lr, guide)
    assert all(isinstance(key, str) and isinstance(value, float) for key, value in report.items())
    assert ("threshold/min" in report) == any(isinstance(module, Threshold) for module in net.modules())
    assert any(key.startswith("density/") for key in report) == net.has_codes
    with pytest.raises(ValueError, match="hr_guide must be"):
        net(lr, guide[..., :-4])
    names = {name for name, _ in net.named_parameters()}
    assert all(name in names and factor > 0 for name, factor in net.learning_rate_scales().items())
    # tiling: a finite radius, and tile origins on the LR grid
    assert 0 <= net.receptive_radius() < math.inf
    assert net.tile_alignment() % net.scale == 0
    # a network that needs its data-driven start no longer does after it
    if net.needs_calibration:
        net.calibrate(lr, guide, hr)
        assert not net.needs_calibration


@pytest.mark.parametrize("model", MODELS)
def test_inspect_reads_every_network_with_codes_and_refuses_the_others(model, tmp_path):
    net = small_network(model, tmp_path)
    lr, guide, hr = inputs(batch=1)
    if net.needs_calibration:
        net.calibrate(lr, guide, hr)
    if not net.has_codes:
        with pytest.raises(NoCodesError, match=f"model={model} .*has no sparse codes"):
            check_inspectable(net, model)
        return
    trace = trace_network(net, lr, guide, model)  # checks every rebuilt LeSITA input against its code
    with torch.no_grad():
        torch.testing.assert_close(trace.output, net(lr, guide))
    assert trace.states and trace.layers and any(key.startswith("density/") for key in trace.diagnostics)


def test_every_model_has_a_title_of_its_own():
    titles = model_titles()
    assert set(titles) == set(MODELS)
    assert all(isinstance(title, str) and title for title in titles.values())
    assert len(set(titles.values())) == len(titles), titles  # no two rows of a report look alike


@pytest.mark.parametrize("model", sorted(SHIPPED))
def test_the_shipped_networks_answer_as_written(model, tmp_path):
    title, has_codes, thresholds, calibration, steps, radius = SHIPPED[model]
    net = small_network(model, tmp_path)
    lr, guide, _ = inputs()
    assert model_title(model) == title
    assert net.has_codes == has_codes and (model in models_with_codes()) == has_codes
    with torch.no_grad():
        assert ("threshold/min" in net.diagnostics(lr, guide)) == thresholds
        assert len(net.forward_steps(lr, guide)) == steps
    assert net.needs_calibration == calibration
    assert net.receptive_radius() == radius
    assert net.tile_alignment() == 4


def test_a_model_without_a_config_is_titled_by_its_name_and_a_bad_target_is_one_line():
    assert model_title("newnet") == "newnet"
    assert network_class({"net": {"_target_": "jointsr.models.djf.DJF"}}) is DJF
    with pytest.raises(ConfigError, match=r"^model.net._target_=jointsr.models.nowhere.Net: not an importable class"):
        network_class({"net": {"_target_": "jointsr.models.nowhere.Net"}})
    with pytest.raises(ConfigError, match=r"^model.net._target_=torch.nn.Conv2d is not a network class"):
        network_class({"net": {"_target_": "torch.nn.Conv2d"}})
    with pytest.raises(ConfigError, match="model=nowhere: there is no .*nowhere.yaml"):
        model_config("nowhere")


def test_a_network_that_cannot_say_its_radius_is_refused_by_tiling_in_one_line():
    class Unknown(SRNetwork):
        title = "Unknown"

        def __init__(self) -> None:
            super().__init__()
            self.scale, self.guide_channels = 2, 1

    net = Unknown()
    with pytest.raises(ValueError, match="^Unknown: its receptive radius is unknown, so it cannot be tiled"):
        net.receptive_radius()
    assert net.tile_alignment() == 2 and not net.has_codes
    with pytest.raises(NotImplementedError, match="Unknown has no sparse codes"):
        net.code_trace(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 4, 4))
