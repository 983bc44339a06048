"""Evaluation that cannot lie: a checkpoint records its data and jointsr-eval tests on it;
bicubic is printed beside every result; jointsr-score and jointsr-predict simulate=."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run_main
from conftest import compose_config, require_data
from hydra.core.global_hydra import GlobalHydra

from jointsr.data.io import read_image, write_image
from jointsr.functional.imresize import imresize, modcrop
from jointsr.metrics.protocol import evaluate_pair
from jointsr.runs.checkpoint import load_checkpoint

TINY = ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast", "trainer.max_steps=2",
        "trainer.val_check_interval=2", "test=false", "data.progress=false"]


@pytest.fixture(scope="module")
def cave_run(tmp_path_factory) -> Path:
    """A real (tiny, 2-step) jointsr-train on CAVE x4: the run folder."""
    require_data("cave")
    from jointsr.cli.train import train

    run = tmp_path_factory.mktemp("cave_run")
    train(compose_config("train", TINY + ["data=cave"], run))
    GlobalHydra.instance().clear()
    return run


def test_a_checkpoint_records_the_data_it_was_trained_on(cave_run):
    record = load_checkpoint(cave_run / "checkpoints" / "last.ckpt")["jointsr"]["data"]
    assert record["config"] == "cave" and record["scale"] == 4 and record["guide_channels"] == 1
    assert record["degradation"]["_target_"] == "jointsr.data.degradation.Bicubic"
    assert record["name"] == "cave"


def test_eval_without_data_tests_on_the_checkpoints_dataset(cave_run, cli, tmp_path):
    """The trap of issue 14: a CAVE checkpoint evaluated without data= ran on RGB-NIR (the default)."""
    ckpt = cave_run / "checkpoints" / "last.ckpt"
    result = cli("eval", f"ckpt_path={ckpt}", "data.max_test_images=1", "data.test_crop=64", "logger=csv")
    assert result.code == 0, result.err[-2000:]
    document = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    assert document["data"] == "cave" and document["scale"] == 4
    # CAVE's first test scene (sorted), not an RGB-NIR image
    cave_tests = sorted(p.name for p in require_data("cave").iterdir() if p.is_dir())
    assert document["per_image"][0]["name"] in cave_tests
    assert "trained on data=cave" in result.err + result.out


def test_eval_on_another_dataset_only_when_asked(cave_run, cli, tmp_path):
    ckpt = cave_run / "checkpoints" / "last.ckpt"
    result = cli("eval", f"ckpt_path={ckpt}", "data=rgbnir", "data.max_test_images=1", "data.test_crop=64",
                 "logger=csv")
    assert result.code == 0, result.err[-2000:]
    assert json.loads((tmp_path / "run" / "test_metrics.json").read_text())["data"] == "rgbnir"
    assert "trained on data=cave: testing on data=rgbnir" in result.err + result.out


def test_eval_refuses_a_mismatched_guide_or_scale(cave_run, cli):
    ckpt = cave_run / "checkpoints" / "last.ckpt"
    line = assert_user_error(cli("eval", f"ckpt_path={ckpt}", "data.guide_channels=3", "logger=csv"),
                             "1-channel guide", "data.guide_channels=1")
    assert str(ckpt) in line
    assert_user_error(cli("eval", f"ckpt_path={ckpt}", "scale=x8", "logger=csv"), "x4 model", "scale=x4")


def test_eval_refuses_a_checkpoint_without_its_data_unless_data_is_given(cave_run, cli, tmp_path):
    checkpoint = torch.load(cave_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    del checkpoint["jointsr"]["data"]  # as written before checkpoints recorded their data
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    assert_user_error(cli("eval", f"ckpt_path={old}", "logger=csv"), "records no dataset", "data=")
    result = cli("eval", f"ckpt_path={old}", "data=cave", "data.max_test_images=1", "data.test_crop=64",
                 "logger=csv")
    assert result.code == 0, result.err[-2000:]


def test_bicubic_beside_the_result_equals_model_bicubic(cave_run, cli, tmp_path):
    """The bicubic columns are what jointsr-eval model=bicubic measures on the same images."""
    ckpt = cave_run / "checkpoints" / "last.ckpt"
    common = ["data.max_test_images=2", "data.test_crop=64", "logger=csv"]
    result = cli("eval", f"ckpt_path={ckpt}", *common)
    assert result.code == 0, result.err[-2000:]
    trained = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    gain = trained["mean"]["psnr"] - trained["bicubic"]["mean"]["psnr"]
    mean_line = next(line for line in result.out.splitlines() if line.startswith("mean "))
    assert f"{trained['bicubic']['mean']['psnr']:.2f}" in mean_line and f"{gain:+.2f}" in mean_line
    cached = list((tmp_path / "cache" / "bicubic").glob("cave_x4_*.json"))
    assert len(cached) == 1  # cached per dataset and scale
    result = cli("eval", "model=bicubic", "data=cave", *common)
    assert result.code == 0, result.err[-2000:]
    bicubic = json.loads((tmp_path / "run" / "test_metrics.json").read_text())
    for row in bicubic["per_image"]:
        assert trained["bicubic"]["per_image"][row["name"]]["psnr"] == pytest.approx(row["psnr"], abs=1e-9)
        assert trained["bicubic"]["per_image"][row["name"]]["ssim"] == pytest.approx(row["ssim"], abs=1e-9)
    assert trained["bicubic"]["mean"]["psnr"] == pytest.approx(bicubic["mean"]["psnr"], abs=1e-9)


def _pair(folder: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    """A real CAVE 640 nm crop (HR truth) and a prediction of it (bicubic from x4)."""
    band = read_image(require_data("cave") / "feathers" / "feathers_ms_25.png")
    hr = modcrop(band[100:180, 120:220], 4).astype(np.float64)
    lr = imresize(torch.from_numpy(hr), scale=0.25)
    prediction = imresize(lr, out_shape=hr.shape).numpy()
    gt_path = write_image(folder / "gt" / "feathers.png", hr, bits=16)
    pred_path = write_image(folder / "pred" / "feathers.png", prediction, bits=16)
    return pred_path, gt_path, read_image(pred_path), read_image(gt_path)


def test_score_of_files_and_folders_is_the_protocols(tmp_path, capsys, monkeypatch):
    pred_path, gt_path, prediction, truth = _pair(tmp_path)
    expected = evaluate_pair(prediction, truth)
    for args in ([str(pred_path), str(gt_path)], [str(pred_path.parent), str(gt_path.parent)]):
        result = run_main("score", args, capsys, monkeypatch)
        assert result.code == 0, result.err
        assert f"{expected['psnr']:.2f}" in result.out and f"{expected['ssim']:.4f}" in result.out
    # a folder pair with an unmatched file is refused, naming it
    write_image(tmp_path / "pred" / "extra.png", prediction, bits=16)
    assert_user_error(run_main("score", [str(tmp_path / "pred"), str(tmp_path / "gt")], capsys, monkeypatch),
                      "extra")


def test_score_refuses_images_of_different_sizes(tmp_path, capsys, monkeypatch):
    pred_path, gt_path, prediction, _ = _pair(tmp_path)
    small = write_image(tmp_path / "small.png", prediction[:40, :40], bits=16)
    assert_user_error(run_main("score", [str(small), str(gt_path)], capsys, monkeypatch), "small.png", "40x40")


def _feathers(folder: Path) -> tuple[Path, Path, np.ndarray]:
    """A real CAVE HR crop (640 nm band) and its RGB guide, as files; the band as read."""
    from PIL import Image

    data = require_data("cave") / "feathers"
    band = read_image(data / "feathers_ms_25.png")[100:182, 120:222]  # 102x82: not a multiple of 4
    truth = write_image(folder / "feathers_hr.png", band, bits=16)
    rgb = np.asarray(Image.open(data / "feathers_RGB.bmp"))[100:182, 120:222]
    guide = folder / "feathers_rgb.png"
    Image.fromarray(rgb).save(guide)
    return truth, guide, read_image(truth)


def test_predict_simulate_prints_the_protocols_psnr(cave_run, tmp_path, capsys, monkeypatch):
    """simulate=HR: modcrop, MATLAB bicubic x1/4, super-resolve, PSNR/SSIM against the HR image;
    written out here with the protocol's functions, step by step."""
    from jointsr.functional.color import rgb_to_y
    from jointsr.training.build import load_checkpoint_model

    truth_path, guide_path, band = _feathers(tmp_path)
    ckpt = cave_run / "checkpoints" / "last.ckpt"
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run_main("predict", [f"ckpt_path={ckpt}", f"simulate={truth_path}", f"guide={guide_path}",
                                  "device=cpu"], capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    hr = band[:80, :100]  # modcrop to x4
    lr = imresize(torch.from_numpy(hr.astype(np.float64)), scale=0.25).float()[None, None]
    guide = torch.from_numpy(rgb_to_y(read_image(guide_path)[:80, :100]))[None, None].float()
    net = load_checkpoint_model(ckpt).net.eval()
    with torch.inference_mode():
        prediction = net(lr, guide).clamp(0, 1)[0, 0].numpy()
    ours = evaluate_pair(prediction, hr)
    bicubic = evaluate_pair(imresize(lr, out_shape=hr.shape)[0, 0].numpy(), hr)
    line = next(line for line in result.out.splitlines() if "PSNR" in line)
    assert f"PSNR {ours['psnr']:.2f} dB, SSIM {ours['ssim']:.4f}" in line, line
    assert f"bicubic {bicubic['psnr']:.2f} dB" in line, line
    assert list(work.iterdir()) == []  # no out=: nothing written, no logs/ folder


def test_predict_writes_only_its_output(cave_run, tmp_path, capsys, monkeypatch):
    truth_path, guide_path, _ = _feathers(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = run_main("predict", [f"ckpt_path={cave_run / 'checkpoints' / 'last.ckpt'}", f"simulate={truth_path}",
                                  f"guide={guide_path}", "out=sr.png", "device=cpu"], capsys, monkeypatch)
    assert result.code == 0, result.err[-2000:]
    assert sorted(p.name for p in work.rglob("*")) == ["sr.png"]
    assert read_image(work / "sr.png").shape == (80, 100)
