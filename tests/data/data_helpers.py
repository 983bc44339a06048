"""A tiny synthetic dataset written into a temporary folder, for store and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from jointsr.data.datasets import GuidedSRDataset


class TinySet(GuidedSRDataset):
    """Five 64x72 16-bit targets with 8-bit RGB guides: ``<name>_t.png``, ``<name>_g.png``."""

    name = "tiny"
    splits = {"train": ["a", "b", "c", "d"], "test": ["e"]}

    def files(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}_t.png", self.root / f"{name}_g.png"


def write_tiny_set(root: Path, size: tuple[int, int] = (64, 72)) -> TinySet:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "d", "e"):
        target = (rng.random(size) * 65535).astype(np.uint16)
        Image.fromarray(target).save(root / f"{name}_t.png")
        Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(root / f"{name}_g.png")
    return TinySet(root)
