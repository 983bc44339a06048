"""The model-summary tables, from ``summary.csv`` (``summary.py``: parameters and FLOPs per HR
pixel of one forward pass, x4)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_csv, table, thousands  # noqa: E402

GRID = re.compile(r"model\.net\.T=(\d+) model\.net\.R=(\d+)$")


def _rows() -> list[dict]:
    return read_csv(HERE / "summary.csv")


def _mflop(row: dict) -> str:
    return f"{float(row['flops_per_hr_pixel']) / 1e6:.3f}"


def variants() -> str:
    rows = [[row["row"], thousands(row["params"]), _mflop(row)] for row in _rows()
            if row["model"] in ("jointsr", "jointsr_paper") and not GRID.search(row["overrides"])]
    return table(["variant", "params", "MFLOP per HR pixel"], rows, "lrr")


def grid() -> str:
    rows = []
    for row in _rows():
        match = GRID.search(row["overrides"])
        if match:
            rows.append([match.group(1), match.group(2), thousands(row["params"]), _mflop(row)])
    return table(["T", "R", "params", "MFLOP per HR pixel"], rows, "llrr")


TABLES = {"variants": variants, "grid": grid}
