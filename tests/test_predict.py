"""jointsr-predict on a real image pair with a checkpoint trained by the real pipeline."""

import numpy as np
import pytest
import torch

from conftest import require_data
from jointsr.data.imresize import imresize, modcrop
from jointsr.data.io import read_image, write_image
from jointsr.predict import predict, prepare_inputs
from jointsr.train import train


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
                                          f"out={out}"])
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
    lr, guide = prepare_inputs(target, np.zeros((43, 50, 3), dtype=np.float32), 4, 1)
    assert lr.shape == (1, 1, 10, 12) and guide.shape == (1, 1, 40, 48)
    _, rgb = prepare_inputs(target, np.zeros((40, 48), dtype=np.float32), 4, 3)
    assert rgb.shape == (1, 3, 40, 48)
