"""Image by image, our runs beside the paper's published numbers (issue 12, item 6).

Reads a ``jointsr-report`` table (``report.csv``: one row per run and test image, our runs
and the paper's transcribed rows) and prints, for each of the paper's methods:

- the mean over images of our PSNR (each image first averaged over our seeds), the paper's,
  and their difference (ours - paper) with its spread over the images;
- Pearson's r between our per-image PSNR and the paper's: near 1 when the two rank and space
  the images alike (the same images, crops and degradation), whatever the offset;
- each one's gain over *our* bicubic, lowest and highest over the images. SRFBN does not look
  at the guide, so the paper's SRFBN gain over our bicubic is a check of the LR input alone:
  a gain of the size a single-image network makes, on every image, means the paper's LR
  images were ours.

A difference that is the same on every image (small spread, r near 1) comes from how well a
network was trained, not from what it was tested on.

With ``--runs`` (the task's log folder) it also prints, per model, the validation PSNR (crops
of training images, averaged over the seeds) at the last validation at or before half its
step budget and at its last validation, each with the step it was taken at (validation runs
every ``trainer.val_check_interval`` steps, so these need not be half and end of the budget):
a network still climbing at its last validation had not converged. Beside it, step-matched: the PSNR of the mean training loss
(MSE, on the 16-patch training batches logged every 20 steps) over steps 251-350, which the
budget of every MSE-trained model reaches (SRFBN trains with L1 and is left out): how much each
network learns per step rather than per minute, paired by seed with Proposed.

Usage: python experiments/paper_tables/per_image.py experiments/paper_tables/nir_x4/report.csv \
           [--runs logs/issue12/paper_tables/nir_x4]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from omegaconf import OmegaConf

from jointsr.report.published import OUR_MODEL_TO_PAPER, PAPER_MODELS, PAPER_TITLES, paper_table


def our_images(report: Path) -> tuple[str, int, dict[str, dict[str, list[float]]]]:
    """``(data, scale, {model: {image: [psnr per run]}})`` of our rows in ``report``."""
    runs: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    tasks = set()
    with report.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["source"] != "ours" or row["image"] in ("", "mean"):
                continue
            tasks.add((row["data"], int(row["scale"])))
            runs[row["model"]][row["image"]].append(float(row["psnr"]))
    if len(tasks) != 1:
        raise SystemExit(f"per_image.py: {report} holds {len(tasks)} tasks ({sorted(tasks)}); give one task's report")
    data, scale = tasks.pop()
    return data, scale, runs


def pearson(x: list[float], y: list[float]) -> float:
    """Pearson's r (NaN when either side is constant)."""
    try:
        return statistics.correlation(x, y)
    except statistics.StatisticsError:
        return math.nan


def std(values: list[float]) -> float:
    """The sample standard deviation (NaN for one value)."""
    return statistics.stdev(values) if len(values) > 1 else math.nan


def comparison(report: Path) -> str:
    data, scale, runs = our_images(report)
    paper = paper_table(data, scale)
    if paper is None:
        raise SystemExit(f"per_image.py: the paper has no {data} x{scale} table")
    if "bicubic" not in runs:
        raise SystemExit(f"per_image.py: {report} has no bicubic run to measure gains against")
    images = sorted(name for name in paper["srfbn"] if name != "mean")
    missing = [name for name in images if name not in runs["bicubic"]]
    if missing:
        raise SystemExit(f"per_image.py: our bicubic run lacks the paper's test images {missing}")
    bicubic = [sum(runs["bicubic"][name]) / len(runs["bicubic"][name]) for name in images]
    ours_of = {paper_model: model for model, paper_model in OUR_MODEL_TO_PAPER.items()}
    lines = [f"{data} x{scale}: {len(images)} test images; our bicubic {sum(bicubic) / len(bicubic):.2f} dB", "",
             "| method | seeds | ours (dB) | paper: mean of its per-image rows (dB) | ours - paper: mean ± std over images | r(ours, paper) "
             "| paper - our bicubic: min..max | ours - our bicubic: min..max | r(paper, our bicubic) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for paper_model in PAPER_MODELS:
        published = [paper[paper_model][name]["psnr"] for name in images]
        paper_gain = [p - b for p, b in zip(published, bicubic)]
        model = ours_of.get(paper_model)
        cells = ["–"] * 5
        if model in runs and all(name in runs[model] for name in images):
            seeds = min(len(runs[model][name]) for name in images)
            ours = [sum(runs[model][name]) / len(runs[model][name]) for name in images]
            offset = [o - p for o, p in zip(ours, published)]
            gain = [o - b for o, b in zip(ours, bicubic)]
            cells = [str(seeds), f"{sum(ours) / len(ours):.2f}", f"{sum(offset) / len(offset):+.2f} ± {std(offset):.2f}",
                     f"{pearson(ours, published):.3f}", f"{min(gain):+.2f}..{max(gain):+.2f}"]
        lines.append(f"| {PAPER_TITLES[paper_model]} | {cells[0]} | {cells[1]} | {sum(published) / len(published):.2f} "
                     f"| {cells[2]} | {cells[3]} | {min(paper_gain):+.2f}..{max(paper_gain):+.2f} | {cells[4]} "
                     f"| {pearson(published, bicubic):.3f} |")
    return "\n".join(lines)


#: the step-matched window (start, end] of the training loss: every MSE-trained model's
#: budget reaches it (Proposed's is 350 steps)
EQUAL_STEPS = (250, 350)


def _val_at(rows: list[dict], limit: float | None) -> tuple[int, float]:
    """``(step, PSNR)`` of the last validation at or before step ``limit`` (None: the last)."""
    points = sorted((int(row["step"]), float(row["val/psnr"])) for row in rows if row.get("val/psnr"))
    points = [point for point in points if limit is None or point[0] <= limit]
    return points[-1] if points else (0, math.nan)


def _steps(values: list[int]) -> str:
    """The step of a validation, or the steps when the seeds differ."""
    return "/".join(str(step) for step in sorted(set(values)))


def convergence(runs: Path, reference: str = "jointsr_paper") -> str:
    """Per model: the seed-mean validation PSNR at the last validation at or before half its
    step budget and at its last validation, each with its step, and the step-matched
    training-batch PSNR, paired by seed with ``reference``'s (the same seed
    draws the same batches at the same steps for every model: the order is a function of the
    seed and the epoch alone, and every model cuts the same patches)."""
    import json

    curves: dict[str, dict[int, tuple[tuple[int, float], tuple[int, float], int, float]]] = defaultdict(dict)
    for document in sorted(runs.glob("*/*/test_metrics.json")):
        metrics = sorted(document.parent.glob("csv/metrics.csv"))
        if not metrics:
            continue
        with metrics[0].open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        tested = json.loads(document.read_text())
        model, steps = tested["model"], tested.get("training", {}).get("steps", "?")
        config = OmegaConf.load(document.parent / ".hydra" / "config.yaml")
        window = [float(row["train/loss"]) for row in rows
                  if row.get("train/loss") and EQUAL_STEPS[0] < int(row["step"]) <= EQUAL_STEPS[1]]
        mse = config.model.get("loss", "mse") == "mse" and window
        train_psnr = -10 * math.log10(sum(window) / len(window)) if mse else math.nan
        last = _val_at(rows, None)
        # half the recorded budget; without one, half the last validated step
        half = _val_at(rows, (steps if isinstance(steps, int) else last[0]) / 2)
        curves[model][int(config.seed)] = (half, last, steps, train_psnr)
    lines = ["| model | runs | steps (budget) | val PSNR at or before half the budget | its step "
             "| val PSNR at the last validation | its step | gain between the two "
             f"| training-batch PSNR, steps {EQUAL_STEPS[0] + 1}-{EQUAL_STEPS[1]} (MSE models) "
             f"| minus {reference}'s, paired by seed |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    base = curves.get(reference, {})
    for model, by_seed in sorted(curves.items()):
        values = list(by_seed.values())
        half = sum(v[0][1] for v in values) / len(values)
        end = sum(v[1][1] for v in values) / len(values)
        train = [v[3] for v in values]
        equal = "–" if any(math.isnan(t) for t in train) else f"{sum(train) / len(train):.2f} ± {std(train):.2f}"
        paired = [by_seed[seed][3] - base[seed][3] for seed in sorted(by_seed) if seed in base]
        diff = "–" if model == reference or not paired or any(math.isnan(d) for d in paired) else \
            f"{sum(paired) / len(paired):+.2f} ± {std(paired):.2f} ({len(paired)} seeds)"
        lines.append(f"| {model} | {len(values)} | {values[0][2]} | {half:.2f} | {_steps([v[0][0] for v in values])} "
                     f"| {end:.2f} | {_steps([v[1][0] for v in values])} | {end - half:+.2f} | {equal} | {diff} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="a jointsr-report report.csv of one task")
    parser.add_argument("--runs", type=Path, help="the task's log folder (run.sh's LOGS/<task>)")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"per_image.py: {args.report} is not a file: give a report.csv written by jointsr-report",
              file=sys.stderr)
        return 2
    print(comparison(args.report))
    if args.runs is not None:
        if not args.runs.is_dir():
            print(f"per_image.py: {args.runs} is not a folder: give run.sh's LOGS/<task>", file=sys.stderr)
            return 2
        print()
        print(convergence(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
