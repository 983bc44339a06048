"""Helpers the studies' ``tables.py`` share: reading committed files, Markdown tables, number
formats, the paired t-test over seeds and the F-test of two variances (``experiments/check_studies.py``
runs them). The t distribution is ``jointsr.evaluation.stats``'s, the F distribution SciPy's.

A study's ``tables.py`` puts ``experiments/`` on the path to import it::

    HERE = Path(__file__).resolve().parent
    sys.path.insert(0, str(HERE.parent))
    from _tables import ...
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from pathlib import Path

from scipy.stats import f as fisher

from jointsr.evaluation.stats import t_cdf, t_quantile


def read_csv(path: str | Path) -> list[dict]:
    """The rows of a committed CSV file, as dicts of strings."""
    with Path(path).open(newline="") as handle:
        return list(csv.DictReader(handle))


def read_json(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def table(header: list[str], rows: list[list], align: str | None = None) -> str:
    """A Markdown table; ``align`` is one letter per column, ``l`` or ``r`` (default: all ``-``)."""
    rule = ["---:" if a == "r" else "---" for a in align] if align else ["---"] * len(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fixed(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals; ``–`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    """``value`` with its sign (``+0.09``, ``-0.11``); ``–`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.{digits}f}"


def thousands(value) -> str:
    """An integer with thousands separators (``18,144``); ``–`` when empty."""
    return "–" if value in (None, "") else f"{int(float(value)):,}"


def mean_std(values: list[float], digits: int = 2) -> str:
    """``mean ± sample std`` (``± –`` for one value)."""
    spread = fixed(statistics.stdev(values), digits) if len(values) > 1 else "–"
    return f"{fixed(statistics.mean(values), digits)} ± {spread}"


def interval(low: float, high: float, digits: int = 2) -> str:
    return f"[{signed(low, digits)}, {signed(high, digits)}]"


class Paired:
    """The paired comparison of two configurations over the same seeds: ``differences`` (a
    minus b, one per seed), their mean, the 95 % t-interval ``mean ± t(0.975; n-1) s / sqrt(n)``,
    the two-sided p of the paired t-test, and the smallest true difference the test finds
    with 80 % power, ``(t(0.975; n-1) + t(0.80; n-1)) s / sqrt(n)``."""

    def __init__(self, differences: list[float]) -> None:
        self.differences = list(differences)
        self.n = len(self.differences)
        self.mean = statistics.mean(self.differences)
        self.sd = statistics.stdev(self.differences) if self.n > 1 else math.nan
        error = self.sd / math.sqrt(self.n)
        dof = self.n - 1
        self.half_width = t_quantile(0.975, dof) * error if dof else math.nan
        self.low, self.high = self.mean - self.half_width, self.mean + self.half_width
        self.p = 2 * (1 - t_cdf(abs(self.mean) / error, dof)) if dof and error > 0 else math.nan
        self.detectable = (t_quantile(0.975, dof) + t_quantile(0.80, dof)) * error if dof else math.nan

    @property
    def shown(self) -> bool:
        """Whether the 95 % interval excludes 0."""
        return self.low > 0 or self.high < 0


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def pearson(x: list[float], y: list[float]) -> float:
    return statistics.correlation(x, y)


def variance_ratio_p(a: list[float], b: list[float]) -> tuple[float, float]:
    """``(var(a) / var(b), two-sided p)`` of the F-test that both samples have one variance."""
    ratio = statistics.variance(a) / statistics.variance(b)
    below = float(fisher.cdf(ratio, len(a) - 1, len(b) - 1))
    return ratio, min(1.0, 2 * min(below, 1 - below))
