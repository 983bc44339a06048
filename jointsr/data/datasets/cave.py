"""Columbia CAVE multispectral database: one spectral band guided by RGB.

Yasuma, Mitsunaga, Iso, Nayar, "Generalized Assorted Pixel Camera", IEEE TIP 2010.
31 bands, 400-700 nm in 10 nm steps (band ``b`` is ``400 + 10 (b - 1)`` nm); the
paper uses band 25 (640 nm). Targets are 16-bit PNGs scaled by 1/65535; the guide
is the scene's 8-bit ``_RGB.bmp`` scaled by 1/255.

Layouts accepted under ``root`` (the first that holds the band file wins):

- ``<scene>/<scene>_ms_NN.png`` and ``<scene>/<scene>_RGB.bmp`` (the shared copy,
  band 25 only);
- ``<scene>_ms/<scene>_ms/<scene>_ms_NN.png`` (the official ``complete_ms_data.zip``),
  with ``<scene>_RGB.bmp`` next to the bands or one folder up;
- ``<scene>_ms/<scene>_ms_NN.png`` (a per-scene ``<scene>_ms.zip`` unpacked).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from jointsr.data.datasets.base import GuidedSRDataset
from jointsr.errors import ConfigError

BANDS = range(1, 32)


def band_wavelength(band: int) -> int:
    """Centre wavelength in nm of CAVE band ``band`` (1-based)."""
    return 400 + 10 * (band - 1)


class CAVE(GuidedSRDataset):
    """CAVE: band ``band`` (default 25, 640 nm) as target, the RGB image as guide.

    Split of the paper's multispectral table (7 test scenes, 20 training scenes).
    """

    name = "cave"
    url = "https://cave.cs.columbia.edu/repository/Multispectral"
    archive_url = "https://www.cs.columbia.edu/CAVE/databases/multispectral/zip/complete_ms_data.zip"
    splits = {
        "train": ["balloons", "beads", "cd", "clay", "face", "fake_and_real_beers",
                  "fake_and_real_lemon_slices", "fake_and_real_lemons", "fake_and_real_peppers",
                  "fake_and_real_strawberries", "fake_and_real_sushi", "fake_and_real_tomatoes",
                  "flowers", "hairs", "photo_and_face", "pompoms", "real_and_fake_peppers",
                  "sponges", "stuffed_toys", "superballs"],
        "test": ["chart_and_stuffed_toy", "egyptian_statue", "feathers", "glass_tiles",
                 "jelly_beans", "oil_painting", "paints"],
    }

    def __init__(self, root: str | Path, band: int = 25, splits: dict[str, Sequence[str]] | None = None,
                 archive_url: str | None = None, archive_sha256: str | None = None) -> None:
        super().__init__(root, splits=splits, archive_url=archive_url, archive_sha256=archive_sha256)
        if isinstance(band, bool) or not isinstance(band, int) or band not in BANDS:
            raise ConfigError(f"CAVE band must be 1..31 (400-700 nm in 10 nm steps), got {band}")
        self.band = int(band)

    def _scene_dirs(self, scene: str) -> list[Path]:
        return [self.root / scene, self.root / f"{scene}_ms" / f"{scene}_ms", self.root / f"{scene}_ms"]

    def files(self, name: str) -> tuple[Path, Path]:
        band_file = f"{name}_ms_{self.band:02d}.png"
        folders = self._scene_dirs(name)
        folder = next((f for f in folders if (f / band_file).is_file()), None)
        if folder is None:  # missing: name the publisher's layout unless the shared one exists
            folder = folders[0] if folders[0].is_dir() else folders[1]
        rgb = folder / f"{name}_RGB.bmp"
        if not rgb.is_file() and (folder.parent / rgb.name).is_file():
            rgb = folder.parent / rgb.name
        return folder / band_file, rgb

    def _not_found_message(self) -> str:
        message = super()._not_found_message()
        if self.band != 25:
            message += (f" Band {self.band} ({band_wavelength(self.band)} nm) needs the full 31-band "
                        f"archive (complete_ms_data.zip); the shared copy holds band 25 only.")
        return message

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "band": self.band}

    def read_target(self, path: Path) -> np.ndarray:
        target = super().read_target(path)
        # a few archive PNGs are stored with repeated grey channels: keep one
        if target.ndim == 3 and np.array_equal(target[..., 0], target[..., 1]):
            target = np.ascontiguousarray(target[..., 0])
        return target
