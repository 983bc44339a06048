"""EPFL RGB-NIR Scene dataset: NIR target guided by RGB.

Brown and Suesstrunk, "Multispectral SIFT for scene category recognition", CVPR 2011.
Layout of the official ``nirscene1`` archive: ``<category>/<id>_nir.tiff`` (8-bit grey,
/255) and ``<category>/<id>_rgb.tiff`` (8-bit RGB, /255); names are ``<category>/<id>``.
The archive's top folder ``nirscene1/`` is removed on download.
"""

from __future__ import annotations

from pathlib import Path

from jointsr.data.datasets.base import GuidedSRDataset


class RGBNIR(GuidedSRDataset):
    """EPFL RGB-NIR with the split of the paper's NIR table (8 test, 20 urban training images)."""

    name = "rgbnir"
    url = "http://ivrl.epfl.ch/supplementary_material/cvpr11/"
    archive_url = "http://ivrl.epfl.ch/supplementary_material/cvpr11/nirscene1.zip"
    splits = {
        "train": [f"urban/{i}" for i in (
            "0003", "0005", "0007", "0008", "0013", "0014", "0016", "0019", "0023", "0024",
            "0027", "0032", "0035", "0045", "0048", "0052", "0062", "0068", "0072", "0086")],
        "test": ["urban/0004", "urban/0006", "urban/0017", "oldbuilding/0018", "urban/0020",
                 "urban/0026", "oldbuilding/0030", "urban/0050"],
    }

    def files(self, name: str) -> tuple[Path, Path]:
        return self.root / f"{name}_nir.tiff", self.root / f"{name}_rgb.tiff"
