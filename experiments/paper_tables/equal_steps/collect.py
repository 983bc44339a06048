"""The equal-step study's raw tables and plot, from the runs of equal_steps/run.sh.

    python experiments/paper_tables/equal_steps/collect.py LOGS/cave_x4 [LOGS_2000/cave_x4 LOGS_3000/cave_x4]

(several task folders: the runs carried further by run.sh START_FROM=... add their horizons to
the same table; one (model, seed, step) in two folders is an error)

writes into this folder:
- ``runs.csv``: ``model,seed,step,psnr,ssim``, one row per model, seed and horizon (test means
  over the whole CAVE test set of the weights kept at that step: ``<run>.curve/test_curve.csv``);
- ``bf16_check.csv``: the same columns for Proposed trained in fp32 (``jointsr_paper_fp32``) and
  in bf16 (``jointsr_paper``) at the horizons both reached;
- ``plot.png``: test PSNR against steps, mean and min-max over seeds per model.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # experiments/
from _plots import finish, new_figure  # noqa: E402
from tables import MODELS, TITLES  # this folder's tables.py: the rows and their titles

HERE = Path(__file__).resolve().parent
COLUMNS = ["model", "seed", "step", "psnr", "ssim"]


def read_all(folders: list[Path]) -> list[dict]:
    """The rows of every folder; a horizon tested in two folders stops it (which one counts?)."""
    rows, seen = [], {}
    for folder in folders:
        for row in read_curves(folder):
            key = (row["model"], row["seed"], row["step"])
            if key in seen:
                raise SystemExit(f"collect.py: {key} is in both {seen[key]} and {folder}: keep one")
            seen[key] = folder
            rows.append(row)
    return sorted(rows, key=lambda r: (r["model"], r["seed"], r["step"]))


def read_curves(logs: Path) -> list[dict]:
    rows = []
    for curve in sorted(logs.glob("*/seed_*.curve/test_curve.csv")):
        model, seed = curve.parent.parent.name, int(curve.parent.name.removeprefix("seed_").removesuffix(".curve"))
        with curve.open(newline="") as stream:
            for row in csv.DictReader(stream):
                rows.append({"model": model, "seed": seed, "step": int(row["step"]),
                             "psnr": round(float(row["psnr"]), 4), "ssim": round(float(row["ssim"]), 5)})
    return sorted(rows, key=lambda r: (r["model"], r["seed"], r["step"]))


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}: {len(rows)} rows")


def plot(rows: list[dict], path: Path) -> None:
    figure, axis = new_figure()
    for model in MODELS:
        steps = sorted({r["step"] for r in rows if r["model"] == model})
        if not steps:
            continue
        values = [[r["psnr"] for r in rows if r["model"] == model and r["step"] == s] for s in steps]
        means = [sum(v) / len(v) for v in values]
        most = max(len(v) for v in values)
        line, = axis.plot(steps, means, marker="o", label=f"{TITLES[model]} (n={most})")
        axis.fill_between(steps, [min(v) for v in values], [max(v) for v in values], color=line.get_color(), alpha=0.2)
        for step, mean, v in zip(steps, means, values):  # a horizon fewer seeds reached: hollow, its n written
            if len(v) < most:
                axis.plot([step], [mean], marker="o", markerfacecolor="white", color=line.get_color())
                axis.annotate(f"n={len(v)}", (step, mean), textcoords="offset points", xytext=(4, -12), fontsize=7)
    axis.set_xscale("log", base=2)
    finish(figure, axis, path, xlabel="optimiser steps (batch 16)", ylabel="test PSNR, CAVE x4 (dB)",
           title="Equal steps, paper protocol: mean and min-max over seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+",
                        help="the task folders equal_steps/run.sh wrote (logs/.../cave_x4)")
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    rows = read_all(args.logs)
    main_rows = [r for r in rows if r["model"] in MODELS]
    write(args.out / "runs.csv", main_rows)
    fp32 = [r for r in rows if r["model"] == "jointsr_paper_fp32"]
    shared = {(r["seed"], r["step"]) for r in fp32}
    if fp32:
        write(args.out / "bf16_check.csv",
              fp32 + [r for r in main_rows if r["model"] == "jointsr_paper" and (r["seed"], r["step"]) in shared])
    plot(main_rows, args.out / "plot.png")


if __name__ == "__main__":
    main()
