"""Which tensor's first Adam step loses jointsr_paper's calibrated start?

    python experiments/paper_tables/start/first_step.py [--seed 1]  ->  first_step.csv

The paper network on CAVE x4 (paper protocol), calibrated as jointsr-train calibrates it (128
seeded training patches); the gradient of the MSE on the first training batch; then, one
tensor at a time, Adam's first update ``-lr * sign(g)`` (lr 1e-4; both moments are one gradient
old) at the raw rate and at the equalized rate ``lr / sqrt(fan_in)`` of ``equalized_lr``, and the
validation PSNR after it. Last rows: every tensor at once, each way.
"""

from __future__ import annotations

import argparse
import copy
import csv
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.models.network import equalized_scales
from jointsr.training.build import build_model

HERE = Path(__file__).resolve().parent


def validation_psnr(net, loader) -> float:
    values = []
    with torch.no_grad():
        for batch in loader:
            mse = (net(batch["lr"], batch["guide"]).clamp(0, 1) - batch["hr"]).square().mean()
            values.append(float(10 * torch.log10(1 / mse)))
    return sum(values) / len(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--out", type=Path, default=HERE / "first_step.csv")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=paper_protocol", "data=cave", "scale=x4", "model=jointsr_paper",
                                          f"seed={args.seed}"])
    datamodule = hydra.utils.instantiate(cfg.data)
    L.seed_everything(args.seed, workers=True, verbose=False)
    net = build_model(cfg.model).net
    datamodule.prepare_data()
    datamodule.setup("fit")
    start = datamodule.calibration_batch(cfg.model.calibration_patches)
    net.calibrate(start["lr"], start["guide"], start["hr"])
    loader = datamodule.val_dataloader()
    batch = next(iter(datamodule.train_dataloader()))
    torch.nn.functional.mse_loss(net(batch["lr"], batch["guide"]), batch["hr"]).backward()
    signs = {name: p.grad.sign() for name, p in net.named_parameters()}
    weights = copy.deepcopy(net.state_dict())
    scales = equalized_scales(net)
    rows = [{"tensor": "(none)", "shape": "", "fan_in_scale": "", "psnr_raw_step": "", "psnr_equalized_step": "",
             "psnr_start": round(validation_psnr(net, loader), 3)}]

    def stepped(names) -> float:
        net.load_state_dict(weights)
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name in names:
                    p.sub_(args.lr * rate[name] * signs[name])
        return round(validation_psnr(net, loader), 3)

    names = [name for name, _ in net.named_parameters()]
    for name, parameter in net.named_parameters():
        rate = {n: 1.0 for n in names}
        raw = stepped({name})
        rate = {n: scales.get(n, 1.0) for n in names}
        rows.append({"tensor": name, "shape": "x".join(map(str, parameter.shape)),
                     "fan_in_scale": round(scales.get(name, 1.0), 5), "psnr_raw_step": raw,
                     "psnr_equalized_step": stepped({name}), "psnr_start": rows[0]["psnr_start"]})
        print(rows[-1], flush=True)
    rate = {n: 1.0 for n in names}
    raw = stepped(set(names))
    rate = {n: scales.get(n, 1.0) for n in names}
    rows.append({"tensor": "(all)", "shape": "", "fan_in_scale": "", "psnr_raw_step": raw,
                 "psnr_equalized_step": stepped(set(names)), "psnr_start": rows[0]["psnr_start"]})
    with args.out.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
