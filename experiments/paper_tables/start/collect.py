"""The start study's raw table: every validation of every run of start/run.sh.

    python experiments/paper_tables/start/collect.py LOGS [LOGS ...]  ->  experiments/paper_tables/start/start.csv

One row per variant, seed, part and validated step (``variant,seed,part,step,val_psnr``), from
the runs' ``csv/metrics.csv``: part ``first20`` (steps 0-20), ``to100`` (50 and 100), ``to250``
(every tenth step). The rows already in the CSV stay (runs of an earlier machine: a file without
the ``part`` column is read as first20 up to step 20, to100 after). A step that two parts of one
seed validated (each draws the same batches) is kept in both, and the largest difference between
them is printed: how far two runs of the same steps land apart.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # experiments/
from _plots import finish, new_figure  # noqa: E402

HERE = Path(__file__).resolve().parent


Key = tuple[str, int, str, int]  # variant, seed, part, step


def read(path: Path) -> dict[Key, float]:
    """The rows of a start.csv."""
    if not path.is_file():
        return {}
    def part(row: dict) -> str:
        return row.get("part") or ("first20" if int(row["step"]) <= 20 else "to100")

    with path.open(newline="") as stream:
        return {(row["variant"], int(row["seed"]), part(row), int(row["step"])): float(row["val_psnr"])
                for row in csv.DictReader(stream)}


def collect(logs: Path, rows: dict[Key, float]) -> None:
    """Add the validations of the runs under ``logs`` (``<variant>/seed_<n>/<part>``) to ``rows``;
    a run's row already there stays."""
    for metrics in sorted(logs.glob("*/seed_*/*/csv/metrics.csv")):
        run = metrics.parent.parent
        variant, seed = run.parent.parent.name, int(run.parent.name.removeprefix("seed_"))
        with metrics.open(newline="") as stream:
            for row in csv.DictReader(stream):
                if row.get("val/psnr"):
                    rows.setdefault((variant, seed, run.name, int(row["step"])), round(float(row["val/psnr"]), 4))


def repeats(rows: dict[Key, float]) -> list[tuple[float, Key, Key]]:
    """Every step two parts of one seed validated: (absolute difference, one key, the other)."""
    by_step: dict[tuple[str, int, int], list[Key]] = {}
    for key in rows:
        by_step.setdefault((key[0], key[1], key[3]), []).append(key)
    return [(abs(rows[a] - rows[b]), a, b)
            for keys in by_step.values() for i, a in enumerate(keys) for b in keys[i + 1:]]


def plot(rows: dict, path: Path) -> None:
    """Validation PSNR against step 0, steps 0-250, of every run validated every 10 steps
    (each seed a line, each variant a colour)."""
    fine: dict[tuple[str, int], dict[int, float]] = {}
    for (variant, seed, part, step), psnr in rows.items():
        if part == "to250":
            fine.setdefault((variant, seed), {})[step] = psnr
    if not fine:
        return
    figure, axis = new_figure()
    colours = {}
    for (variant, seed), curve in sorted(fine.items()):
        steps = sorted(curve)
        colour = colours.setdefault(variant, f"C{len(colours)}")
        axis.plot(steps, [curve[s] - curve[0] for s in steps], color=colour, marker=".", linewidth=1,
                  label=variant if seed == min(s for v, s in fine if v == variant) else None)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.axhline(-0.5, color="grey", linewidth=0.8, linestyle="--")
    axis.set_ylim(bottom=max(axis.get_ylim()[0], -8))  # the paper's Adam falls 22 dB at step 1: off the scale
    finish(figure, axis, path, xlabel="optimiser steps (batch 16)", ylabel="validation PSNR - step 0 (dB)",
           title="jointsr_paper, CAVE x4: the start, every 10 steps (a line per seed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+", help="folders start/run.sh wrote (logs/issue25/start)")
    parser.add_argument("--out", type=Path, default=HERE / "start.csv")
    args = parser.parse_args()
    rows = read(args.out)
    for logs in args.logs:
        collect(logs, rows)
    partial = args.out.with_name(args.out.name + ".part")
    with partial.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, ["variant", "seed", "part", "step", "val_psnr"])
        writer.writeheader()
        writer.writerows({"variant": v, "seed": s, "part": part, "step": step, "val_psnr": psnr}
                         for (v, s, part, step), psnr in sorted(rows.items()))
    partial.replace(args.out)
    print(f"wrote {args.out}: {len(rows)} rows")
    plot(rows, args.out.with_name("plot.png"))
    twice = repeats(rows)
    if twice:
        gap, a, b = max(twice)
        print(f"{len(twice)} steps validated by two parts of one seed: largest difference {gap:.4f} dB "
              f"({a[0]} seed {a[1]} step {a[3]}: {a[2]} {rows[a]:.2f}, {b[2]} {rows[b]:.2f})")


if __name__ == "__main__":
    main()
