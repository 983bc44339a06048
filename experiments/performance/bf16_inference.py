"""Is bf16 inference as exact as the paper protocol needs? Test PSNR of trained checkpoints on
their whole test set in fp32 and under bf16 autocast, per image and in the mean.

    python experiments/performance/bf16_inference.py CKPT [CKPT ...] [--data cave --scale 4]
        [--out experiments/performance/bf16_inference.csv]

A checkpoint is a file of jointsr-train or a shipped task name (cave_x4, ...). Writes one row per
checkpoint and image: ``checkpoint,image,psnr_fp32,psnr_bf16,max_abs_difference``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import hydra
import torch
from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.metrics.protocol import evaluate_pair
from jointsr.pretrained import checkpoint_path, shipped
from jointsr.inference.tiling import forward_any_size
from jointsr.training.build import load_checkpoint_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data", default="cave")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "bf16_inference.csv")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("eval", overrides=[f"data={args.data}", f"scale=x{args.scale}"])
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()
    datamodule.setup("test")
    rows = []
    for name in args.checkpoints:
        path = checkpoint_path(name) if name in shipped() else Path(name)
        net = load_checkpoint_model(path, args.scale).net.eval()
        for batch in datamodule.test_dataloader():
            with torch.inference_mode():
                fp32 = forward_any_size(net, batch["lr"], batch["guide"], progress=False).float()
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    bf16 = forward_any_size(net, batch["lr"], batch["guide"], progress=False).float()
            rows.append({"checkpoint": name, "image": batch["name"][0],
                         "psnr_fp32": round(evaluate_pair(fp32[0], batch["hr"][0])["psnr"], 4),
                         "psnr_bf16": round(evaluate_pair(bf16[0], batch["hr"][0])["psnr"], 4),
                         "max_abs_difference": float((fp32.clamp(0, 1) - bf16.clamp(0, 1)).abs().max())})
            print(rows[-1], flush=True)
    with args.out.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in args.checkpoints:
        mine = [r for r in rows if r["checkpoint"] == name]
        mean = {k: sum(r[k] for r in mine) / len(mine) for k in ("psnr_fp32", "psnr_bf16")}
        print(f"{name}: fp32 {mean['psnr_fp32']:.3f} dB, bf16 {mean['psnr_bf16']:.3f} dB "
              f"({mean['psnr_bf16'] - mean['psnr_fp32']:+.3f}), worst pixel {max(r['max_abs_difference'] for r in mine):.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
