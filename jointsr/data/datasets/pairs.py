"""Your own image pairs as a dataset, without code: a folder per split.

Layout (any image format :mod:`jointsr.data.io` reads; the target grey, the guide RGB or grey,
both the same size, the HR images)::

    <root>/train/<name>_target.png   <root>/train/<name>_guide.png
    <root>/test/<name>_target.png    <root>/test/<name>_guide.png

Image names are ``<split>/<name>`` (``train/scene1``): ``data.val_names=[train/scene1]``
validates on a training image. Use it with ``data=pairs data.dataset.root=<root>``; the LR
inputs are made from the HR targets by ``data.degradation`` (MATLAB bicubic by default).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from jointsr.data.datasets.base import (
    DatasetNotFoundError,
    DatasetSplitError,
    GuidedSRDataset,
)
from jointsr.data.io import IMAGE_SUFFIXES


class FolderPairs(GuidedSRDataset):
    """``<root>/<split>/<name><target_suffix>.<ext>`` with ``<name><guide_suffix>.<ext>``."""

    url = None

    def __init__(self, root: str | Path, name: str = "pairs", target_suffix: str = "_target",
                 guide_suffix: str = "_guide", splits: dict[str, Sequence[str]] | None = None) -> None:
        super().__init__(root, splits={})
        self.name, self.target_suffix, self.guide_suffix = str(name), str(target_suffix), str(guide_suffix)
        self._files: dict[str, tuple[Path, Path]] = {}
        found: dict[str, list[str]] = {}
        folders = sorted(p for p in self.root.iterdir() if p.is_dir()) if self.root.is_dir() else []
        for folder in folders:
            for target in sorted(folder.iterdir()):
                stem = target.stem
                if target.suffix.lower() not in IMAGE_SUFFIXES or not stem.endswith(self.target_suffix):
                    continue
                base = stem[: -len(self.target_suffix)]
                guides = [p for p in folder.glob(f"{base}{self.guide_suffix}.*")
                          if p.suffix.lower() in IMAGE_SUFFIXES]
                if len(guides) != 1:
                    raise DatasetNotFoundError(
                        f"{target}: {'no' if not guides else 'more than one'} guide {base}{self.guide_suffix}.<ext> "
                        f"beside it; every target needs exactly one guide")
                name_ = f"{folder.name}/{base}"
                self._files[name_] = (target, guides[0])
                found.setdefault(folder.name, []).append(name_)
        self.splits = {key: list(value) for key, value in (splits or found).items()}

    def names(self, split: str) -> list[str]:
        if split not in self.splits:
            raise DatasetSplitError(
                f"{self.name}: no {split}/ images under {self.root}: put pairs there as "
                f"{self.root / split}/<name>{self.target_suffix}.png and <name>{self.guide_suffix}.png "
                f"(data.dataset.root=... names the folder)")
        return list(self.splits[split])

    def files(self, name: str) -> tuple[Path, Path]:
        if name not in self._files:
            return (self.root / f"{name}{self.target_suffix}.png", self.root / f"{name}{self.guide_suffix}.png")
        return self._files[name]

    def identity(self) -> dict:
        return {**super().identity(), "root": str(self.root.resolve()), "target_suffix": self.target_suffix,
                "guide_suffix": self.guide_suffix}
