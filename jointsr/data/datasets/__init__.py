"""Guided super-resolution datasets: one module per dataset (or family), one shared base.

Configs name a class by its module (``jointsr.data.datasets.cave.CAVE``) or by the
short names re-exported here (``jointsr.data.datasets.CAVE``).
"""

from jointsr.data.datasets.base import DatasetNotFoundError, GuidedSRDataset
from jointsr.data.datasets.cave import CAVE
from jointsr.data.datasets.depth import Lu6, Middlebury30, Middlebury2005, NYUv2, Sintel
from jointsr.data.datasets.pairs import FolderPairs
from jointsr.data.datasets.rgbnir import RGBNIR

__all__ = ["CAVE", "DatasetNotFoundError", "FolderPairs", "GuidedSRDataset", "Lu6", "Middlebury2005",
           "Middlebury30", "NYUv2", "RGBNIR", "Sintel"]
