"""``jointsr-report DIR... --out OUT``: the runs under some run or sweep directories, as the
paper reports them, with their uncertainty over seeds.

- ``runs``: what a run folder holds (``test_metrics.json``, ``.hydra/``, ``csv/``); unfinished
  and unreadable runs are kept, with their status.
- ``aggregation``: runs that differ only in ``seed`` are one *configuration*; per
  configuration n seeds, mean ± std, min–max (overall and per image); paired comparisons with
  a reference configuration (paired t over seeds, bootstrap over images x seeds).
- ``tables``: ``report.md`` (per data and scale: configurations, comparisons, the paper-style
  per-image table beside the published numbers, the runs), ``report.csv`` (long form, one row
  per run and image), ``configurations.csv``, ``comparisons.csv``, ``runs.csv``.
- ``plots``: PNGs at 150 dpi: ``ablation_*`` (PSNR vs each numeric override that differs),
  ``params_*``, ``curves_*`` (mean ± std band over seeds), ``grids_*``; error bars of one std
  over seeds, bicubic as a dashed reference line where known.

The command ``jointsr-report`` is :mod:`jointsr.cli.report`.
"""

from jointsr.report.aggregation import (
    Comparison,
    Configuration,
    compare,
    configurations,
)
from jointsr.report.runs import Run, find_runs, read_curve, read_run, read_test_curve

__all__ = ["Comparison", "Configuration", "Run", "compare", "configurations", "find_runs", "read_curve", "read_run", "read_test_curve"]
