"""The start study's README tables, from start.csv (experiments/check_studies.py)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from _tables import fixed, read_csv, signed, table  # noqa: E402

STEPS = (0, 1, 2, 5, 10, 20, 50, 100)
#: the variants of run.sh in the order they were tried
VARIANTS = ("before", "after", "raw_ramp100", "radam", "radam_ramp100")


def _rows(parts: tuple[str, ...] = ("first20", "to100")) -> dict[tuple[str, int], dict[int, float]]:
    """Each variant's and seed's validations by step, from the runs of ``parts`` (a step two of
    them validated: the first part's)."""
    runs: dict[tuple[str, int], dict[int, float]] = {}
    rows = [row for row in read_csv(HERE / "start.csv") if row["part"] in parts]
    for row in sorted(rows, key=lambda row: parts.index(row["part"])):
        runs.setdefault((row["variant"], int(row["seed"])), {}).setdefault(int(row["step"]), float(row["val_psnr"]))
    return runs


def _order(item) -> tuple:
    """run.sh's order; a variant it does not list last, by name."""
    (variant, seed), _ = item
    return (VARIANTS.index(variant) if variant in VARIANTS else len(VARIANTS), variant, seed)


def steps_table() -> str:
    """Validation PSNR at the table's steps, and the worst of steps 1-20 against step 0."""
    lines = ["| variant | seed | " + " | ".join(f"step {s}" for s in STEPS) + " | worst of 1-20 vs 0 |",
             "|---|---:|" + "---:|" * (len(STEPS) + 1)]
    for (variant, seed), curve in sorted(_rows().items(), key=_order):
        cells = [f"{curve[s]:.2f}" if s in curve else "–" for s in STEPS]
        early = [curve[s] for s in range(1, 21) if s in curve]
        worst = f"{min(early) - curve[0]:+.2f}" if early and 0 in curve else "–"
        lines.append(f"| {variant} | {seed} | " + " | ".join(cells) + f" | {worst} |")
    return "\n".join(lines)


FINE = tuple(range(10, 251, 10))  # the validations of the 250-step runs (PARTS=to250)


def fine_table() -> str:
    """The runs validated every 10 steps to 250 (part to250): where each stands against its step 0."""
    rows = []
    for (variant, seed), curve in sorted(_rows(("to250",)).items(), key=_order):
        if not all(s in curve for s in (0, *FINE)):
            continue
        start = curve[0]
        low = min(FINE, key=lambda s: curve[s])
        late = [curve[s] for s in FINE if s >= 150]
        rows.append([variant, seed, *(fixed(curve[s]) for s in (0, 100, 150, 200, 250)),
                     f"{signed(curve[low] - start)} ({low})", sum(curve[s] < start for s in FINE),
                     signed(sum(late) / len(late) - start)])
    return table(["variant", "seed", "step 0", "step 100", "step 150", "step 200", "step 250",
                  "lowest of 10-250 vs 0 (step)", "of 25 below step 0", "mean of 150-250 vs 0"], rows, "lr" + "r" * 8)


def first_step_table() -> str:
    """Validation PSNR after Adam's first update of one tensor at a time (first_step.csv)."""
    rows = read_csv(HERE / "first_step.csv")
    start = float(rows[0]["psnr_start"])
    lines = [f"| tensor (start {start:.2f} dB) | shape | equalized factor | after a raw step "
             "| after an equalized step |",
             "|---|---|---:|---:|---:|"]
    for row in rows[1:]:
        lines.append(f"| `{row['tensor']}` | {row['shape']} | {row['fan_in_scale'] or '–'} | "
                     f"{float(row['psnr_raw_step']):.2f} | {float(row['psnr_equalized_step']):.2f} |")
    return "\n".join(lines)


TABLES = {"start_steps": steps_table, "start_fine": fine_table, "first_step": first_step_table}
