"""The depth ablation's tables, from the committed report (``report/runs.csv``: one row per
run, its mean over the 7 test images; ``report/comparisons.csv``: jointsr-report's paired
comparisons with the default, bootstrap intervals over images x seeds)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import Paired, fixed, holm, interval, mean_std, read_csv, signed, table, thousands  # noqa: E402

REPORT = HERE / "report"
DEFAULT = (2, 3)
#: the two lines of the design: T at R = 3, R at T = 2
LINES = {"T": [(1, 3), (2, 3), (3, 3)], "R": [(2, 1), (2, 2), (2, 3), (2, 4)]}


def _cell(configuration: str) -> tuple[int, int]:
    keys = dict(part.split("=") for part in configuration.split(","))
    return int(keys["model.net.T"]), int(keys["model.net.R"])


def _runs() -> dict[tuple[int, int], dict[int, dict]]:
    """``{(T, R): {seed: row}}`` of the finished runs."""
    cells: dict[tuple[int, int], dict[int, dict]] = {}
    for row in read_csv(REPORT / "runs.csv"):
        if row["status"] == "finished":
            cells.setdefault(_cell(row["configuration"]), {})[int(row["seed"])] = row
    return cells


def _name(cell: tuple[int, int]) -> str:
    return f"T={cell[0]} R={cell[1]}"


def results() -> str:
    rows = []
    for cell, runs in sorted(_runs().items()):
        psnr = [float(run["psnr"]) for run in runs.values()]
        ssim = [float(run["ssim"]) for run in runs.values()]
        params = {run["params"] for run in runs.values()}
        label = [str(cell[0]), str(cell[1]) + (" (default)" if cell == DEFAULT else "")]
        rows.append(label + [", ".join(thousands(p) for p in sorted(params)), len(runs), mean_std(psnr),
                             f"{min(psnr):.2f}–{max(psnr):.2f}", mean_std(ssim, 4)])
    return table(["T (ACSC iterations per encoder)", "R (RNN steps)", "params", "seeds", "test PSNR (dB)",
                  "seeds' means", "SSIM"], rows, "llrrrrr")


def paired() -> str:
    """Every pair of cells on each line of the design, paired by seed; Holm's adjustment over
    the pairs of the line; the report's bootstrap interval where the pair is against the default."""
    cells = _runs()
    bootstrap = {_cell(row["configuration"]): (float(row["bootstrap_low"]), float(row["bootstrap_high"]))
                 for row in read_csv(REPORT / "comparisons.csv")
                 if _cell(row["reference"]) == DEFAULT}
    rows = []
    for line, members in LINES.items():
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        tests = []
        for a, b in pairs:
            seeds = sorted(set(cells[a]) & set(cells[b]))
            tests.append(Paired([float(cells[a][s]["psnr"]) - float(cells[b][s]["psnr"]) for s in seeds]))
        for (a, b), test, adjusted in zip(pairs, tests, holm([t.p for t in tests])):
            if b == DEFAULT:
                boot = interval(*bootstrap[a]) if a in bootstrap else "–"
            elif a == DEFAULT:
                boot = interval(-bootstrap[b][1], -bootstrap[b][0]) if b in bootstrap else "–"
            else:
                boot = "–"
            verdict = ("**shown**" if test.shown and adjusted < 0.05 else
                       "not shown (p < 0.05 alone)" if test.shown else "not shown")
            rows.append([f"{_name(a)} − {_name(b)}", " / ".join(signed(d) for d in test.differences),
                         signed(test.mean), interval(test.low, test.high), f"{test.p:.3f}", f"{adjusted:.3f}",
                         fixed(test.detectable), boot, verdict])
    return table(["pair (a − b)", "a − b per seed 1 / 2 / 3 (dB)", "mean (dB)", "95 % t-interval, seeds",
                  "p", "p, Holm over the line", "detectable with 80 % power (dB)",
                  "95 % bootstrap, images × seeds", "effect"], rows, "lrrrrrrrl")


TABLES = {"results": results, "paired": paired}
