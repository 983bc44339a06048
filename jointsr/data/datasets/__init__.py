"""Guided super-resolution datasets: one module per dataset (or family), one shared base.

Configs (``conf/data/<name>.yaml``) name a dataset class by its module
(``jointsr.data.datasets.cave.CAVE``), so a new dataset is one module here and one config,
and is not listed in this file. The short names below are a convenience for imports.
"""

from jointsr.data.datasets.base import DatasetNotFoundError, GuidedSRDataset
from jointsr.data.datasets.cave import CAVE
from jointsr.data.datasets.depth import Lu6, Middlebury30, Middlebury2005, NYUv2, Sintel
from jointsr.data.datasets.pairs import FolderPairs
from jointsr.data.datasets.rgbnir import RGBNIR

__all__ = ["CAVE", "DatasetNotFoundError", "FolderPairs", "GuidedSRDataset", "Lu6", "Middlebury2005",
           "Middlebury30", "NYUv2", "RGBNIR", "Sintel"]
