"""The report's plots: every PSNR is a configuration's mean over its seeds with its spread
(error bars of one sample std, or a shaded band for curves), bicubic a dashed reference line."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from jointsr.report.aggregation import Configuration, numeric_keys, varying_keys
from jointsr.report.references import Reference

#: plots are written at this resolution unless --dpi says otherwise
DEFAULT_DPI = 150
_MAX_ABLATION_PANELS = 4


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _reference_line(axis, reference: Reference | None) -> None:
    if reference is not None:
        axis.axhline(reference.psnr, ls="--", color="grey", lw=1,
                     label=f"{reference.source}: {reference.psnr:.2f} dB")


def _short_keys(keys: list[str]) -> dict[str, str]:
    """Each key's last dotted part when that names it uniquely among ``keys`` (``model.net.T`` -> ``T``)."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: short if last.count(short) == 1 else key for key, short in zip(keys, last)}


def plot_ablation(configs: list[Configuration], path: Path, title: str, dpi: int,
                  reference: Reference | None) -> Path | None:
    """Test PSNR against each numeric key that differs between the configurations (a panel per
    key, a line per value of the other differing keys), mean ± std over seeds."""
    axes_keys = numeric_keys(configs)[:_MAX_ABLATION_PANELS]
    if not axes_keys:
        return None
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    figure, axes = plt.subplots(1, len(axes_keys), figsize=(4.2 * len(axes_keys), 3.4), squeeze=False)
    for axis, key in zip(axes[0], axes_keys):
        having = [config for config in configs if key in config.values]
        others = [k for k in varying_keys(having) if k != key]
        short = _short_keys(others)
        series: dict[tuple, list[Configuration]] = defaultdict(list)
        for config in having:
            series[tuple((k, config.values.get(k)) for k in others)].append(config)
        for fixed, members in series.items():
            members.sort(key=lambda c: float(c.values[key]))
            means = [c.summary()["psnr"] for c in members]
            label = ",".join(f"{short[k]}={v}" for k, v in fixed if v is not None) or None
            axis.errorbar([float(c.values[key]) for c in members], [s.mean for s in means],
                          yerr=[s.std or 0.0 for s in means], fmt="o-", capsize=3, label=label)
        values = [float(c.values[key]) for c in configs if key in c.values]
        if all(v.is_integer() for v in values):
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        elif min(values) > 0 and max(values) > 10 * min(values):
            axis.set_xscale("log")
        _reference_line(axis, reference)
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.set_xlabel(key)
        axis.set_ylabel("test PSNR (dB), mean ± std over seeds")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=9)
    return _save(figure, path, dpi)


def plot_params(configs: list[Configuration], path: Path, title: str, dpi: int,
                reference: Reference | None) -> Path | None:
    """Test PSNR (mean ± std over seeds) against the parameter count."""
    known = [config for config in configs if config.params]
    if not known:
        return None
    from matplotlib.ticker import FuncFormatter, NullFormatter

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for config in known:
        summary = config.summary()["psnr"]
        axis.errorbar([config.params], [summary.mean], yerr=[summary.std or 0.0], fmt="o", capsize=3)
        axis.annotate(config.label[:48], (config.params, summary.mean), fontsize=7, xytext=(3, 3),
                      textcoords="offset points")
    _reference_line(axis, reference)
    axis.margins(x=0.2)  # room for the labels beside the outermost points
    counts = [config.params for config in known]
    if max(counts) > 10 * min(counts):
        axis.set_xscale("log")
        axis.xaxis.set_minor_formatter(NullFormatter())
    axis.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1e6:g} M" if x >= 1e6 else f"{x / 1e3:g} k"))
    axis.ticklabel_format(axis="y", useOffset=False)
    axis.set_xlabel("parameters")
    axis.set_ylabel("test PSNR (dB), mean ± std over seeds")
    axis.grid(alpha=0.3)
    if reference is not None:
        axis.legend(fontsize=7)
    axis.set_title(title, fontsize=9)
    return _save(figure, path, dpi)


def _mean_curve(curves: list[list[dict]], x_key: str) -> tuple[list[float], list[float], list[float]] | None:
    """Mean and std over seeds of curves validated at the same steps (x = mean of ``x_key``);
    None when the seeds' steps differ or there is one curve."""
    if len(curves) < 2 or any([p["step"] for p in c] != [p["step"] for p in curves[0]] for c in curves):
        return None
    if any(p[x_key] is None for c in curves for p in c):
        return None
    from jointsr.evaluation.stats import spread

    xs, means, stds = [], [], []
    for points in zip(*curves):
        xs.append(sum(p[x_key] for p in points) / len(points))
        summary = spread([p["psnr"] for p in points])
        means.append(summary.mean)
        stds.append(summary.std)
    return xs, means, stds


def plot_curves(configs: list[Configuration], path: Path, title: str, dpi: int,
                reference: Reference | None = None, unfinished: list | None = None) -> Path | None:
    """val/psnr against steps and minutes, test PSNR of timed checkpoints against minutes: per
    configuration the mean curve with a ±std band where its seeds validated at the same steps,
    else one line per seed; unfinished runs dotted."""
    entries = [(config.label, [r for r in config.runs if r.curve or r.test_curve]) for config in configs]
    entries += [(f"{run.path.name} (unfinished)", [run]) for run in (unfinished or []) if run.curve]
    entries = [(label, runs) for label, runs in entries if runs]
    if not entries:
        return None
    timed = any(p["minutes"] is not None for _, runs in entries for run in runs for p in run.curve)
    tested = any(run.test_curve for _, runs in entries for run in runs)
    panels = [("step", "curve", "step", "val/psnr (dB)")]
    if timed:
        panels.append(("minutes", "curve", "minutes of training", "val/psnr (dB)"))
    if tested:
        panels.append(("minutes", "test_curve", "minutes of training", "test PSNR (dB), timed checkpoints"))
    plt = _pyplot()
    # the legend goes below the panels: labels are long and would hide the curves
    figure, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.4 + 0.16 * len(entries)),
                                squeeze=False, layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, runs) in enumerate(entries):
        colour = colours[index % len(colours)]
        style = ":" if label.endswith("(unfinished)") else "-"
        for axis, (x_key, source, _, _) in zip(axes[0], panels):
            curves = [getattr(run, source) for run in runs if getattr(run, source)]
            if not curves:
                continue
            averaged = _mean_curve(curves, x_key)
            if averaged is not None:
                xs, means, stds = averaged
                axis.plot(xs, means, style, color=colour, marker=".")
                axis.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                                  color=colour, alpha=0.2, lw=0)
            else:
                for curve in curves:
                    points = [p for p in curve if p[x_key] is not None]
                    axis.plot([p[x_key] for p in points], [p["psnr"] for p in points], style, color=colour,
                              marker=".", lw=1)
        seeds = len(runs)
        axes[0][0].plot([], [], style, color=colour, label=f"{label} ({seeds} seed{'s' if seeds > 1 else ''})")
    for axis, (_, _, x_label, y_label) in zip(axes[0], panels):
        _reference_line(axis, reference)
        axis.ticklabel_format(axis="y", useOffset=False)
        axis.set_xlabel(x_label)
        axis.set_ylabel(y_label)
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", fontsize=6, ncol=1)
    figure.suptitle(f"{title}: mean over seeds ± std (band) where the seeds validated at the same steps",
                    fontsize=9)
    return _save(figure, path, dpi)


def plot_grids(configs: list[Configuration], path: Path, title: str, dpi: int, limit: int) -> Path | None:
    """The last validation grid of each run (bicubic | prediction | truth | error x10)."""
    with_grids = [(config, run) for config in configs for run in config.runs if run.grid is not None][:limit]
    if not with_grids:
        return None
    from PIL import Image

    plt = _pyplot()
    figure, axes = plt.subplots(len(with_grids), 1, figsize=(8, 2.3 * len(with_grids)), squeeze=False)
    for axis, (config, run) in zip(axes[:, 0], with_grids):
        with Image.open(run.grid) as grid:
            axis.imshow(grid, cmap="gray", vmin=0, vmax=255)
        axis.set_title(f"{config.label}, seed {run.seed}: {run.grid.stem}", fontsize=8)
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
