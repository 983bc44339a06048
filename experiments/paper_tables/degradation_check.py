"""Can a per-image correlation with our bicubic tell LR degradations apart? (RGB-NIR x4)

For the 8 RGB-NIR test images (the dataset's own split and files, modcropped to the scale as
every test is), bicubic upsampling (MATLAB ``imresize``, as ``model=bicubic``) of the LR image
made by each of four degradations, scored with the protocol's PSNR (prediction clipped to
[0, 1], whole image):

- ``ours``: MATLAB bicubic ``imresize(hr, 1/4)`` with antialiasing (``data.degradation``'s
  default, :class:`jointsr.data.degradation.Bicubic`);
- ``decimation``: every 4th HR pixel, no filter, the one nearest the centre of its 4 x 4 block
  (``hr[1::4, 1::4]``; the LR pixel centre of MATLAB's grid is at 1.5);
- ``decimation_corner``: the same at the block's corner (``hr[::4, ::4]``, a grid shifted by
  1.5 HR pixels against the one bicubic upsampling assumes);
- ``gauss1``, ``gauss2``: Gaussian blur of sigma 1 or 2 HR pixels, then decimation on the
  LR grid of MATLAB's (:class:`jointsr.data.degradation.GaussianBlur`).

Writes ``degradation_check.csv`` beside this file (one row per image: the PSNR under each);
``tables.py`` adds the paper's SRFBN per-image PSNR and the correlations.

Usage: JOINTSR_DATA_DIR=/path/to/data python experiments/paper_tables/degradation_check.py
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

from jointsr.data.datasets import RGBNIR
from jointsr.data.degradation import Bicubic, GaussianBlur
from jointsr.functional.imresize import imresize, modcrop
from jointsr.metrics.protocol import psnr

SCALE = 4
OUT = Path(__file__).resolve().parent / "degradation_check.csv"


def decimate(hr: np.ndarray, scale: int, offset: int) -> np.ndarray:
    return np.ascontiguousarray(hr[offset::scale, offset::scale])


DEGRADATIONS = {
    "ours": lambda hr: Bicubic()(hr, SCALE),
    "decimation": lambda hr: decimate(hr, SCALE, (SCALE - 1) // 2),
    "decimation_corner": lambda hr: decimate(hr, SCALE, 0),
    "gauss1": lambda hr: GaussianBlur(sigma=1.0)(hr, SCALE),
    "gauss2": lambda hr: GaussianBlur(sigma=2.0)(hr, SCALE),
}


def bicubic_psnr(hr: np.ndarray, lr: np.ndarray) -> float:
    upsampled = imresize(lr.astype(np.float64), out_shape=hr.shape)
    return psnr(np.clip(upsampled, 0.0, 1.0), hr)


def main() -> int:
    data_dir = os.environ.get("JOINTSR_DATA_DIR")
    if not data_dir:
        print("degradation_check.py: set JOINTSR_DATA_DIR to the folder holding rgbnir/", file=sys.stderr)
        return 2
    dataset = RGBNIR(Path(data_dir) / "rgbnir")
    rows = []
    for name in dataset.names("test"):
        target, _ = dataset.load(name)
        hr = np.ascontiguousarray(modcrop(target, SCALE), dtype=np.float64)
        rows.append({"image": name, **{key: f"{bicubic_psnr(hr, degrade(hr)):.4f}"
                                       for key, degrade in DEGRADATIONS.items()}})
    with OUT.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["image", *DEGRADATIONS])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
