"""Does a trained CoISTA depend on where its patch grid sits on the LR sampling grid? (issue 12)

For one finished run (its ``checkpoints/last.ckpt``) this tests the final weights on the
whole test images of the run's data and scale:

- at several test strides of the patch grid (1: every overlapping patch, the official test);
- at the training stride with the grid started at each phase ``o`` in ``[0, stride)``
  (the image and the guide cropped by ``o`` rows and columns, then cut to what the grid
  covers; PSNR on the same crop of the HR image).

A network that learned every phase gives the same PSNR at every phase; one trained with its
grid always at the crop's corner (``grid_phase=fixed``, the crops starting on multiples of the
scale) is good at phase 0 only, and the stride-1 test averages its good and its bad phases.

Usage: python experiments/paper_tables/coista_phase.py RUN_DIR [--strides 1,4,8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch


def _mean_psnr(values: list[float]) -> float:
    return sum(values) / len(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished jointsr-train run folder of model=coista")
    parser.add_argument("--strides", default="1,4,8", help="test strides of the patch grid (comma-separated)")
    args = parser.parse_args(argv)
    checkpoint = args.run / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        print(f"coista_phase.py: {checkpoint} is missing: give a finished run folder of model=coista", file=sys.stderr)
        return 2

    import hydra
    from omegaconf import OmegaConf

    from jointsr.functional.imresize import imresize
    from jointsr.metrics.protocol import evaluate_pair, psnr
    from jointsr.training.build import load_checkpoint_model

    module = load_checkpoint_model(checkpoint).eval()
    net = module.net
    if type(net).__name__ != "CoISTA":
        print(f"coista_phase.py: {args.run} is a run of {type(net).__name__}, not CoISTA", file=sys.stderr)
        return 2
    config = OmegaConf.load(args.run / ".hydra" / "config.yaml")
    config.data.max_test_images = None
    datamodule = hydra.utils.instantiate(config.data)
    datamodule.setup("test")
    batches = list(datamodule.test_dataloader())
    p, train_stride = net.patch_size, net.patch_stride
    phase_rule = config.model.net.get("grid_phase", "fixed (the only grid before the option)")
    print(f"{args.run.name}: CoISTA p={p}, training stride {train_stride}, grid_phase {phase_rule}; "
          f"{len(batches)} test images")
    with torch.no_grad():
        for stride in (int(s) for s in args.strides.split(",") if s.strip()):
            net.eval_patch_stride, start = stride, time.time()
            values = [evaluate_pair(net(b["lr"], b["guide"]).clamp(0, 1)[0, 0].numpy(), b["hr"][0, 0].numpy())["psnr"]
                      for b in batches]
            print(f"test stride {stride}: {_mean_psnr(values):.3f} dB ({time.time() - start:.0f} s)", flush=True)
        net.eval_patch_stride = train_stride  # grid_average cuts the grid at the current stride
        for phase in range(train_stride):
            values = []
            for b in batches:
                up = imresize(b["lr"], scale=net.scale)[..., phase:, phase:]
                guide, hr = b["guide"][..., phase:, phase:], b["hr"][..., phase:, phase:]
                h = p + train_stride * ((up.shape[-2] - p) // train_stride)
                w = p + train_stride * ((up.shape[-1] - p) // train_stride)
                prediction = net.grid_average(up[..., :h, :w], guide[..., :h, :w]).clamp(0, 1)
                values.append(psnr(prediction[0, 0].numpy(), hr[0, 0, :h, :w].numpy()))
            print(f"grid phase {phase} at stride {train_stride}: {_mean_psnr(values):.3f} dB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
