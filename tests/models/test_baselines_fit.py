"""Every model trains and tests through the real pipeline on real data (one batch each)."""

import json

import pytest

from conftest import require_data
from jointsr.train import train


@pytest.mark.parametrize("model", ["bicubic", "lmcsc", "coista", "djf", "srfbn", "srfbn_s", "jointsr"])
def test_fast_dev_run_on_real_data(compose_cfg, tmp_path, model):
    require_data("rgbnir")
    overrides = [f"model={model}", "debug=fast", "+trainer.fast_dev_run=true", "logger=csv",
                 "data.test_crop=64"]
    if model == "jointsr":
        overrides += ["model.net.k=8", "model.net.K=3"]
    train(compose_cfg("train", overrides))
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    assert document["model"] == model and document["scale"] == 4
    assert len(document["per_image"]) == 1
    assert 5.0 < document["mean"]["psnr"] < 60.0
