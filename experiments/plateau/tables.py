"""The plateau study's tables, from the committed reports: ``report_600/runs.csv`` (start fit
on 128 patches), ``report_600_batch16/runs.csv`` (start fit on the first batch of 16) and
``report_paper/runs.csv`` (``jointsr_paper``, 650 steps): one row per run, its mean over the 7
CAVE test images."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import Paired, fixed, interval, mean_std, read_csv, signed, table, variance_ratio_p  # noqa: E402

REPORTS = {"start fit on 128 patches": "report_600", "start fit on the first batch of 16": "report_600_batch16"}
CELLS = {"model.net.T=2": "default T=2 R=3", "model.net.T=3": "T=3 R=3"}


def _psnr(report: str) -> dict[str, dict[int, float]]:
    """``{configuration: {seed: test PSNR}}`` of one report's finished runs."""
    runs: dict[str, dict[int, float]] = {}
    for row in read_csv(HERE / report / "runs.csv"):
        if row["status"] == "finished":
            runs.setdefault(row["configuration"], {})[int(row["seed"])] = float(row["psnr"])
    return runs


def seeds() -> str:
    rows = []
    for start, report in REPORTS.items():
        for configuration, by_seed in _psnr(report).items():
            values = [by_seed[s] for s in sorted(by_seed)]
            rows.append([f"{CELLS[configuration]}, {start}", *[fixed(v) for v in values], mean_std(values),
                         fixed(min(values))])
    return table(["test PSNR (dB)", "seed 1", "2", "3", "4", "5", "mean ± std", "min"], rows, "lrrrrrrr")


def paired() -> str:
    """T=3 against T=2 for each start, and 128 patches against 16 for each cell, paired by seed
    (a seed draws the same data order, ISTA dictionary and calibration patches in both)."""
    runs = {start: _psnr(report) for start, report in REPORTS.items()}
    pairs = [(f"T=3 R=3 − T=2 R=3, {start}", by["model.net.T=3"], by["model.net.T=2"]) for start, by in runs.items()]
    late, early = runs.values()
    pairs += [(f"{CELLS[c]}: 128 patches − first batch of 16", late[c], early[c]) for c in CELLS]
    rows = []
    for label, a, b in pairs:
        seeds_ = sorted(set(a) & set(b))
        test = Paired([a[s] - b[s] for s in seeds_])
        rows.append([label, " / ".join(signed(d) for d in test.differences), signed(test.mean),
                     interval(test.low, test.high), f"{test.p:.3f}", "**shown**" if test.shown else "not shown"])
    return table(["pair (a − b)", "a − b per seed 1-5 (dB)", "mean (dB)", "95 % t-interval, seeds", "p",
                  "difference"], rows, "lrrrrl")


def spread() -> str:
    """The seed spread with each start, and the F-test of the two variances (two-sided)."""
    runs = {start: _psnr(report) for start, report in REPORTS.items()}
    late, early = runs.values()
    rows = []
    for configuration, cell in CELLS.items():
        sd_late = statistics.stdev(late[configuration].values())
        sd_early = statistics.stdev(early[configuration].values())
        ratio, p = variance_ratio_p(list(early[configuration].values()), list(late[configuration].values()))
        rows.append([cell, fixed(sd_early), fixed(sd_late), f"{ratio:.1f}", f"{p:.2f}"])
    return table(["cell", "std, first batch of 16 (dB)", "std, 128 patches (dB)", "variance ratio",
                  "p, F-test (two-sided)"], rows, "lrrrr")


def paper() -> str:
    by_seed = next(iter(_psnr("report_paper").values()))
    values = [by_seed[s] for s in sorted(by_seed)]
    return table(["`jointsr_paper`, 650 steps", *[f"seed {s}" for s in sorted(by_seed)], "mean ± std"],
                 [["test PSNR (dB)", *[fixed(v) for v in values], mean_std(values)]], "lrrrr")


TABLES = {"seeds": seeds, "paired": paired, "spread": spread, "paper": paper}
