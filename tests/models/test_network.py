"""The network contract (jointsr/models/network.py): every network of conf/model/ keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jointsr import CONFIG_DIR
from jointsr.models.network import SRNetwork
from jointsr.training.build import build_model
from conftest import compose_config

MODELS = sorted(p.stem for p in (Path(CONFIG_DIR) / "model").glob("*.yaml") if p.stem != "base")
SMALL = {"jointsr": ["model.net.k=6", "model.net.K=3"], "jointsr_paper": ["model.net.k=6", "model.net.K=3"],
         "lmcsc": ["model.net.k=6", "model.net.K=3"], "coista": ["model.net.atoms=8"],
         "srfbn": ["model.net.num_features=4", "model.net.num_groups=2", "model.net.num_steps=3"],
         "srfbn_s": ["model.net.num_features=4", "model.net.num_groups=2"]}
#: steps forward_steps returns with the SMALL overrides (the configs' T/R otherwise)
STEPS = {"jointsr": 3, "jointsr_paper": 3, "srfbn": 3, "srfbn_s": 4}


@pytest.mark.parametrize("model", MODELS)
def test_every_configured_network_keeps_the_contract(model, tmp_path):
    assert {"bicubic", "coista", "djf", "jointsr", "jointsr_paper", "lmcsc", "srfbn", "srfbn_s"} <= set(MODELS)
    net = build_model(compose_config("train", [f"model={model}", "scale=x4", *SMALL.get(model, [])], tmp_path).model).net.eval()
    assert isinstance(net, SRNetwork)
    assert net.scale == 4 and net.guide_channels == 1
    generator = torch.Generator().manual_seed(0)
    lr, guide = torch.rand(2, 1, 6, 5, generator=generator), torch.rand(2, 1, 24, 20, generator=generator)
    with torch.no_grad():
        output = net(lr, guide)
        steps = net.forward_steps(lr, guide)
    assert output.shape == (2, 1, 24, 20)
    assert isinstance(steps, list) and len(steps) == STEPS.get(model, 1)
    torch.testing.assert_close(steps[-1], output)
    report = net.diagnostics(lr, guide)
    assert all(isinstance(key, str) and isinstance(value, float) for key, value in report.items())
    has_thresholds = model not in ("bicubic", "djf", "srfbn", "srfbn_s")
    assert ("threshold/min" in report) == has_thresholds
    assert any(key.startswith("density/") for key in report) == (model in ("jointsr", "jointsr_paper", "lmcsc"))
    assert net.needs_calibration == (model in ("jointsr", "jointsr_paper"))
    with pytest.raises(ValueError, match="hr_guide must be"):
        net(lr, guide[..., :-4])
