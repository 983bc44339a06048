"""The equal-step study's README tables, from runs.csv and bf16_check.csv
(experiments/check_studies.py regenerates them)."""

from __future__ import annotations

import csv
import functools
import math
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # the repository, for jointsr.evaluation.stats

from jointsr.evaluation.stats import paired_t_interval  # noqa: E402

MODELS = ("jointsr_paper", "jointsr_paper_raw", "jointsr_paper_radam", "jointsr_paper_radam_ramp",
          "lmcsc", "djf", "coista", "jointsr")
TITLES = {"jointsr_paper": "Proposed, equalized (first fix)", "jointsr_paper_fp32": "Proposed, equalized, fp32",
          "jointsr_paper_raw": "Proposed, raw Adam (control)",
          "jointsr_paper_radam": "Proposed, RAdam",
          "jointsr_paper_radam_ramp": "Proposed, RAdam + ramp (shipped)", "lmcsc": "LMCSC", "djf": "DJF",
          "coista": "CoISTA", "jointsr": "JointSR-fast"}
REFERENCE = "jointsr_paper"  # Proposed with the first start fix (Adam, equalized rates, a 20-step ramp)
RAW = "jointsr_paper_raw"  # Proposed under the paper's own optimiser: the second reference
SHIPPED = "jointsr_paper_radam_ramp"  # Proposed as shipped (RAdam, a 100-step ramp): the third
# rows whose rate depends on the budget (JointSR-fast's cosine over STEPS): a line through their
# horizons is not a trend that goes on past the budget
ONE_SCHEDULE = {"jointsr"}
PAPER_STEPS = 30_000  # the paper's budget (method.md), where the trend's line is read


def _read(name: str, folder: Path = HERE) -> dict[tuple[str, int], dict[int, float]]:
    """``{(model, step): {seed: psnr}}`` of ``folder/name``."""
    table: dict = {}
    if not (folder / name).is_file():
        return table
    with (folder / name).open(newline="") as stream:
        for row in csv.DictReader(stream):
            table.setdefault((row["model"], int(row["step"])), {})[int(row["seed"])] = float(row["psnr"])
    return table


def _steps(table) -> list[int]:
    return sorted({step for _, step in table})


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f} (1)"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f} ({len(values)})"


def _differences(table, model: str, step: int, reference: str = REFERENCE) -> list[float]:
    """``model - reference`` (Proposed unless named) per seed both have at ``step``."""
    ours, reference = table.get((model, step), {}), table.get((reference, step), {})
    return [ours[seed] - reference[seed] for seed in sorted(set(ours) & set(reference))]


def horizons(folder: Path = HERE) -> str:
    """Test PSNR (dB) per model and horizon: mean ± std over seeds (n seeds)."""
    table = _read("runs.csv", folder)
    steps = _steps(table)
    lines = ["| model | " + " | ".join(f"{s:,} steps" for s in steps) + " |", "|---|" + "---:|" * len(steps)]
    for model in MODELS:
        cells = [_mean_std(list(table[(model, s)].values())) if (model, s) in table else "–" for s in steps]
        lines.append(f"| {TITLES[model]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired(folder: Path = HERE, reference: str = REFERENCE) -> str:
    """Each model minus ``reference`` (Proposed unless named), paired by seed: mean [95 %
    t-interval] (n); '*' where the interval excludes 0."""
    table = _read("runs.csv", folder)
    steps = _steps(table)
    lines = [f"| model − {TITLES[reference]} | " + " | ".join(f"{s:,}" for s in steps) + " |",
             "|---|" + "---:|" * len(steps)]
    for model in (m for m in MODELS if m != reference):
        cells = []
        for step in steps:
            diffs = _differences(table, model, step, reference)
            if len(diffs) >= 2:
                ci = paired_t_interval(diffs)
                mark = "" if ci.contains_zero else " *"
                cells.append(f"{ci.mean:+.2f} [{ci.low:+.2f}, {ci.high:+.2f}] ({len(diffs)}){mark}")
            else:
                cells.append(f"{diffs[0]:+.2f} (1)" if diffs else "–")
        lines.append(f"| {TITLES[model]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def trend(folder: Path = HERE, reference: str = REFERENCE) -> str:
    """Where each model's mean gap to ``reference`` (Proposed unless named) changes sign between
    horizons, and the gap's least-squares slope against log2(steps) (dB per doubling of the
    steps; > 0: the model gains on the reference, < 0: the reference closes the gap), both over
    the horizons every seed reached,
    and the fitted line read at the paper's 30,000 steps: an extrapolation, a hypothesis to test
    (``../gpu.sh``), not a measurement."""
    table = _read("runs.csv", folder)
    steps = _steps(table)
    lines = [f"| model − {TITLES[reference]} | mean gap per horizon | sign changes | slope (dB per doubling) "
             "| fitted gap at 30,000 steps (extrapolated) |",
             "|---|---|---|---:|---:|"]
    for model in (m for m in MODELS if m not in (reference, REFERENCE)):  # fixed − raw: in the first
        found = [(s, statistics.mean(d), len(d)) for s in steps if (d := _differences(table, model, s, reference))]
        if not found:
            continue
        most = max(n for _, _, n in found)
        # a horizon fewer seeds reached is shown with its n but left out of the sign changes and
        # the slope: one seed's gap would bend a fit of the others' means
        gaps = ", ".join(f"{g:+.2f}" + (f" (n={n})" if n < most else "") for _, g, n in found)
        points = [(s, g) for s, g, n in found if n == most]
        changes = [f"{a:,}→{b:,}" for (a, ga), (b, gb) in zip(points, points[1:]) if (ga > 0) != (gb > 0)]
        slope = far = "–"
        if model in ONE_SCHEDULE:
            # its horizons are points of one cosine that reaches 0 at the last: no trend to carry on
            slope = far = "– (one schedule)"
        elif len(points) >= 2:
            fit = statistics.linear_regression([math.log2(s) for s, _ in points], [g for _, g in points])
            slope, far = f"{fit.slope:+.2f}", f"{fit.intercept + fit.slope * math.log2(PAPER_STEPS):+.2f}"
        lines.append(f"| {TITLES[model]} | {gaps} | {', '.join(changes) or 'none'} | {slope} | {far} |")
    return "\n".join(lines)


def bf16() -> str:
    """Proposed trained in fp32 and in bf16 mixed precision, the same seeds and steps."""
    table = _read("bf16_check.csv")
    lines = ["| step | seed | fp32 | bf16 | bf16 − fp32 |", "|---:|---:|---:|---:|---:|"]
    for step in _steps(table):
        fp32, bf = table.get(("jointsr_paper_fp32", step), {}), table.get(("jointsr_paper", step), {})
        seeds = sorted(set(fp32) & set(bf))
        for seed in seeds:
            lines.append(f"| {step:,} | {seed} | {fp32[seed]:.2f} | {bf[seed]:.2f} | {bf[seed] - fp32[seed]:+.2f} |")
        if len(seeds) >= 2:
            ci = paired_t_interval([bf[s] - fp32[s] for s in seeds])
            spread = statistics.stdev(fp32[s] for s in seeds)
            lines.append(f"| {step:,} | mean | {statistics.mean(fp32[s] for s in seeds):.2f} ± {spread:.2f} | "
                         f"{statistics.mean(bf[s] for s in seeds):.2f} | "
                         f"{ci.mean:+.2f} [{ci.low:+.2f}, {ci.high:+.2f}] |")
    return "\n".join(lines)


def _or_pending(function):
    """The table, or a line saying its raw file has no rows yet."""
    def table(*args, **kwargs) -> str:
        folder = kwargs.get("folder", HERE)
        if not (folder / ("bf16_check.csv" if function is bf16 else "runs.csv")).is_file():
            return "_No committed runs yet: run the commands above._"
        return function(*args, **kwargs)
    return table


TABLES = {name: _or_pending(function)
          for name, function in {"horizons": horizons, "paired": paired, "trend": trend, "bf16": bf16,
                                 "paired_raw": functools.partial(paired, reference=RAW),
                                 "trend_raw": functools.partial(trend, reference=RAW),
                                 "paired_shipped": functools.partial(paired, reference=SHIPPED),
                                 "trend_shipped": functools.partial(trend, reference=SHIPPED)}.items()}
