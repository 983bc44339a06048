"""jointsr-predict on a real image pair with a checkpoint trained by the real pipeline."""

import numpy as np
import pytest
import torch
from conftest import require_data

from jointsr.cli.predict import predict
from jointsr.cli.train import train
from jointsr.data.io import read_image, write_image
from jointsr.functional.imresize import imresize, modcrop
from jointsr.inference.inputs import prepare_inputs


@pytest.mark.slow
def test_predict_writes_the_super_resolved_image(compose_cfg, tmp_path):
    data = require_data("rgbnir")
    cfg = compose_cfg("train", ["model.net.k=8", "model.net.K=3", "logger=csv", "debug=fast",
                                "trainer.max_steps=2", "trainer.val_check_interval=2", "test=false"])
    train(cfg)
    nir = modcrop(read_image(data / "urban" / "0004_nir.tiff"), 4)
    lr = imresize(torch.from_numpy(nir.astype(np.float64)), scale=0.25).numpy()
    target = write_image(tmp_path / "nir_lr.png", lr, bits=16)
    out = tmp_path / "out" / "nir_sr.png"
    predict_cfg = compose_cfg("predict", [f"ckpt_path={tmp_path / 'checkpoints' / 'last.ckpt'}",
                                          f"target={target}", f"guide={data / 'urban' / '0004_rgb.tiff'}",
                                          f"out={out}", "geometry=crop"])  # the LR of the modcropped NIR
    predict(predict_cfg)
    result = read_image(out)
    assert result.shape == nir.shape  # the guide's 2 extra columns were cropped
    assert not list(out.parent.glob("*.partial*"))
    # an untrained-ish tiny model still starts from interpolation: close to the truth
    assert np.abs(result - nir).mean() < 0.1


def test_guide_of_the_wrong_size_is_named():
    target = np.zeros((10, 12), dtype=np.float32)
    with pytest.raises(ValueError, match=r"rgb.png is 40x40 .* must be x4 .* 48x40"):
        prepare_inputs(target, np.zeros((40, 40, 3), dtype=np.float32), 4, 1, "t.png", "rgb.png")
    lr, guide, _ = prepare_inputs(target, np.zeros((43, 50, 3), dtype=np.float32), 4, 1, geometry="crop")
    assert lr.shape == (1, 1, 10, 12) and guide.shape == (1, 1, 40, 48)
    _, rgb, _ = prepare_inputs(target, np.zeros((40, 48), dtype=np.float32), 4, 3)
    assert rgb.shape == (1, 3, 40, 48)


def test_a_grey_target_saved_as_rgb_is_read_as_grey_a_colour_one_is_refused():
    from jointsr.errors import InputError

    grey = np.random.default_rng(0).random((10, 12)).astype(np.float32)
    lr, _, _ = prepare_inputs(np.repeat(grey[..., None], 3, axis=2), np.zeros((40, 48, 3), np.float32), 4, 1)
    assert torch.equal(lr[0, 0], torch.from_numpy(grey))
    colour = np.stack([grey, grey, 1 - grey], axis=2)
    with pytest.raises(InputError, match="single-channel .* colour"):
        prepare_inputs(colour, np.zeros((40, 48, 3), np.float32), 4, 1, "t.png")


def test_the_memory_estimate_grows_with_the_pixels_and_refuses_with_the_numbers():
    from omegaconf import OmegaConf

    from jointsr.errors import ResourceError
    from jointsr.inference.inputs import check_memory
    from jointsr.inference.memory import estimate_forward_bytes, forward_peak_bytes
    from jointsr.training.build import build_model

    cfg = OmegaConf.create({"_target_": "jointsr.training.module.SRModule", "name": "jointsr", "net": {
        "_target_": "jointsr.models.jointsr.JointSR", "scale": 4, "k": 8, "K": 3, "form": "factorised",
        "global_skip": True}})
    net = build_model(cfg).net.eval()
    cpu = torch.device("cpu")
    small, large = estimate_forward_bytes(net, 100, 100, 1, 4, cpu), estimate_forward_bytes(net, 400, 400, 1, 4, cpu)
    assert 12 < large / small < 17  # about the ratio of the pixel counts (16), weights aside
    measured = forward_peak_bytes(net, 64, 1, 4, cpu)  # a real forward pass, measured
    assert measured <= estimate_forward_bytes(net, 64, 64, 1, 4, cpu) < 2 * measured
    check_memory(net, torch.zeros(1, 1, 30, 40), 1, cpu, limit_gb=10.0)  # fits: no error
    with pytest.raises(ResourceError, match=r"40x30 target at x4 \(160x120\) needs about .* GB .* tiles"):
        check_memory(net, torch.zeros(1, 1, 30, 40), 1, cpu, limit_gb=1e-6)


def test_a_target_no_larger_than_the_probes_is_not_estimated_without_a_limit(monkeypatch):
    from jointsr.inference import inputs
    from jointsr.inference.memory import PROBE_SIDES

    probed = []
    monkeypatch.setattr(inputs, "estimate_forward_bytes", lambda *args: probed.append(args[1:3]) or 1)
    net, cpu, side = torch.nn.Identity(), torch.device("cpu"), PROBE_SIDES[-1]
    net.scale = 4
    inputs.check_memory(net, torch.zeros(1, 1, side, side), 1, cpu, limit_gb=None)  # as large as a probe: run it
    assert probed == []
    inputs.check_memory(net, torch.zeros(1, 1, side, side + 1), 1, cpu, limit_gb=None)  # larger: estimated
    inputs.check_memory(net, torch.zeros(1, 1, 8, 8), 1, cpu, limit_gb=10.0)  # a limit given: always estimated
    assert probed == [(side, side + 1), (8, 8)]
