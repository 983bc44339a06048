"""Bicubic upsampling on every test set and scale, per image: ``bicubic.csv`` beside this file.

What ``jointsr-eval model=bicubic data=<data> scale=<scale>`` computes, for the 16 tasks of the
README, in one process: each task's DataModule from the composed Hydra config (its test images,
modcrop, the MATLAB-bicubic degradation), ``imresize`` of the LR target to the HR size, then
the protocol's metrics (:func:`jointsr.metrics.protocol.evaluate_pair`: prediction clipped to
[0, 1], PSNR, SSIM as published, plain SSIM, and for the depth sets the RMSE on the whole image
and without the ``data.rmse_border`` frame, in ``data.rmse_unit``, as ``test_metrics.json``
holds them).

Usage: JOINTSR_DATA_DIR=/path/to/data python experiments/bicubic/bicubic.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.evaluation.results import test_metrics
from jointsr.files import write_csv_atomic
from jointsr.functional.imresize import imresize
from jointsr.metrics.protocol import evaluate_pair

OUT = Path(__file__).resolve().parent / "bicubic.csv"
TASKS = [("cave", 4), ("cave", 8), ("rgbnir", 2), ("rgbnir", 4)] + [
    (f"depth_{name}", scale) for name in ("middlebury", "lu6", "nyu", "sintel") for scale in (4, 8, 16)]
COLUMNS = ["data", "test_set", "scale", "image", "psnr", "ssim", "ssim_plain", "rmse_unit", "rmse_border",
           "rmse", "rmse_crop"]


def task_rows(data: str, scale: int) -> list[dict]:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="eval", overrides=["model=bicubic", f"data={data}", f"scale=x{scale}"])
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    rows = []
    for batch in datamodule.test_dataloader():
        hr = batch["hr"]
        prediction = imresize(batch["lr"], out_shape=tuple(hr.shape[-2:])).float().clamp(0.0, 1.0)  # as the test step
        for index in range(hr.shape[0]):
            metrics = evaluate_pair(prediction[index, 0].numpy(), hr[index, 0].float().numpy(),
                                    border=datamodule.rmse_border)
            rows.append({"name": str(batch["name"][index]), **metrics})
    document = test_metrics("bicubic", datamodule.name, scale, rows, rmse_unit=datamodule.rmse_unit,
                            rmse_scales=datamodule.rmse_scales(), rmse_border=datamodule.rmse_border)
    return [{"data": data, "test_set": document["data"], "scale": scale, "image": item["name"],
             **{key: f"{item[key]:.6f}" for key in ("psnr", "ssim", "ssim_plain")},
             "rmse_unit": datamodule.rmse_unit or "",
             "rmse_border": datamodule.rmse_border if datamodule.rmse_unit else "",
             **{key: f"{item[key]:.6f}" if key in item else "" for key in ("rmse", "rmse_crop")}}
            for item in document["per_image"]]


def main() -> int:
    rows = []
    for data, scale in TASKS:
        rows += task_rows(data, scale)
        print(f"{data} x{scale}: {sum(1 for row in rows if row['data'] == data and row['scale'] == scale)} images")
    write_csv_atomic(OUT, rows, COLUMNS)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
