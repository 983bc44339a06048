"""The README's picture: a shipped model on a real test image, bicubic | ours | truth | error.

The HR band of a CAVE test scene is degraded with the protocol's MATLAB bicubic (as
``jointsr-predict simulate=``), super-resolved with the shipped weights (tiled inference),
and a crop of bicubic, the prediction, the truth and both absolute errors (x10) is drawn
with each whole image's PSNR.

    python experiments/pretrained/picture.py [--task cave_x4] [--scene feathers] [--out picture.png]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from jointsr.data.io import read_image
from jointsr.functional.imresize import imresize
from jointsr.metrics.protocol import evaluate_pair
from jointsr.inference.inputs import prepare_inputs, simulate_target
from jointsr.pretrained import TASKS, checkpoint_path
from jointsr.inference.tiling import tiled_forward
from jointsr.training.build import load_checkpoint_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cave_x4", choices=[name for name, task in TASKS.items()
                                                               if task.data == "cave"])
    parser.add_argument("--scene", default="feathers", help="a CAVE test scene")
    parser.add_argument("--crop", type=int, nargs=4, default=[96, 224, 256, 256], metavar=("TOP", "LEFT", "H", "W"))
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("picture.png"))
    args = parser.parse_args()

    from jointsr.data.datasets.cave import CAVE

    cave = CAVE(Path(os.environ.get("JOINTSR_DATA_DIR", "data")).expanduser() / "cave")
    band_file, rgb_file = cave.files(args.scene)  # the dataset's own layouts (band 25, 640 nm)
    model = load_checkpoint_model(checkpoint_path(args.task))
    net = model.net.eval()
    lr, truth = simulate_target(read_image(band_file), net.scale, args.scene)
    lr_target, hr_guide = prepare_inputs(lr, read_image(rgb_file), net.scale,
                                         net.guide_channels)
    with torch.inference_mode():
        prediction = tiled_forward(net, lr_target, hr_guide, 256).clamp(0, 1)[0, 0].numpy()
    bicubic = imresize(lr_target, out_shape=truth.shape)[0, 0].clamp(0, 1).numpy()
    ours, reference = evaluate_pair(prediction, truth), evaluate_pair(bicubic, truth)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top, left, height, width = args.crop
    window = (slice(top, top + height), slice(left, left + width))
    panels = [(bicubic, f"bicubic {reference['psnr']:.2f} dB"), (prediction, f"JointSR {ours['psnr']:.2f} dB"),
              (truth, "truth (640 nm)"), (10 * np.abs(bicubic - truth), "|bicubic - truth| x10"),
              (10 * np.abs(prediction - truth), "|JointSR - truth| x10")]
    figure, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.75))
    for axis, (image, title) in zip(axes, panels):
        axis.imshow(np.clip(image[window], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axis.set_title(title, fontsize=8)
        axis.axis("off")
    figure.suptitle(f"CAVE {args.scene}, x{net.scale}, shipped weights pretrained={args.task} "
                    f"(PSNR of the whole image; crop shown)", fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=110)
    print(f"{args.scene} x{net.scale}: JointSR {ours['psnr']:.2f} dB / {ours['ssim']:.4f}, bicubic "
          f"{reference['psnr']:.2f} dB / {reference['ssim']:.4f}; wrote {args.out}")


if __name__ == "__main__":
    main()
