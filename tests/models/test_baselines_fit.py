"""Every model trains and tests through the real pipeline on real data, and every trainable
model learns: after a few dozen steps on a batch of real training crops it beats bicubic
on those crops (a broken loss, gradient or wiring cannot)."""

import json

import discovery
import hydra
import lightning as L
import numpy as np
import pytest
import torch
from conftest import compose_config, require_data
from torch.utils.data import DataLoader

from jointsr.cli.train import train
from jointsr.functional.imresize import imresize
from jointsr.metrics.protocol import psnr
from jointsr.training.build import build_model

#: per shipped model: small widths (each fit takes seconds; the loss and every switch stay the
#: model's own), Adam's rate, the steps, and what it must reach on its training crops: beat
#: bicubic, or gain this many dB on every supervised output
FITS = {
    # networks that refine an interpolation (bicubic input, or a learned skip): beat bicubic
    "lmcsc": (["model.net.k=8", "model.net.K=3"], 1e-3, 60, "bicubic"),
    "coista": (["model.net.atoms=64"], 1e-3, 60, "bicubic"),
    "djf": ([], 1e-3, 60, "bicubic"),
    "jointsr": (["model.net.k=8", "model.net.K=3"], 2e-3, 150, "bicubic"),
    # networks that must learn the interpolation itself (no bicubic path: the paper's network;
    # SRFBN's residual on bilinear) pass bicubic only after hundreds of steps (method.md
    # section 9): they must gain a lot on every supervised output instead (SRFBN, which
    # starts from bilinear, less)
    "srfbn": (["model.net.num_features=8", "model.net.num_groups=2"], 1e-3, 60, 1.5),
    # RAdam (its shipped optimiser) steps at a fraction of the rate over its first hundreds of
    # steps (the rectification r_t, 0.23 at step 120): a higher rate, more steps; without its
    # 100-step ramp, which guards a calibrated start this test does not measure
    "jointsr_paper": (["model.net.k=8", "model.net.K=3", "model.warmup_steps=0"], 3e-3, 120, 5.0),
}
#: any other model config with parameters: narrowed, 60 steps at 1e-3, 1 dB on every output
DEFAULT_GAIN = 1.0
CROPS = 16


@pytest.mark.slow
@pytest.mark.parametrize("model", discovery.MODELS)
def test_fast_dev_run_on_real_data(compose_cfg, tmp_path, model):
    require_data("rgbnir")
    overrides = [f"model={model}", *discovery.narrow(model), "debug=fast", "+trainer.fast_dev_run=true",
                 "logger=csv", "data.test_crop=64"]
    cfg = compose_cfg("train", overrides)
    train(cfg)
    document = json.loads((tmp_path / "test_metrics.json").read_text())
    assert document["model"] == model and document["scale"] == 4
    assert len(document["per_image"]) == 1
    row = document["per_image"][0]
    assert np.isfinite([row["psnr"], row["ssim"], row["ssim_plain"]]).all()
    if model == "bicubic":  # the pipeline's number is MATLAB bicubic on that crop, computed here
        datamodule = hydra.utils.instantiate(cfg.data)
        datamodule.setup("test")
        item = datamodule.test_set[0]
        upsampled = imresize(item["lr"][None], scale=4).clamp(0, 1)[0, 0]
        assert row["name"] == item["name"]
        assert row["psnr"] == pytest.approx(psnr(upsampled.numpy(), item["hr"][0].numpy()), abs=1e-6)


@pytest.fixture(scope="module")
def training_crops(tmp_path_factory):
    """16 real RGB-NIR x4 training crops (44 x 44 HR), one batch."""
    require_data("rgbnir")
    folder = tmp_path_factory.mktemp("crops")
    cfg = compose_config("train", ["data.store=false", "data.progress=false", f"data.max_train_patches={CROPS}"],
                         folder)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    batch = next(iter(DataLoader(datamodule.train_set, batch_size=CROPS)))
    return {key: batch[key] for key in ("lr", "guide", "hr")}


def _mean_psnr(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    prediction = prediction.clamp(0, 1)
    return float(np.mean([psnr(p[0].numpy(), t[0].numpy()) for p, t in zip(prediction, truth)]))


def _fit(module, batch: dict, steps: int) -> None:
    trainer = L.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=DataLoader([dict(batch, name="crops")] * steps, batch_size=None))


def _step_psnrs(module, batch: dict) -> list[float]:
    """PSNR of every supervised output (every feedback step of SRFBN: its step_weights), the
    last one last."""
    net = module.net
    with torch.no_grad():
        net.eval()
        outputs = net.forward_steps(batch["lr"], batch["guide"]) if module.step_weights \
            else [net(batch["lr"], batch["guide"])]
        net.train()
    return [_mean_psnr(output, batch["hr"]) for output in outputs]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning: tiny loader, no validation set
@pytest.mark.parametrize("model", discovery.MODELS)
def test_every_model_learns_its_training_crops(model, training_crops, tmp_path):
    """The model's own config (its loss: L1 on every feedback step for SRFBN, MSE otherwise),
    Adam at a constant rate on one batch of 16 real crops (a network that needs a calibration
    is calibrated on it first). After the budget a network with an interpolation path must
    beat MATLAB bicubic on those crops by 0.5 dB and its untrained self by 1 dB; one without
    must gain 5 dB (1.5 dB for SRFBN, which starts from bilinear) on every supervised output;
    a model config with no budget in FITS, 1 dB."""
    overrides, rate, steps, floor = FITS.get(model, (discovery.narrow(model), 1e-3, 60, DEFAULT_GAIN))
    cfg = compose_config("train", [f"model={model}", *overrides, f"model.optimizer.lr={rate}", "model.scheduler=null"],
                         tmp_path)
    L.seed_everything(0, verbose=False)
    module = build_model(cfg.model)
    if not module.has_parameters:
        pytest.skip(f"model={model} has no parameters to learn")
    batch = training_crops
    bicubic = _mean_psnr(imresize(batch["lr"], scale=4), batch["hr"])
    start = _step_psnrs(module, batch)
    _fit(module, batch, steps)
    fitted = _step_psnrs(module, batch)
    report = f"{model}: {', '.join(f'{a:.2f}' for a in start)} -> {', '.join(f'{b:.2f}' for b in fitted)} dB " \
             f"after {steps} steps; bicubic {bicubic:.2f} dB"
    if floor == "bicubic":
        assert fitted[-1] > bicubic + 0.5 and fitted[-1] > start[-1] + 1.0, report
    else:
        assert all(after > before + floor for before, after in zip(start, fitted)), report
