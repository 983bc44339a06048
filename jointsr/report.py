"""``jointsr-report DIR... --out OUT``: the runs under some run or sweep directories, as the
paper reports them.

A *run* is a directory holding ``test_metrics.json`` (a finished run) or ``.hydra/`` without
it (failed, killed or still running: listed, never dropped). For each run the report reads
its config (T, R, k, ...: the resolved one it trained with from ``csv/hparams.yaml``, else
``.hydra/config.yaml``), ``.hydra/overrides.yaml`` (what differs between the runs of a
sweep), ``csv/metrics.csv`` (learning curves) and the last ``csv/grids/*.png`` (bicubic |
prediction | truth | error x10 on the fixed validation image). Parameters are counted by
instantiating the run's ``model.net`` from its config (a few seconds at most; ``--no-params``
skips it).

Written into OUT:

- ``report.md``: per (data, scale) a summary (one row per run, the paper's mean beside it)
  and the paper-style per-image table: rows = test images and their mean, columns = run x
  {PSNR, SSIM}, then the paper's published columns. In each row the best of our runs and the
  best of the paper's columns are bold (two column groups). Then the unfinished runs, and
  the jobs a sweep's ``multirun.yaml`` asked for that never started.
- ``report.csv``: the same numbers in long form, one row per (run, image) including
  ``image=mean`` rows and the paper's rows (``source=paper``); a wide table is one pivot away.
- ``runs.csv``: one row per run, unfinished ones included, with its status.
- PNGs (dpi 80): ``ablation_*`` (PSNR vs T and R, when runs differ in ``model.net.T``/``R``),
  ``params_*`` (PSNR vs parameters), ``curves_*`` (val/psnr vs step and vs minutes, test PSNR
  vs minutes where ``test_curve.csv`` exists),
  ``grids_*`` (the last validation grid of each run).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from omegaconf import DictConfig, OmegaConf

from jointsr.evaluation import METRICS
from jointsr.paper_results import PAPER_MODELS, PAPER_TITLES, OUR_MODEL_TO_PAPER, paper_table

log = logging.getLogger("jointsr")

#: our models in the order of the paper's tables (others after them, alphabetically)
MODEL_ORDER = ("bicubic", "srfbn_s", "srfbn", "djf", "coista", "lmcsc", "jointsr_paper", "jointsr")
#: overrides that never tell runs apart in a label (the group or the output place say them)
_LABEL_IGNORED = ("hydra.", "paths.")
_PARAM_CACHE: dict[str, int | None] = {}


@dataclass
class Run:
    """One run directory and what it left behind."""

    path: Path
    config: DictConfig | None = None
    overrides: list[str] = field(default_factory=list)
    choices: dict = field(default_factory=dict)
    document: dict | None = None          # test_metrics.json
    curve: list[dict] = field(default_factory=list)  # {"step", "minutes", "psnr"} per validation
    test_curve: list[dict] = field(default_factory=list)  # {"minutes", "step", "psnr"} per timed checkpoint
    grid: Path | None = None
    params: int | None = None
    label: str = ""

    @property
    def finished(self) -> bool:
        return bool(self.document and self.document.get("per_image"))

    @property
    def model(self) -> str:
        if self.document:
            return str(self.document["model"])
        return str(self.select("model.name") or self.choices.get("model") or "?")

    @property
    def data(self) -> str:
        if self.document:
            return str(self.document["data"])
        return str(self.choices.get("data") or "?")

    @property
    def scale(self) -> int | None:
        if self.document:
            return int(self.document["scale"])
        value = self.select("scale")
        return None if value is None else int(value)

    @property
    def depth(self) -> tuple[int | None, int | None]:
        """(T, R) of an unfolded network, None where the model has no such keys."""
        return self.select("model.net.T"), self.select("model.net.R")

    @property
    def full_protocol(self) -> bool:
        """False when the test used a subset or crops of the test images (quick runs)."""
        if self.config is None:
            return True
        return self.select("data.test_crop") is None and self.select("data.max_test_images") is None \
            and not self.select("trainer.fast_dev_run")

    def select(self, key: str):
        if self.config is None:
            return None
        try:
            return OmegaConf.select(self.config, key, default=None, throw_on_resolution_failure=False)
        except Exception:  # an interpolation needing a running Hydra app: unknown
            return None

    def status(self) -> str:
        if self.finished:
            return "finished"
        if self.document is not None:
            return "test_metrics.json holds no images"
        if self.config is not None and self.select("test") is False:
            return "fit only (test=false): no test_metrics.json"
        last = f"; last validation at step {self.curve[-1]['step']} (val/psnr {self.curve[-1]['psnr']:.2f})" \
            if self.curve else ""
        ckpt = "; checkpoints/last.ckpt present" if (self.path / "checkpoints" / "last.ckpt").is_file() else ""
        return f"unfinished: no test_metrics.json{last}{ckpt}"


# ---------------------------------------------------------------------------- collecting
def find_runs(roots: Iterable[str | Path]) -> list[Run]:
    """Every run under ``roots`` (themselves included), each read once."""
    found: dict[Path, Run] = {}
    for root in roots:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"not a run or sweep directory: {root}")
        candidates = {p.parent for p in root.rglob("test_metrics.json")}
        candidates |= {p.parent for p in root.rglob(".hydra") if (p / "config.yaml").is_file()}
        for path in candidates:
            path = path.resolve()
            if path not in found:
                found[path] = read_run(path)
    return sorted(found.values(), key=lambda run: str(run.path))


def _override_items(overrides: Iterable[str]) -> dict[str, list[str]]:
    """``key -> values`` of Hydra overrides (a sweep ``a=1,2`` gives two values)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    items: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element()
        items[key] = [str(v) for v in override.sweep_string_iterator()] if override.is_sweep_override() \
            else [override.get_value_element_as_str()]
    return items


def not_started(sweep_dir: Path, runs: list[Run]) -> list[str]:
    """The jobs a sweep's ``multirun.yaml`` asked for that left no folder (a sweep killed
    before reaching them), each as its overrides ``a=1,b=2``."""
    import itertools

    launched = OmegaConf.load(sweep_dir / "multirun.yaml")
    task = OmegaConf.select(launched, "hydra.overrides.task", default=None) or []
    params = OmegaConf.select(launched, "hydra.sweeper.params", default=None) or {}
    try:  # the sweeper's grid first, the command line wins for a key in both (as BasicSweeper)
        grid = {**_override_items(f"{key}={value}" for key, value in params.items()), **_override_items(task)}
    except Exception as error:  # an override this parser cannot read: say so, list nothing
        log.warning("%s: cannot expand the sweep (%s); jobs that never started are not listed", sweep_dir, error)
        return []
    seen = []
    for run in runs:
        if sweep_dir.resolve() in run.path.resolve().parents and run.overrides:
            try:
                seen.append({key: values[0] for key, values in _override_items(run.overrides).items()})
            except Exception:
                continue
    keys = sorted(grid)
    missing = []
    for values in itertools.product(*(grid[key] for key in keys)):
        job = dict(zip(keys, values))
        if job not in seen:
            missing.append(",".join(f"{key}={value}" for key, value in job.items()))
    return missing


def read_run(path: Path) -> Run:
    run = Run(path=path)
    hydra_dir = path / ".hydra"
    run.config = _trained_config(path / "csv" / "hparams.yaml")
    if run.config is None and (hydra_dir / "config.yaml").is_file():
        run.config = OmegaConf.load(hydra_dir / "config.yaml")
    if (hydra_dir / "overrides.yaml").is_file():
        run.overrides = [str(o) for o in OmegaConf.load(hydra_dir / "overrides.yaml")]
    if (hydra_dir / "hydra.yaml").is_file():
        hydra_cfg = OmegaConf.load(hydra_dir / "hydra.yaml")
        choices = OmegaConf.select(hydra_cfg, "hydra.runtime.choices", default=None)
        run.choices = OmegaConf.to_container(choices) if choices is not None else {}
    if (path / "test_metrics.json").is_file():
        run.document = json.loads((path / "test_metrics.json").read_text())
    run.curve = read_curve(path / "csv" / "metrics.csv")
    run.test_curve = read_test_curve(path / "test_curve.csv")
    grids = sorted((path / "csv" / "grids").glob("*.png"))
    run.grid = grids[-1] if grids else None
    return run


def _trained_config(hparams_yaml: Path) -> DictConfig | None:
    """The resolved config the run trained with, as jointsr-train logged it (``cfg`` in the CSV
    logger's hparams.yaml). Preferred to ``.hydra/config.yaml``, which Hydra rewrites whenever
    the job is launched again, e.g. when a resumed sweep skips it."""
    if not hparams_yaml.is_file():
        return None
    try:
        logged = OmegaConf.load(hparams_yaml)
    except Exception:  # not plain YAML: fall back to .hydra/config.yaml
        return None
    cfg = logged.get("cfg") if isinstance(logged, DictConfig) else None
    return cfg if isinstance(cfg, DictConfig) else None


def read_curve(metrics_csv: Path) -> list[dict]:
    """val/psnr per validation (step, and val/minutes when the StepTimer logged it)."""
    if not metrics_csv.is_file():
        return []
    by_step: dict[int, dict] = defaultdict(dict)
    with metrics_csv.open(newline="") as stream:
        for row in csv.DictReader(stream):
            for key, name in (("val/psnr", "psnr"), ("val/minutes", "minutes")):
                if row.get(key):
                    by_step[int(row["step"])][name] = float(row[key])
    return [{"step": step, "minutes": values.get("minutes"), "psnr": values["psnr"]}
            for step, values in sorted(by_step.items()) if "psnr" in values]


def read_test_curve(table: Path) -> list[dict]:
    """Mean test PSNR of the timed checkpoints (``jointsr-eval curve_dir=<run>/curve``)."""
    if not table.is_file():
        return []
    with table.open(newline="") as stream:
        return [{"minutes": float(row["minutes"]), "step": int(row["step"]), "psnr": float(row["psnr"])}
                for row in csv.DictReader(stream)]


def count_parameters(run: Run) -> int | None:
    """Parameters of the run's network, built from its ``model.net`` config (cached)."""
    net_cfg = run.select("model.net")
    if net_cfg is None:
        return None
    try:
        resolved = OmegaConf.to_container(net_cfg, resolve=True)
    except Exception as error:
        log.warning("%s: cannot resolve model.net (%s): parameters unknown", run.path, error)
        return None
    key = json.dumps(resolved, sort_keys=True, default=str)
    if key not in _PARAM_CACHE:
        import hydra
        import torch

        try:
            with torch.device("meta"):  # shapes only: no memory, no initialisation cost
                net = hydra.utils.instantiate(resolved)
            _PARAM_CACHE[key] = int(sum(p.numel() for p in net.parameters()))
        except Exception:
            try:  # a constructor that computes on its weights needs real tensors
                net = hydra.utils.instantiate(resolved)
                _PARAM_CACHE[key] = int(sum(p.numel() for p in net.parameters()))
            except Exception as error:
                log.warning("%s: cannot build model.net (%s): parameters unknown", run.path, error)
                _PARAM_CACHE[key] = None
    return _PARAM_CACHE[key]


def label_runs(runs: list[Run]) -> None:
    """Name each run by its model and the overrides that differ from the other runs of its group."""
    def parse(override: str) -> tuple[str, str] | None:
        key, sep, value = override.lstrip("+~").partition("=")
        if not sep or key == "model" or key.startswith(_LABEL_IGNORED):
            return None
        return key, value

    pairs = [dict(p for p in map(parse, run.overrides) if p) for run in runs]
    keys = sorted({key for pair in pairs for key in pair})
    for run, pair in zip(runs, pairs):  # a key another run overrode: this run's value from its config
        for key in keys:
            value = run.select(key) if key not in pair and "." in key else None
            if value is not None and not OmegaConf.is_config(value):
                pair[key] = str(value)
    varying = [key for key in keys if len({pair.get(key) for pair in pairs}) > 1]
    for run, pair in zip(runs, pairs):
        extra = ",".join(f"{key}={_short_number(pair[key])}" for key in varying if key in pair)
        run.label = f"{run.model} {extra}".strip()
    seen: dict[str, int] = defaultdict(int)
    for run in runs:
        seen[run.label] += 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.label} [{run.path.name}]"


def _short_number(value: str) -> str:
    """Sampled floats (an Optuna trial's 0.0007580393296846865) as 4 significant digits."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() or len(value) <= 8 else f"{number:.4g}"


def _sort_key(run: Run) -> tuple:
    model_rank = MODEL_ORDER.index(run.model) if run.model in MODEL_ORDER else len(MODEL_ORDER)
    depth = tuple(-1 if v is None else v for v in run.depth)
    return (model_rank, run.model, depth, run.label)


# ---------------------------------------------------------------------------- tables
def _fmt(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "inf"
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def _bold_best(cells: list[float | None], metric: str) -> list[str]:
    present = [v for v in cells if v is not None and not math.isnan(v)]
    best = _fmt(metric, max(present)) if len(present) > 1 else None  # ties as printed are all bold
    return [f"**{_fmt(metric, v)}**" if best is not None and _fmt(metric, v) == best else _fmt(metric, v)
            for v in cells]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _image_order(runs: list[Run], paper: dict | None) -> list[str]:
    ours = {row["name"] for run in runs for row in run.document["per_image"]}
    ordered = [name for name in (next(iter(paper.values())) if paper else {}) if name in ours]
    return ordered + sorted(ours - set(ordered))


def group_markdown(data: str, scale: int, runs: list[Run], plots: dict[str, Path], out: Path) -> list[str]:
    paper = paper_table(data, scale)
    lines = [f"## {data} x{scale}", ""]
    if not all(run.full_protocol for run in runs):
        lines += ["Runs marked * tested a subset or crops of the test images (quick runs): their "
                  "numbers are not comparable with the paper's.", ""]

    images = _image_order(runs, paper)
    paper_means = {model: _paper_mean(table, images) for model, table in (paper or {}).items()}
    subset_note = paper is not None and any(
        set(images) != set(table) - {"mean"} for table in paper.values())

    # summary: one row per run, the paper's mean of the method it reproduces beside it
    header = ["run", "model", "T", "R", "params", "PSNR", "SSIM", "SSIM-plain"]
    if paper:
        header += ["paper PSNR", "paper SSIM", "ΔPSNR"]
    header.append("directory")
    rows = []
    for run in runs:
        mean = run.document["mean"]
        T, R = run.depth
        row = [run.label + ("" if run.full_protocol else " *"), run.model, _opt(T), _opt(R),
               "–" if run.params is None else f"{run.params:,}",
               _fmt("psnr", mean.get("psnr")), _fmt("ssim", mean.get("ssim")),
               _fmt("ssim", mean.get("ssim_plain"))]
        if paper:
            published = paper_means.get(OUR_MODEL_TO_PAPER.get(run.model))
            row += [_fmt("psnr", published and published["psnr"]), _fmt("ssim", published and published["ssim"]),
                    "–" if not published else f"{mean['psnr'] - published['psnr']:+.2f}"]
        row.append(f"`{_relative(run.path, out)}`")
        rows.append(row)
    lines += ["Mean over the test images:", ""] + _md_table(header, rows) + [""]

    # the paper-style per-image table
    columns: list[tuple[str, dict]] = [
        (run.label, {**{r["name"]: r for r in run.document["per_image"]}, "mean": run.document["mean"]})
        for run in runs]
    paper_columns = [(f"{PAPER_TITLES[m]} (paper)", {**paper[m], "mean": paper_means[m]})
                     for m in PAPER_MODELS] if paper else []
    header = ["image"] + [f"{name} {metric}" for name, _ in columns + paper_columns for metric in ("PSNR", "SSIM")]
    rows = []
    for image in images + ["mean"]:
        cells_by_group = []
        for group in (columns, paper_columns):
            per_metric = {metric: _bold_best([values.get(image, {}).get(metric) for _, values in group], metric)
                          for metric in ("psnr", "ssim")}
            cells_by_group += [cell for pair in zip(per_metric["psnr"], per_metric["ssim"]) for cell in pair]
        rows.append([f"**{image}**" if image == "mean" else image] + cells_by_group)
    lines += ["Per image (bold: the best of our runs, and the best of the paper's methods). The paper's "
              + ("mean is over the images shown here, not its published average:" if subset_note
                 else "mean row is its published average:"), ""]
    lines += _md_table(header, rows) + [""]
    for title, path in plots.items():
        lines += [f"![{title}]({_relative(path, out)})", ""]
    return lines


def _paper_mean(table: dict[str, dict[str, float]], images: list[str]) -> dict[str, float] | None:
    """The published average when ``images`` are all the paper's; else the mean over those shown."""
    shown = [table[name] for name in images if name in table]
    if set(images) == set(table) - {"mean"}:
        return table["mean"]
    if not shown:
        return None
    return {metric: sum(row[metric] for row in shown) / len(shown) for metric in ("psnr", "ssim")}


def _opt(value) -> str:
    return "–" if value is None else str(value)


def _relative(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def write_csv(path: Path, groups: dict[tuple[str, int], list[Run]]) -> None:
    fields = ["data", "scale", "source", "run", "model", "T", "R", "params", "image", *METRICS, "directory"]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for (data, scale), runs in groups.items():
            for run in runs:
                T, R = run.depth
                base = {"data": data, "scale": scale, "source": "ours", "run": run.label, "model": run.model,
                        "T": T, "R": R, "params": run.params, "directory": str(run.path)}
                for row in run.document["per_image"] + [{"name": "mean", **run.document["mean"]}]:
                    writer.writerow({**base, "image": row["name"], **{m: row.get(m) for m in METRICS}})
            for model, table in (paper_table(data, scale) or {}).items():
                for image, values in table.items():
                    writer.writerow({"data": data, "scale": scale, "source": "paper", "run": PAPER_TITLES[model],
                                     "model": model, "image": image, **values})


def write_runs_csv(path: Path, runs: list[Run]) -> None:
    fields = ["directory", "status", "run", "model", "data", "scale", "T", "R", "params", *METRICS]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=fields)
        writer.writeheader()
        for run in runs:
            T, R = run.depth
            mean = run.document.get("mean", {}) if run.finished else {}
            writer.writerow({"directory": str(run.path), "status": run.status(), "run": run.label,
                             "model": run.model, "data": run.data, "scale": run.scale, "T": T, "R": R,
                             "params": run.params, **{m: mean.get(m) for m in METRICS}})


# ---------------------------------------------------------------------------- plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_ablation(runs: list[Run], path: Path, title: str, dpi: int) -> Path | None:
    """PSNR vs T (a line per R) and vs R (a line per T); duplicates of a (T, R) averaged."""
    points: dict[tuple[int, int], list[float]] = defaultdict(list)
    for run in runs:
        T, R = run.depth
        if T is not None and R is not None:
            points[(int(T), int(R))].append(run.document["mean"]["psnr"])
    if len(points) < 2:
        return None
    from matplotlib.ticker import MaxNLocator

    psnr = {key: sum(values) / len(values) for key, values in points.items()}
    varying = [(x_index, name, other) for x_index, name, other in ((0, "T", "R"), (1, "R", "T"))
               if len({key[x_index] for key in psnr}) > 1]
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(varying), figsize=(4 * len(varying), 3.2), squeeze=False)
    for axis, (x_index, name, other) in zip(axes[0], varying):
        for fixed in sorted({key[1 - x_index] for key in psnr}):
            series = sorted((key[x_index], value) for key, value in psnr.items() if key[1 - x_index] == fixed)
            axis.plot([s[0] for s in series], [s[1] for s in series], "o-", label=f"{other}={fixed}")
        axis.set_xlabel(f"{name} ({'encoder iterations' if name == 'T' else 'RNN steps'})")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.set_ylabel("test PSNR (dB)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, dpi)


def plot_params(runs: list[Run], path: Path, title: str, dpi: int) -> Path | None:
    """Mean test PSNR vs parameter count (bicubic, with none, as a horizontal line)."""
    known = [run for run in runs if run.params is not None]
    if not known:
        return None
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for run in known:
        value = run.document["mean"]["psnr"]
        if run.params == 0:
            axis.axhline(value, ls="--", color="grey", lw=1)
            axis.annotate(run.label[:48], (0.01, value), xycoords=("axes fraction", "data"), fontsize=7)
        else:
            axis.plot(run.params, value, "o")
            axis.annotate(run.label[:48], (run.params, value), fontsize=7, xytext=(3, 3), textcoords="offset points")
    counts = [run.params for run in known if run.params]
    if counts and max(counts) > 10 * min(counts):
        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:g} M" if x >= 1e6 else f"{x / 1e3:g} k"))
    axis.ticklabel_format(axis="y", useOffset=False)
    axis.set_xlabel("parameters")
    axis.set_ylabel("test PSNR (dB)")
    axis.grid(alpha=0.3)
    axis.set_title(title, fontsize=9)
    return _save(figure, path, dpi)


def plot_curves(runs: list[Run], path: Path, title: str, dpi: int) -> Path | None:
    """val/psnr against training steps and against wall-clock minutes; test PSNR against
    minutes for runs with timed checkpoints tested (``test_curve.csv``)."""
    with_curves = [run for run in runs if run.curve or run.test_curve]
    if not with_curves:
        return None
    timed = any(point["minutes"] is not None for run in with_curves for point in run.curve)
    tested = any(run.test_curve for run in with_curves)
    panels = 1 + timed + tested
    plt = _pyplot()
    # the legend goes below the panels: run labels are long and would hide the curves
    figure, axes = plt.subplots(1, panels, figsize=(4.0 * panels, 3.4 + 0.16 * len(with_curves)),
                                squeeze=False, layout="constrained")
    for run in with_curves:
        line, = axes[0][0].plot([p["step"] for p in run.curve], [p["psnr"] for p in run.curve], ".-",
                                label=run.label)
        if timed:
            timed_points = [p for p in run.curve if p["minutes"] is not None]
            axes[0][1].plot([p["minutes"] for p in timed_points], [p["psnr"] for p in timed_points], ".-",
                            color=line.get_color())
        if run.test_curve:
            axes[0][-1].plot([p["minutes"] for p in run.test_curve], [p["psnr"] for p in run.test_curve], "o-",
                             color=line.get_color())
    axes[0][0].set_xlabel("step")
    if timed:
        axes[0][1].set_xlabel("minutes of training")
    for axis in axes[0][:1 + timed]:
        axis.set_ylabel("val/psnr (dB)")
    if tested:
        axes[0][-1].set_xlabel("minutes of training")
        axes[0][-1].set_ylabel("test PSNR (dB), timed checkpoints")
    for axis in axes[0]:
        axis.grid(alpha=0.3)
    figure.legend(loc="outside lower center", fontsize=6, ncol=1)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, dpi)


def plot_grids(runs: list[Run], path: Path, title: str, dpi: int, limit: int) -> Path | None:
    """The last validation grid of each run (bicubic | prediction | truth | error x10)."""
    with_grids = [run for run in runs if run.grid is not None][:limit]
    if not with_grids:
        return None
    from PIL import Image

    plt = _pyplot()
    figure, axes = plt.subplots(len(with_grids), 1, figsize=(8, 2.3 * len(with_grids)), squeeze=False)
    for axis, run in zip(axes[:, 0], with_grids):
        axis.imshow(Image.open(run.grid), cmap="gray", vmin=0, vmax=255)
        axis.set_title(f"{run.label}: {run.grid.stem}", fontsize=8)
        axis.axis("off")
    figure.suptitle(f"{title}: bicubic | prediction | truth | |error| x10", fontsize=9)
    return _save(figure, path, dpi)


def _save(figure, path: Path, dpi: int) -> Path:
    if figure.get_layout_engine() is None:
        figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


# ---------------------------------------------------------------------------- the report
def make_report(roots: Sequence[str | Path], out: str | Path, params: bool = True, dpi: int = 80,
                max_grids: int = 8) -> dict:
    """Collect the runs under ``roots`` and write the report into ``out``; returns a summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = find_runs(roots)
    finished = [run for run in runs if run.finished]
    unfinished = [run for run in runs if not run.finished]
    groups: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for run in finished:
        if params:
            run.params = count_parameters(run)
        groups[(run.data, run.scale)].append(run)
    groups = dict(sorted(groups.items()))
    for key in groups:
        label_runs(groups[key])
        groups[key].sort(key=_sort_key)
    label_runs(unfinished)
    sweeps = sorted({path.parent for root in roots for path in Path(root).expanduser().rglob("multirun.yaml")})
    pending = [(sweep, job) for sweep in sweeps for job in not_started(sweep, runs)]

    lines = ["# jointsr report", "",
             f"{len(finished)} finished run(s), {len(unfinished)} unfinished"
             + (f", {len(pending)} not started" if pending else "") + ", under: "
             + ", ".join(f"`{root}`" for root in roots), ""]
    written: list[Path] = []
    for (data, scale), group in groups.items():
        stem, title = f"{data}_x{scale}", f"{data} x{scale}"
        plots = {
            "ablation: PSNR vs T and R": plot_ablation(group, out / f"ablation_{stem}.png", title, dpi),
            "PSNR vs parameters": plot_params(group, out / f"params_{stem}.png", title, dpi),
            "learning curves": plot_curves(group + [r for r in unfinished if (r.data, r.scale) == (data, scale)],
                                           out / f"curves_{stem}.png", title, dpi),
            "validation grids": plot_grids(group, out / f"grids_{stem}.png", title, dpi, max_grids),
        }
        plots = {name: path for name, path in plots.items() if path is not None}
        written += plots.values()
        lines += group_markdown(data, scale, group, plots, out)
    lines += ["## Unfinished or failed runs", ""]
    if unfinished:
        lines += _md_table(["directory", "model", "data", "scale", "status"],
                           [[f"`{run.path}`", run.model, run.data, _opt(run.scale), run.status()]
                            for run in unfinished])
    else:
        lines.append("None.")
    if pending:
        lines += ["", "Jobs of a sweep that never started (in its `multirun.yaml`, no job folder: the sweep "
                  "stopped before them; re-running the sweep's command runs them):", ""]
        lines += _md_table(["sweep", "job overrides"], [[f"`{sweep}`", f"`{job}`"] for sweep, job in pending])
    lines += ["", "Parameters: counted by building each run's `model.net` from its config "
              "(`csv/hparams.yaml`, else `.hydra/config.yaml`).", ""]
    (out / "report.md").write_text("\n".join(lines))
    write_csv(out / "report.csv", groups)
    write_runs_csv(out / "runs.csv", runs)
    written += [out / "report.md", out / "report.csv", out / "runs.csv"]
    return {"finished": len(finished), "unfinished": len(unfinished), "not_started": len(pending),
            "groups": [f"{d} x{s}" for d, s in groups], "files": [str(p) for p in written]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jointsr-report",
        description="Collect every test_metrics.json under run or sweep directories (recursively) "
                    "into OUT/report.md, OUT/report.csv, OUT/runs.csv and PNG plots.")
    parser.add_argument("dirs", nargs="+", help="run or sweep directories (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for the report (created)")
    parser.add_argument("--no-params", action="store_true", help="do not build networks to count parameters")
    parser.add_argument("--dpi", type=int, default=80, help="resolution of the PNG plots (default 80)")
    parser.add_argument("--max-grids", type=int, default=8, help="validation grids shown per task (default 8)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = make_report(args.dirs, args.out, params=not args.no_params, dpi=args.dpi,
                              max_grids=args.max_grids)
    except FileNotFoundError as error:
        print(f"jointsr-report: {error}", file=sys.stderr)
        return 2
    print(f"{summary['finished']} finished, {summary['unfinished']} unfinished run(s); "
          f"tasks: {', '.join(summary['groups']) or 'none'}")
    for path in summary["files"]:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
