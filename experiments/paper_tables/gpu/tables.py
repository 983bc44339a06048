"""The GPU run's README tables: the equal-step tables (../equal_steps/tables.py) on this
folder's runs.csv (experiments/check_studies.py)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("equal_steps_tables", HERE.parent / "equal_steps" / "tables.py")
_equal_steps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_equal_steps)

# the references: Proposed as shipped (RAdam and a ramp) and under the paper's own optimiser (Adam)
TABLES = {name: functools.partial(_equal_steps.TABLES[name], folder=HERE)
          for name in ("horizons", "paired_shipped", "trend_shipped", "paired_raw")}
