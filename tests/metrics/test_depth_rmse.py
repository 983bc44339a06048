"""The guided-depth field's RMSE (method.md section 10, issue 12): in the dataset's published
unit, with and without the border crop (``data.rmse_border``, 6 pixels by default), in
``test_metrics.json``, the console table and the report."""

from __future__ import annotations

import json
import math

import hydra
import pytest
from conftest import refused_at_instantiation, require_data

from jointsr.cli.eval import evaluate
from jointsr.evaluation.results import DEPTH_METRICS, format_table
from jointsr.evaluation.results import test_metrics as document_of


def _rows(*values):
    return [{"name": name, "psnr": 40.0, "ssim": 0.99, "ssim_plain": 0.98, "rmse": value, "rmse_crop": value / 2}
            for name, value in values]


def test_the_document_converts_each_images_rmse_into_the_unit_and_says_which():
    document = document_of("bicubic", "nyuv2", 4, _rows(("a", 0.001), ("b", 0.003)), rmse_unit="cm",
                            rmse_scales={"a": 1000.0, "b": 500.0})
    assert document["rmse"] == {"unit": "cm", "border_crop": 6}
    assert [(row["rmse"], row["rmse_crop"]) for row in document["per_image"]] == [(1.0, 0.5), (1.5, 0.75)]
    assert document["mean"]["rmse"] == pytest.approx(1.25) and document["mean"]["rmse_crop"] == pytest.approx(0.625)
    table = format_table(document)
    assert "RMSE in cm" in table and "RMSE-crop6" in table and "1.250" in table
    plain = document_of("bicubic", "cave", 4, _rows(("a", 0.001)))  # no unit: no RMSE in the document
    assert "rmse" not in plain and not set(DEPTH_METRICS) & set(plain["per_image"][0])
    with pytest.raises(ValueError, match="'b'"):
        document_of("x", "nyuv2", 4, _rows(("b", 0.1)), rmse_unit="cm", rmse_scales={"a": 1.0})


@pytest.mark.parametrize("data,unit,scale", [("depth_middlebury", "0-255", 255.0), ("depth_lu6", "0-255", 255.0),
                                             ("depth_sintel", "0-255", 255.0), ("depth_nyu", "cm", 1000.0)])
def test_every_depth_set_reports_rmse_in_its_published_unit(compose_cfg, data, unit, scale):
    require_data("depth")
    cfg = compose_cfg("train", [f"data={data}"])
    assert cfg.data.rmse_unit == unit
    datamodule = hydra.utils.instantiate(cfg.data)
    scales = datamodule.rmse_scales()
    assert scales.keys() == set(datamodule.test_dataset.names("test"))
    assert set(scales.values()) == {scale}  # NYU: [0, 1] = 0..max_depth (10 m) -> x 1000 cm


def test_non_depth_sets_have_no_rmse_and_a_wrong_unit_is_refused(compose_cfg):
    require_data("depth")
    assert compose_cfg("train", ["data=cave"]).data.rmse_unit is None
    with refused_at_instantiation("not metric depth"):
        hydra.utils.instantiate(compose_cfg("train", ["data=depth_lu6", "data.rmse_unit=cm"]).data)
    with refused_at_instantiation("rmse_unit"):
        hydra.utils.instantiate(compose_cfg("train", ["data=depth_lu6", "data.rmse_unit=mm"]).data)


def test_bicubic_eval_writes_the_rmse_with_and_without_the_crop(compose_cfg, tmp_path, capsys):
    require_data("depth", "lu6")
    cfg = compose_cfg("eval", ["model=bicubic", "data=depth_lu6", "data.max_test_images=1", "logger=csv"])
    evaluate(cfg)
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    row = document["per_image"][0]
    assert document["rmse"] == {"unit": "0-255", "border_crop": 6}
    # PSNR with peak 1 and the 0-255 RMSE are one number: rmse = 255 x 10^(-psnr / 20)
    assert row["rmse"] == pytest.approx(255 * 10 ** (-row["psnr"] / 20), rel=1e-9)
    assert 0 < row["rmse_crop"] != row["rmse"]  # another set of pixels
    assert math.isclose(document["mean"]["rmse"], row["rmse"])
    printed = capsys.readouterr().out
    assert "RMSE in 0-255" in printed and f"{row['rmse_crop']:.3f}" in printed


@pytest.mark.parametrize("border", [0, 10])
def test_the_crop_is_the_data_configs_rmse_border(compose_cfg, tmp_path, border):
    """data.rmse_border sets the frame the cropped RMSE leaves out (0: papers that do not crop);
    checked against the RMSE written out on the bicubic prediction of the same image."""
    import numpy as np

    from jointsr.functional.imresize import imresize

    require_data("depth", "lu6")
    overrides = ["model=bicubic", "data=depth_lu6", "data.max_test_images=1", "logger=csv",
                 f"data.rmse_border={border}"]
    cfg = compose_cfg("eval", overrides)
    evaluate(cfg)
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    assert document["rmse"] == {"unit": "0-255", "border_crop": border}
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    batch = next(iter(datamodule.test_dataloader()))
    hr = batch["hr"][0, 0].double().numpy()
    pred = np.clip(imresize(batch["lr"], out_shape=tuple(batch["hr"].shape[-2:]))[0, 0].double().numpy(), 0, 1)
    inner = (slice(border, hr.shape[0] - border), slice(border, hr.shape[1] - border))
    expected = 255.0 * math.sqrt(float(np.mean((pred[inner] - hr[inner]) ** 2)))
    assert document["per_image"][0]["rmse_crop"] == pytest.approx(expected, rel=1e-4)
    if border == 0:
        assert document["per_image"][0]["rmse_crop"] == pytest.approx(document["per_image"][0]["rmse"], rel=1e-12)


def test_a_negative_rmse_border_is_refused_naming_the_key(compose_cfg):
    require_data("depth")
    with refused_at_instantiation("data.rmse_border=-1"):
        hydra.utils.instantiate(compose_cfg("train", ["data=depth_lu6", "data.rmse_border=-1"]).data)
