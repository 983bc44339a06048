"""The paper's published per-image results (Marivani et al., ICIP 2020), as in its slides.

The numbers are data, ``published.csv`` beside this module, one row per (dataset, scale,
image, method): the slides' two tables, CAVE 640 nm at x4 and x8 (7 test scenes) and
RGB-NIR at x2 and x4 (8 test images), PSNR (dB) and SSIM for SRFBN, DJF, CoISTA, LMCSC and
the proposed network. ``slide_label`` is the slides' row label, ``image`` the name our
datasets give that test image (``Scene.name``): CAVE scene folders, and ``<category>/<id>``
for RGB-NIR, where the slides' ``u-`` is ``urban`` and ``o-`` is ``oldbuilding``; the
slides' ``Average`` row is the image ``mean``.

The published ``Average`` rows are kept as published. Three of them do not equal the mean
of their per-image rows (beyond rounding): CoISTA CAVE x8 SSIM (mean 0.9606, published
0.9615), CoISTA RGB-NIR x2 SSIM (mean 0.9822, published 0.9959: u-0050's 0.8837 is likely
a typo), and LMCSC RGB-NIR x2 / x4 PSNR (means 38.75 / 34.30, published 38.74 / 34.28).
"""

from __future__ import annotations

import csv
from pathlib import Path

#: the published numbers (package data)
PUBLISHED_CSV = Path(__file__).with_name("published.csv")

#: how the tables title the paper's methods
PAPER_TITLES = {"srfbn": "SRFBN", "djf": "DJF", "coista": "CoISTA", "lmcsc": "LMCSC",
                "proposed": "Proposed"}
#: our model names (``model.name``) -> the paper's method they reproduce. "Proposed" is the
#: paper's network, ``jointsr_paper`` (free form, k=64, K=7, no skip); ``jointsr``, our fast
#: CPU recipe (factorised, k=32, K=5, learned skip), reproduces no row of the paper.
OUR_MODEL_TO_PAPER = {"srfbn": "srfbn", "djf": "djf", "coista": "coista", "lmcsc": "lmcsc",
                      "jointsr_paper": "proposed"}

Table = dict[str, dict[str, dict[str, float]]]  # paper model -> image (or "mean") -> metric


def read_published(path: str | Path = PUBLISHED_CSV) -> dict[tuple[str, int], Table]:
    """``{(dataset, scale): {method: {image: {"psnr", "ssim"}}}}`` from the published CSV, in
    its row order (the slides' image order, the paper's method order)."""
    tables: dict[tuple[str, int], Table] = {}
    with Path(path).open(newline="") as stream:
        for row in csv.DictReader(stream):
            table = tables.setdefault((row["dataset"], int(row["scale"])), {})
            table.setdefault(row["method"], {})[row["image"]] = {"psnr": float(row["psnr"]),
                                                                 "ssim": float(row["ssim"])}
    return tables


#: (data, scale) -> paper model -> image name (or "mean": the published average) -> metrics
PAPER_RESULTS: dict[tuple[str, int], Table] = read_published()
#: the paper's methods, in the order of its tables
PAPER_MODELS = tuple(dict.fromkeys(method for table in PAPER_RESULTS.values() for method in table))


def paper_table(data: str, scale: int) -> Table | None:
    """The paper's per-image table for one task, or None when the paper has none."""
    return PAPER_RESULTS.get((data, int(scale)))


def paper_result(data: str, scale: int, model: str) -> dict[str, dict[str, float]] | None:
    """The paper's numbers for the method our ``model`` reproduces (None if not in the paper)."""
    table = paper_table(data, scale)
    paper_model = OUR_MODEL_TO_PAPER.get(model)
    return None if table is None or paper_model is None else table[paper_model]
