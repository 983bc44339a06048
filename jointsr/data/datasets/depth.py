"""RGB-guided depth super-resolution sets: the target is depth (or disparity), the guide RGB.

Every loader returns the target as float32 in [0, 1]; the scaling per set:

============== ========================================= ==================================
set            target file                               scaling to [0, 1]
============== ========================================= ==================================
middlebury30   ``Depth/Middlebury_NN_output_depth.png``  8-bit disparity, /255
middlebury2005 ``<name>_clean.png``                      8-bit disparity, /255
lu6            ``Depth/RGBD_NN_output_depth.png``        8-bit depth, /255
nyuv2          ``Depth/NNNN.npy`` float32 metres, or     metres / ``max_depth`` (10 m, the
               ``Depth/NNNN.png`` 16-bit millimetres     Kinect's range), clipped to [0, 1]
sintel         ``NN.bmp``                                8-bit depth, /255
============== ========================================= ==================================

The guide is the RGB image (8-bit, /255); the DataModule turns it into luminance Y.

Protocol (``conf/data/depth_*.yaml``): train on middlebury30, test on one of
middlebury2005, lu6, nyuv2 (sample) or sintel. Besides PSNR/SSIM the tests report the
field's RMSE (``data.rmse_unit``, method.md section 10): on the 0-255 scale for the 8-bit
sets, in centimetres for NYU (``metres_per_unit``: the [0, 1] target times ``max_depth``;
the field min-max normalises NYU per image instead, which gives bicubic the same RMSE in cm,
bicubic interpolation being affine-equivariant, up to the clipping of its overshoot).

Six of the 30 Middlebury pairs are the 2005 test scenes at a third of the resolution
(checked by image correlation, 0.79-0.94 against < 0.34 for any other pair): they are left
out of middlebury30's training split, so no test scene is seen in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from jointsr.data.datasets.base import GuidedSRDataset
from jointsr.data.io import read_array
from jointsr.errors import ConfigError, InputError

MIDDLEBURY_PAGE = "https://vision.middlebury.edu/stereo/data/"

#: middlebury30 pairs showing a middlebury2005 test scene (same scene, a third of the size)
MIDDLEBURY30_SAME_AS_2005 = {"02": "art", "06": "book", "14": "dolls", "18": "laundry",
                             "21": "moebius", "24": "reindeer"}


class Middlebury30(GuidedSRDataset):
    """30 Middlebury 2005/2006 pairs (~370 x 430) used for training in guided depth SR papers.

    ``train``: the 24 pairs not showing a middlebury2005 test scene; ``all``: all 30.
    """

    name = "middlebury30"
    url = MIDDLEBURY_PAGE
    splits = {
        "train": [f"{i:02d}" for i in range(1, 31) if f"{i:02d}" not in MIDDLEBURY30_SAME_AS_2005],
        "all": [f"{i:02d}" for i in range(1, 31)],
    }

    def files(self, name: str) -> tuple[Path, Path]:
        return (self.root / "Depth" / f"Middlebury_{name}_output_depth.png",
                self.root / "RGB" / f"Middlebury_{name}_output_color.png")


class Middlebury2005(GuidedSRDataset):
    """Middlebury 2005: six scenes, ``<name>_clean.png`` disparity (HR target), ``<name>_color.png``."""

    name = "middlebury2005"
    url = "https://vision.middlebury.edu/stereo/data/scenes2005/"
    splits = {"test": ["art", "book", "dolls", "laundry", "moebius", "reindeer"]}

    def files(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}_clean.png", self.root / f"{name}_color.png"


class Lu6(GuidedSRDataset):
    """Lu et al., CVPR 2014: six 480 x 640 RGB-D pairs."""

    name = "lu6"
    url = "https://github.com/Zhaozixiang1228/GDSR-DCTNet (RawDatasets/Lu)"
    splits = {"test": [f"{i:02d}" for i in range(1, 7)]}

    def files(self, name: str) -> tuple[Path, Path]:
        depth = self.root / "Depth" / f"RGBD_{name}_output_depth.png"
        # the published files spell the colour images 'ouput'; accept both spellings
        guide = self.root / "RGB" / f"RGBD_{name}_output_color.png"
        misspelt = self.root / "RGB" / f"RGBD_{name}_ouput_color.png"
        return depth, (guide if guide.is_file() or not misspelt.is_file() else misspelt)


class NYUv2(GuidedSRDataset):
    """NYU Depth v2 test pairs (Silberman et al., ECCV 2012): depth in metres / ``max_depth``.

    ``subset="sample"``: the three pairs 1000-1002 of the shared copy; ``"full"``: the
    449 test pairs 1000-1448 as numbered in the guided depth SR literature.
    """

    name = "nyuv2"
    url = "https://cs.nyu.edu/~silberman/datasets/nyu_depth_v2.html"
    SUBSETS = {"sample": [str(i) for i in range(1000, 1003)],
               "full": [str(i) for i in range(1000, 1449)]}
    splits = {"test": SUBSETS["sample"]}

    def __init__(self, root: str | Path, max_depth: float = 10.0, subset: str = "sample",
                 splits: dict[str, Sequence[str]] | None = None, **kwargs) -> None:
        if subset not in self.SUBSETS:
            raise ConfigError(f"NYUv2 subset must be one of {sorted(self.SUBSETS)}, got {subset!r}")
        super().__init__(root, splits=splits or {"test": self.SUBSETS[subset]}, **kwargs)
        if not max_depth > 0:
            raise ConfigError(f"NYUv2 max_depth must be positive (metres), got {max_depth}")
        self.max_depth = float(max_depth)

    def files(self, name: str) -> tuple[Path, Path]:
        depth = self.root / "Depth" / f"{name}.npy"
        if not depth.is_file() and (self.root / "Depth" / f"{name}.png").is_file():
            depth = self.root / "Depth" / f"{name}.png"
        guide = self.root / "RGB" / f"{name}.jpg"
        if not guide.is_file() and (self.root / "RGB" / f"{name}.png").is_file():
            guide = self.root / "RGB" / f"{name}.png"
        return depth, guide

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "max_depth": self.max_depth}

    def metres_per_unit(self, name: str) -> float:
        """``max_depth`` for every image: the target is metres / max_depth (not min-max
        normalised per image), so the RMSE in cm is the [0, 1] RMSE x max_depth x 100."""
        return self.max_depth

    def read_target(self, path: Path) -> np.ndarray:
        raw = read_array(path)
        if raw.dtype == np.uint16:  # 16-bit PNG in millimetres
            metres = raw.astype(np.float32) / 1000.0
        elif np.issubdtype(raw.dtype, np.floating):  # float metres (.npy)
            metres = raw.astype(np.float32)
        else:
            raise InputError(f"{path}: NYU depth must be float metres (.npy) or 16-bit millimetres "
                             f"(.png), got dtype {raw.dtype}")
        if metres.ndim != 2:
            raise InputError(f"{path}: NYU depth must be (H, W), got {metres.shape}")
        if not np.isfinite(metres).all():
            raise InputError(f"{path}: NYU depth holds NaN or infinite values; fill the holes first")
        return np.clip(metres / self.max_depth, 0.0, 1.0)


class Sintel(GuidedSRDataset):
    """Four MPI-Sintel frames (Butler et al., ECCV 2012): ``NN.bmp`` 8-bit depth, ``NN.png`` RGB."""

    name = "sintel"
    url = "http://sintel.is.tue.mpg.de/depth"
    splits = {"test": ["05", "06", "07", "08"]}

    def files(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}.bmp", self.root / f"{name}.png"
