"""Guided super-resolution datasets: one class per dataset, sharing :class:`GuidedSRDataset`.

A dataset knows its files, its official split and how to turn a file into floats in
[0, 1]: ``load(name) -> (target (H, W), rgb guide (H, W, 3))``. Everything after that
(crop, degradation, guide conversion, patches) is shared by :mod:`jointsr.data.scenes`.
Adding a dataset means one subclass here and one config in ``conf/data/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from jointsr.data.io import read_image


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are missing and could not be fetched."""


class GuidedSRDataset:
    """Base class: a folder of (target, RGB guide) pairs with named splits."""

    #: short name used in configs, logs and result files
    name: str = "dataset"
    #: official split, image names per split
    splits: dict[str, Sequence[str]] = {}
    #: where the publisher distributes the data (for messages and downloads)
    url: str | None = None

    def __init__(self, root: str | Path, splits: dict[str, Sequence[str]] | None = None) -> None:
        self.root = Path(root).expanduser()
        self.splits = {key: list(value) for key, value in (splits or type(self).splits).items()}

    # -- files -------------------------------------------------------------------------
    def files(self, name: str) -> tuple[Path, Path]:
        """The (target, guide) files of one image."""
        raise NotImplementedError

    def names(self, split: str) -> list[str]:
        if split not in self.splits:
            raise KeyError(f"{self.name} has no split {split!r}; known: {sorted(self.splits)}")
        return list(self.splits[split])

    def missing(self, names: Sequence[str] | None = None) -> list[Path]:
        """Files of the given (default: every split's) images that do not exist."""
        names = names if names is not None else [n for s in self.splits.values() for n in s]
        return [path for name in names for path in self.files(name) if not path.is_file()]

    def is_available(self) -> bool:
        return not self.missing()

    def download(self) -> None:
        """Fetch the publisher's archive into ``root`` (datasets that can override this)."""
        raise DatasetNotFoundError(self._not_found_message())

    def _not_found_message(self) -> str:
        missing = self.missing()
        shown = ", ".join(str(p) for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        where = f" from {self.url}" if self.url else ""
        return (f"{self.name}: {len(missing)} file(s) missing under {self.root} ({shown}). "
                f"Set JOINTSR_DATA_DIR (or paths.data_dir=...) to the folder that holds "
                f"'{self.root.name}/', or download the dataset{where}.")

    def ensure_available(self) -> None:
        """Download when files are missing; raise a clear error when that is impossible."""
        if not self.is_available():
            self.download()
        if not self.is_available():
            raise DatasetNotFoundError(self._not_found_message())

    # -- pixels ------------------------------------------------------------------------
    def load(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(target (H, W) float32 in [0,1], guide RGB (H, W, 3) float32 in [0,1])``."""
        target_path, guide_path = self.files(name)
        target, guide = read_image(target_path), read_image(guide_path)
        if target.ndim == 3:
            raise ValueError(f"{target_path}: the target must be single-channel, got {target.shape}")
        if guide.ndim == 2:  # a grey guide acts as R = G = B
            guide = np.repeat(guide[..., None], 3, axis=2)
        if guide.shape[:2] != target.shape:
            raise ValueError(f"{self.name}/{name}: target {target_path.name} is {target.shape} but "
                             f"guide {guide_path.name} is {guide.shape[:2]}")
        return target, guide


class RGBNIR(GuidedSRDataset):
    """EPFL RGB-NIR Scene dataset: NIR target guided by RGB (Brown & Suesstrunk, CVPR 2011).

    Layout of the official ``nirscene1`` archive: ``<category>/<id>_nir.tiff`` and
    ``<category>/<id>_rgb.tiff``; names are ``<category>/<id>``. Split of the paper's table.
    """

    name = "rgbnir"
    url = "http://ivrl.epfl.ch/supplementary_material/cvpr11/"
    splits = {
        "train": [f"urban/{i}" for i in (
            "0003", "0005", "0007", "0008", "0013", "0014", "0016", "0019", "0023", "0024",
            "0027", "0032", "0035", "0045", "0048", "0052", "0062", "0068", "0072", "0086")],
        "test": ["urban/0004", "urban/0006", "urban/0017", "oldbuilding/0018", "urban/0020",
                 "urban/0026", "oldbuilding/0030", "urban/0050"],
    }

    def files(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}_nir.tiff", self.root / f"{name}_rgb.tiff"
