"""The report's tables: Markdown sections of ``report.md`` and the CSV files beside it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from jointsr.evaluation.results import DEPTH_METRICS, METRICS
from jointsr.evaluation.stats import Interval, Spread
from jointsr.report.aggregation import (
    BOOTSTRAP_REPLICATES,
    BOOTSTRAP_SEED,
    LEVEL,
    Comparison,
    Configuration,
)
from jointsr.report.published import (
    OUR_MODEL_TO_PAPER,
    PAPER_MODELS,
    PAPER_TITLES,
    paper_table,
)
from jointsr.report.runs import Run

DASH = "–"


# ---------------------------------------------------------------------------- formatting
def fmt(metric: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def fmt_spread(metric: str, summary: Spread | None) -> str:
    """``mean ± std`` (``± –`` for one seed)."""
    if summary is None:
        return DASH
    return f"{fmt(metric, summary.mean)} ± {fmt(metric, summary.std)}"


def fmt_range(metric: str, summary: Spread | None) -> str:
    """``min–max`` over the seeds; ``–`` for one seed."""
    if summary is None or summary.n < 2:
        return DASH
    return f"{fmt(metric, summary.low)}–{fmt(metric, summary.high)}"


def fmt_interval(interval: Interval | None) -> str:
    return DASH if interval is None else f"[{interval.low:+.3f}, {interval.high:+.3f}]"


def relative(path: Path, base: Path) -> str:
    """``path`` relative to the report's input directory (absolute when outside it)."""
    try:
        return str(Path(path).resolve().relative_to(base.resolve())) or "."
    except ValueError:
        return str(path)


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _bold_best(cells: list[str], means: list[float | None], metric: str) -> list[str]:
    """Bold the cells whose mean, as printed, is the best of the row (ties all bold)."""
    present = [m for m in means if m is not None and not math.isnan(m)]
    best = fmt(metric, max(present)) if len(present) > 1 else None
    return [f"**{cell}**" if best is not None and mean is not None and fmt(metric, mean) == best else cell
            for cell, mean in zip(cells, means)]


def fmt_budget(config: Configuration) -> tuple[str, str]:
    """Training steps and minutes behind the tested weights, mean over the runs (``–``: none)."""
    budget = config.budget()
    if budget is None:
        return DASH, DASH
    steps = f"{budget['steps'].mean:,.0f}"
    minutes = budget.get("minutes")
    return steps, DASH if minutes is None else f"{minutes.mean:.1f}"


def fmt_tested(steps: list[int]) -> str:
    """The step of the tested weights: one step, or every step of a mix, marked."""
    if not steps:
        return DASH
    if len(steps) == 1:
        return f"{steps[0]:,}"
    return "mixed: " + ", ".join(f"{step:,}" for step in steps)


def fmt_rmse(summary: Spread | None) -> str:
    """``mean ± std`` of a depth RMSE over the seeds (the mean alone for one seed)."""
    if summary is None:
        return DASH
    return f"{summary.mean:.3f}" + ("" if summary.std is None else f" ± {summary.std:.3f}")


def seeds_text(config: Configuration) -> str:
    seeds = config.seeds
    text = f"{len(seeds)} ({', '.join(seeds)})"
    if config.duplicated_seeds:
        text += f"; seed {', '.join(config.duplicated_seeds)} ran more than once (averaged)"
    if config.seed_independent:
        text += "; no parameters: the same for every seed"
    return text


# ---------------------------------------------------------------------------- report.md
def task_markdown(data: str, scale: int, configs: list[Configuration], comparisons: list[Comparison],
                  reference: Configuration | None, reference_wanted: str | None, plots: dict[str, Path],
                  out: Path, base: Path) -> list[str]:
    """The section of one task (data, scale): configurations over seeds, paired comparisons,
    the per-image table beside the paper's, the runs, the plots."""
    paper = paper_table(data, scale)
    lines = [f"## {data} x{scale}", ""]
    if not all(config.full_protocol for config in configs):
        lines += ["Configurations marked * tested a subset or crops of the test images (quick runs): their "
                  "numbers are not comparable with the paper's.", ""]
    images = _image_order(configs, paper)
    paper_means = {model: _paper_mean(table, images) for model, table in (paper or {}).items()}
    lines += _summary_table(configs, paper_means if paper else None)
    lines += _comparison_table(configs, comparisons, reference, reference_wanted)
    lines += _per_image_table(configs, images, paper, paper_means)
    lines += ["Runs:", ""] + md_table(
        ["configuration", "seed", "train steps", "train min", "tested step", "PSNR", "SSIM", "SSIM-plain", "directory"],
        [[config.label, run.seed or DASH, *_run_budget(run),
          fmt_tested([run.budget["tested_step"]] if run.budget and run.budget.get("tested_step") is not None else []),
          *(fmt(m, run.document["mean"].get(m)) for m in METRICS),
          f"`{relative(run.path, base)}`"] for config in configs for run in config.runs]) + [""]
    for title, path in plots.items():
        lines += [f"![{title}]({relative(path, out)})", ""]
    return lines


def _run_budget(run: Run) -> tuple[str, str]:
    if not run.budget:
        return DASH, DASH
    minutes = run.budget.get("minutes")
    return f"{run.budget['steps']:,}", DASH if minutes is None else f"{minutes:.1f}"


def _summary_table(configs: list[Configuration], paper_means: dict | None) -> list[str]:
    header = ["configuration", "model", "params", "train steps", "train min", "tested step", "seeds", "PSNR",
              "PSNR min–max",
              "SSIM", "SSIM min–max"]
    depth = next((config.rmse_unit() for config in configs if config.rmse_unit()), None)
    if depth is not None:
        header += [f"RMSE ({depth['unit']})", f"RMSE crop {depth['border_crop']} px"]
    if paper_means is not None:
        header += ["paper PSNR", "paper SSIM", "ΔPSNR vs paper"]
    rows = []
    for config in configs:
        summary = config.summary()
        row = [config.label + ("" if config.full_protocol else " *"), config.model,
               DASH if config.params is None else f"{config.params:,}", *fmt_budget(config),
               fmt_tested(config.tested_steps()), seeds_text(config),
               fmt_spread("psnr", summary.get("psnr")), fmt_range("psnr", summary.get("psnr")),
               fmt_spread("ssim", summary.get("ssim")), fmt_range("ssim", summary.get("ssim"))]
        if depth is not None:
            row += [fmt_rmse(summary.get("rmse")), fmt_rmse(summary.get("rmse_crop"))]
        if paper_means is not None:
            published = paper_means.get(OUR_MODEL_TO_PAPER.get(config.model))
            row += [fmt("psnr", published and published["psnr"]), fmt("ssim", published and published["ssim"]),
                    DASH if not published else f"{summary['psnr'].mean - published['psnr']:+.2f}"]
        rows.append(row)
    note = ("Per configuration (runs that differ only in `seed`): mean ± sample std over the seeds "
            "(– for one seed) and min–max of the seeds' means over the test images; the training budget "
            "of the runs (steps and minutes of training, mean over the runs) and the step of the weights they "
            "tested (the best validation or the last; `mixed:` when the runs of one configuration tested "
            "weights of different steps, which makes their spread part training length): compare numbers "
            "with the paper's only at an equal budget.")
    if depth is not None:
        note += (f" Depth: RMSE in {depth['unit']} (method.md section 10), on the whole image and without a "
                 f"{depth['border_crop']}-pixel border, mean ± std over the seeds.")
    return [note, ""] + md_table(header, rows) + [""]


def _comparison_table(configs: list[Configuration], comparisons: list[Comparison],
                      reference: Configuration | None, wanted: str | None) -> list[str]:
    if len(configs) < 2:
        return []
    if reference is None:
        return [f"No paired comparison: `--reference {wanted}` matches no configuration of this task.", ""]
    percent = f"{LEVEL * 100:g} %"
    lines = [f"Paired comparison with **{reference.label}** (ΔPSNR = configuration − reference, in dB, "
             "on the test images and seeds both have; a configuration without parameters pairs its one "
             f"result with every seed). {percent} CI over seeds: paired t-interval of the per-seed "
             "differences of the mean PSNR over the images, "
             f"d̄ ± t({(1 + LEVEL) / 2:g}; n−1) · s/√n (training randomness, on these images). "
             f"{percent} CI over images × seeds: bootstrap, {BOOTSTRAP_REPLICATES:,} resamplings of the "
             f"images and the seeds with replacement, RNG seed {BOOTSTRAP_SEED}, percentile interval (the "
             "choice of test images as well). A difference is significant when its CI excludes 0.", ""]
    rows = [[c.candidate.label, str(len(c.seeds)), str(len(c.images)),
             DASH if c.mean is None else f"{c.mean:+.3f}", fmt_interval(c.t_interval),
             fmt_interval(c.bootstrap), c.verdict] for c in comparisons]
    return lines + md_table(["configuration", "seeds", "images", "ΔPSNR (dB)", f"{percent} CI, seeds",
                             f"{percent} CI, images × seeds", "verdict"], rows) + [""]


def _per_image_table(configs: list[Configuration], images: list[str], paper: dict | None,
                     paper_means: dict) -> list[str]:
    summaries = {config.label: {image: config.summary(image) for image in images + ["mean"]} for config in configs}
    paper_columns = [(f"{PAPER_TITLES[m]} (paper)", {**paper[m], "mean": paper_means[m]})
                     for m in PAPER_MODELS] if paper else []
    header = ["image"] + [f"{config.label} {metric}" for config in configs for metric in ("PSNR", "SSIM")] \
        + [f"{name} {metric}" for name, _ in paper_columns for metric in ("PSNR", "SSIM")]
    rows = []
    for image in images + ["mean"]:
        ours = []
        for metric in ("psnr", "ssim"):
            spreads = [summaries[config.label][image].get(metric) for config in configs]
            cells = [DASH if s is None else (fmt_spread(metric, s) if s.n > 1 else fmt(metric, s.mean))
                     for s in spreads]
            ours.append(_bold_best(cells, [None if s is None else s.mean for s in spreads], metric))
        published = []
        for metric in ("psnr", "ssim"):
            values = [table.get(image, {}).get(metric) if table.get(image) else None for _, table in paper_columns]
            published.append(_bold_best([fmt(metric, v) for v in values], values, metric))
        cells = [cell for pair in zip(*ours) for cell in pair] + [cell for pair in zip(*published) for cell in pair]
        rows.append([f"**{image}**" if image == "mean" else image] + cells)
    subset = paper is not None and any(set(images) != set(table) - {"mean"} for table in paper.values())
    note = ("The paper's mean is over the images shown here, not its published average."
            if subset else "The paper's mean row is its published average.") if paper else ""
    return [f"Per image: mean ± std over the seeds (a single value for one seed); bold: the best of our "
            f"configurations, and the best of the paper's methods. {note}".strip(), ""] \
        + md_table(header, rows) + [""]


def _image_order(configs: list[Configuration], paper: dict | None) -> list[str]:
    ours = list(dict.fromkeys(image for config in configs for image in config.images()))
    ordered = [name for name in (next(iter(paper.values())) if paper else {}) if name in ours]
    return ordered + sorted(set(ours) - set(ordered))


def _paper_mean(table: dict[str, dict[str, float]], images: list[str]) -> dict[str, float] | None:
    """The published average when ``images`` are all the paper's; else the mean over those shown."""
    shown = [table[name] for name in images if name in table]
    if set(images) == set(table) - {"mean"}:
        return table["mean"]
    if not shown:
        return None
    return {metric: sum(row[metric] for row in shown) / len(shown) for metric in ("psnr", "ssim")}


# ---------------------------------------------------------------------------- CSV files
def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def write_report_csv(path: Path, tasks: dict[tuple[str, int], list[Configuration]], base: Path) -> None:
    """Long form: one row per (run, image), ``image=mean`` rows, the paper's rows (``source=paper``)."""
    rows = []
    for (data, scale), configs in tasks.items():
        for config in configs:
            for run in config.runs:
                common = {"data": data, "scale": scale, "source": "ours", "configuration": config.label,
                          "seed": run.seed, "model": run.model, "params": config.params,
                          "directory": relative(run.path, base)}
                for row in run.document["per_image"] + [{"name": "mean", **run.document["mean"]}]:
                    rows.append({**common, "image": row["name"], **{m: row.get(m) for m in (*METRICS, *DEPTH_METRICS)}})
        for model, table in (paper_table(data, scale) or {}).items():
            for image, values in table.items():
                rows.append({"data": data, "scale": scale, "source": "paper", "configuration": PAPER_TITLES[model],
                             "model": model, "image": image, **values})
    _write(path, ["data", "scale", "source", "configuration", "seed", "model", "params", "image", *METRICS,
                  *DEPTH_METRICS, "directory"], rows)


def write_configurations_csv(path: Path, tasks: dict[tuple[str, int], list[Configuration]]) -> None:
    """One row per (configuration, image) and its ``mean``: n seeds, mean, std, min, max of each metric."""
    rows = []
    for (data, scale), configs in tasks.items():
        for config in configs:
            for image in config.images() + ["mean"]:
                row = {"data": data, "scale": scale, "configuration": config.label, "model": config.model,
                       "params": config.params, "seeds": " ".join(config.seeds), "image": image}
                for metric, summary in config.summary(image).items():
                    row.update({"n": summary.n, f"{metric}_mean": summary.mean, f"{metric}_std": summary.std,
                                f"{metric}_min": summary.low, f"{metric}_max": summary.high})
                rows.append(row)
    stats = [f"{metric}_{stat}" for metric in METRICS for stat in ("mean", "std", "min", "max")]
    _write(path, ["data", "scale", "configuration", "model", "params", "seeds", "image", "n", *stats], rows)


def write_comparisons_csv(path: Path, comparisons: dict[tuple[str, int], list[Comparison]]) -> None:
    rows = []
    for (data, scale), found in comparisons.items():
        for c in found:
            rows.append({"data": data, "scale": scale, "configuration": c.candidate.label,
                         "reference": c.reference.label, "seeds": " ".join(c.seeds), "images": len(c.images),
                         "delta_psnr": c.mean,
                         "t_low": c.t_interval and c.t_interval.low, "t_high": c.t_interval and c.t_interval.high,
                         "bootstrap_low": c.bootstrap and c.bootstrap.low,
                         "bootstrap_high": c.bootstrap and c.bootstrap.high, "verdict": c.verdict})
    _write(path, ["data", "scale", "configuration", "reference", "seeds", "images", "delta_psnr", "t_low",
                  "t_high", "bootstrap_low", "bootstrap_high", "verdict"], rows)


def write_runs_csv(path: Path, runs: list[Run], labels: dict[Path, str], base: Path) -> None:
    """One row per run, unfinished and unreadable ones included, with its status."""
    rows = []
    for run in runs:
        mean = run.document.get("mean", {}) if run.finished else {}
        readable = run.error is None
        rows.append({"directory": relative(run.path, base), "status": run.status(),
                     "configuration": labels.get(run.path, ""), "seed": run.seed if readable else None,
                     "model": run.model if readable else None, "data": run.data if readable else None,
                     "scale": run.scale if readable else None, "params": run.params,
                     "train_steps": (run.budget or {}).get("steps"), "train_minutes": (run.budget or {}).get("minutes"),
                     **{m: mean.get(m) for m in METRICS}})
    _write(path, ["directory", "status", "configuration", "seed", "model", "data", "scale", "params", "train_steps",
                  "train_minutes", *METRICS], rows)
