"""The figures of an inspection (PNG, matplotlib's Agg backend): one function per figure,
each taking an :class:`~jointsr.inspection.analysis.Inspection` and a path.

=====================  ==================================================================
``codes_energy``       the images (LR input, guide, prediction, truth, error), then the energy
                       ``sqrt(sum_c a_c^2)`` of every state at every step, one colour scale
``codes_support``      the same with the support: the share of the k channels non-zero per pixel
``sparsity``           density and L1 of every state per unrolled step
``thresholds``         each shrinkage layer's per-channel thresholds (``t``, or ``2 mu`` for LeSITA)
``coupling_regimes``   per LeSITA step: where the side information is taken (clamp), lets the
                       code through (pass) or is ignored (shrink); the shares per step
``coupling_distance``  ``|h - g|`` per pixel over the steps, and its mean
``coupling_agreement`` the local correlation of target and guide, and the coupled share against it
``dictionary``         the atoms of ``Dx`` sorted by usage (share of non-zero code entries)
``guide_filters``      the guide encoder's analysis filters sorted by the usage of their code
``steps_psnr``         the error of every per-step reconstruction and its PSNR
=====================  ==================================================================
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np

from jointsr.inspection.analysis import REGIMES, Inspection

PANEL = 2.3  # inches per image panel
REGIME_COLOURS = {"zero": "#222222", "shrink": "#3b5bdb", "pass": "#2f9e44", "clamp": "#e03131"}  # as the maps


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _aspect(inspection: Inspection) -> float:
    height, width = inspection.bicubic.shape
    return height / width


def _panel(ax, image: np.ndarray | None, title: str, **kwargs):
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=8)
    if image is None:
        ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=8, transform=ax.transAxes)
        return None
    return ax.imshow(image, interpolation="nearest", **kwargs)


def _nearest_upsample(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def _error_scale(inspection: Inspection, images: list[np.ndarray]) -> float:
    if inspection.truth is None:
        return 1.0
    errors = np.concatenate([np.abs(image - inspection.truth).ravel() for image in images])
    return max(float(np.percentile(errors, 99.5)), 1e-3)


def _image_row(axes, inspection: Inspection) -> None:
    """LR input (nearest), guide, prediction, truth, |error|: the first row of the code maps."""
    grey = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
    _panel(axes[0], _nearest_upsample(inspection.lr, inspection.scale), "LR input (nearest)", **grey)
    _panel(axes[1], np.clip(inspection.guide, 0, 1), "guide", **({} if inspection.guide.ndim == 3 else grey))
    output = inspection.reconstructions[-1]
    title = "prediction" + (f" {output.psnr:.2f} dB" if output.psnr is not None else "")
    _panel(axes[2], inspection.prediction, title, **grey)
    _panel(axes[3], inspection.truth, "truth", **grey)
    if inspection.truth is None:
        _panel(axes[4], None, "|error|: no truth")
    else:
        vmax = _error_scale(inspection, [inspection.prediction])
        _panel(axes[4], np.abs(inspection.prediction - inspection.truth), f"|error| (0-{vmax:.3f})",
               cmap="magma", vmin=0.0, vmax=vmax)
    for ax in axes[5:]:
        ax.axis("off")


def code_maps(inspection: Inspection, path: Path, dpi: int, kind: str) -> Path:
    """``kind="energy"`` or ``"support"`` of every state at every step, on one colour scale."""
    plt = _pyplot()
    from matplotlib.colors import PowerNorm

    states = inspection.states
    columns = max(5, max(len(steps) for steps in states.values()))
    rows = 1 + len(states)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * PANEL, rows * PANEL * _aspect(inspection) + 0.8),
                                squeeze=False, layout="constrained")
    _image_row(axes[0], inspection)
    maps = {name: [getattr(step, kind) for step in steps] for name, steps in states.items()}
    if kind == "energy":
        pooled = np.concatenate([m.ravel() for values in maps.values() for m in values])
        vmax = max(float(np.percentile(pooled, 99.5)), 1e-12)
        style = {"cmap": "inferno", "norm": PowerNorm(0.5, vmin=0.0, vmax=vmax)}
        label = "code energy sqrt(sum_c a_c^2) (square-root scale)"
    else:
        style = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
        label = "support: share of the k channels non-zero"
    image = None
    for row, (name, steps) in enumerate(states.items(), start=1):
        for column in range(columns):
            ax = axes[row, column]
            if column >= len(steps):
                ax.axis("off")
                continue
            step = steps[column]
            value = f"{step.energy.mean():.3g}" if kind == "energy" else f"{step.support.mean():.0%}"
            image = _panel(ax, maps[name][column], f"{name} {step.label}: {value}", **style)
    if image is not None:
        figure.colorbar(image, ax=axes[1:, :].ravel().tolist(), shrink=0.8, label=label)
    figure.suptitle(f"{inspection.model}: code {kind} per state and step", fontsize=10)
    return _save(figure, path, dpi)


def sparsity(inspection: Inspection, path: Path, dpi: int) -> Path:
    """Density and L1 of each state per unrolled step."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    labels: list[str] = []
    for name, steps in inspection.states.items():
        x = np.arange(len(steps))
        left.plot(x, [s.density for s in steps], "o-", label=name)
        right.plot(x, [s.l1 for s in steps], "o-", label=name)
        labels = [s.label for s in steps] if len(steps) > len(labels) else labels
    left.set_ylabel("density (share of non-zero entries)")
    left.set_ylim(0, 1.05)
    right.set_ylabel("L1: mean |a| per entry")
    for ax in (left, right):
        ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.set_xlabel("unrolled step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(f"{inspection.model}: sparsity over the unrolling", fontsize=10)
    return _save(figure, path, dpi)


def thresholds(inspection: Inspection, path: Path, dpi: int) -> Path:
    """Per-channel thresholds of every shrinkage layer (t, or 2 mu for LeSITA), log scale."""
    plt = _pyplot()
    layers = inspection.layers
    figure, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(layers) + 2), 3.8), layout="constrained")
    values = [np.maximum(layer.values.numpy(), 1e-12) for layer in layers]
    boxes = ax.boxplot(values, patch_artist=True, showfliers=False)
    for patch, layer in zip(boxes["boxes"], layers):
        patch.set_facecolor(REGIME_COLOURS["pass"] if layer.kind == "lesita" else "#cccccc")
    rng = np.random.default_rng(0)
    for index, (value, layer) in enumerate(zip(values, layers), start=1):
        colour = REGIME_COLOURS["pass"] if layer.kind == "lesita" else "k"
        ax.plot(index + rng.uniform(-0.15, 0.15, value.size), value, ".", color=colour, ms=3, alpha=0.6)
    ax.set_yscale("log")
    names = [f"{layer.name}\n({'2mu' if layer.kind == 'lesita' else 't'})" for layer in layers]
    ax.set_xticks(range(1, len(layers) + 1), names, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("threshold per channel")
    ax.grid(alpha=0.3, axis="y")
    figure.suptitle(f"{inspection.model}: thresholds per layer (green: LeSITA, shown as 2mu)", fontsize=10)
    return _save(figure, path, dpi)


def _regime_colours(maps: dict[str, np.ndarray]) -> np.ndarray:
    """RGB per pixel: the shares of clamp (red), pass (green) and shrink (blue) among the non-zero
    outputs; black where every channel is zero."""
    active = 1.0 - maps["zero"]
    rgb = np.stack([maps["clamp"], maps["pass"], maps["shrink"]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = np.where(active[..., None] > 0, rgb / active[..., None], 0.0)
    return np.clip(rgb, 0.0, 1.0)


def coupling_regimes(inspection: Inspection, path: Path, dpi: int) -> Path:
    """Per LeSITA step: the regime map, the coupled share and the killed share; then the shares."""
    plt = _pyplot()
    regimes = inspection.regimes
    aspect = _aspect(inspection)
    figure = plt.figure(figsize=(3 * PANEL + 0.8, len(regimes) * PANEL * aspect + 3.2), layout="constrained")
    grid = figure.add_gridspec(len(regimes) + 1, 3, height_ratios=[PANEL * aspect] * len(regimes) + [2.6])
    coupled_image = killed_image = None
    for row, regime in enumerate(regimes):
        maps = regime.maps
        active = 1.0 - maps["zero"]
        with np.errstate(invalid="ignore", divide="ignore"):
            coupled = np.where(active > 0, (maps["pass"] + maps["clamp"]) / active, np.nan)
        _panel(figure.add_subplot(grid[row, 0]), _regime_colours(maps),
               f"{regime.label} (side {regime.side_name}): clamp / pass / shrink")
        coupled_image = _panel(figure.add_subplot(grid[row, 1]), coupled,
                               f"coupled share {regime.coupled_share:.0%} (white: all zero)", cmap="viridis",
                               vmin=0, vmax=1)
        killed_image = _panel(figure.add_subplot(grid[row, 2]), maps["zero"],
                              f"zeroed {regime.fractions['zero']:.0%}", cmap="gray_r", vmin=0, vmax=1)
    axes = figure.get_axes()
    if coupled_image is not None:  # below the last row of their column
        figure.colorbar(coupled_image, ax=axes[-2], location="bottom", shrink=0.9,
                        label="(pass + clamp) / non-zero")
        figure.colorbar(killed_image, ax=axes[-1], location="bottom", shrink=0.9, label="share of channels zeroed")
    bars = figure.add_subplot(grid[len(regimes), :])
    bottom = np.zeros(len(regimes))
    for name in REGIMES:
        shares = np.array([r.fractions[name] for r in regimes])
        bars.bar(range(len(regimes)), shares, bottom=bottom, color=REGIME_COLOURS[name], label=name)
        bottom += shares
    bars.set_xticks(range(len(regimes)), [r.label for r in regimes])
    bars.set_ylabel("share of entries")
    bars.set_ylim(0, 1)
    bars.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    figure.suptitle(f"{inspection.model}: LeSITA regimes (red: the guide's value taken, green: let through "
                    f"unshrunk, blue: side ignored, black: zero)", fontsize=9)
    return _save(figure, path, dpi)


def coupling_distance(inspection: Inspection, path: Path, dpi: int) -> Path:
    """``|h - g|`` per pixel (mean over channels) at every step, one colour scale, and its mean."""
    plt = _pyplot()
    distances = inspection.distances
    columns = len(distances) + 1
    figure, axes = plt.subplots(1, columns, figsize=(columns * PANEL + 1.5, PANEL * _aspect(inspection) + 1.2),
                                squeeze=False, layout="constrained")
    pooled = np.concatenate([d.map.ravel() for d in distances])
    vmax = max(float(np.percentile(pooled, 99.5)), 1e-12)
    image = None
    for ax, distance in zip(axes[0], distances):
        image = _panel(ax, distance.map, f"{distance.label}: {distance.mean_abs:.3g}", cmap="magma", vmin=0,
                       vmax=vmax)
    if image is not None:
        figure.colorbar(image, ax=axes[0, :-1].tolist(), shrink=0.8, label="mean_c |target - guide code|")
    plot = axes[0, -1]
    x = np.arange(len(distances))
    plot.plot(x, [d.mean_abs for d in distances], "o-", label="mean |h - g|")
    plot.set_xticks(x, [d.label for d in distances], rotation=30)
    plot.set_ylabel("mean |h - g| per entry")
    twin = plot.twinx()
    twin.plot(x, [d.relative for d in distances], "s--", color="C1", label="relative")
    twin.set_ylabel("relative to (|h| + |g|) / 2", color="C1")
    plot.grid(alpha=0.3)
    figure.suptitle(f"{inspection.model}: coupling distance |h - g| over the steps", fontsize=10)
    return _save(figure, path, dpi)


def coupling_agreement(inspection: Inspection, path: Path, dpi: int) -> Path:
    """The local correlation of target and guide, and the coupled share binned by it."""
    plt = _pyplot()
    agreement = inspection.agreement
    aspect = _aspect(inspection)
    figure, axes = plt.subplots(1, 4, figsize=(3 * PANEL + 4.5, PANEL * aspect + 1.4), layout="constrained",
                                gridspec_kw={"width_ratios": [1, 1, 1, 1.9]})
    grey = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0}
    _panel(axes[0], np.clip(inspection.guide, 0, 1), "guide", **({} if inspection.guide.ndim == 3 else grey))
    reference = inspection.truth if agreement.reference == "truth" else inspection.bicubic
    _panel(axes[1], reference, f"target ({agreement.reference})", **grey)
    from matplotlib import colormaps

    image = _panel(axes[2], np.ma.masked_invalid(agreement.correlation), "local correlation (grey: flat)",
                   cmap=colormaps["RdBu"].with_extremes(bad="#bbbbbb"), vmin=-1, vmax=1)
    figure.colorbar(image, ax=axes[2], shrink=0.7)
    plot = axes[3]
    centres = (agreement.edges[:-1] + agreement.edges[1:]) / 2
    for index, (label, share) in enumerate(agreement.coupled_share.items()):
        plot.plot(centres, share, "o-" if index % 2 == 0 else "s--", ms=3, label=label)
    plot.set_xlabel("local correlation of target and guide")
    plot.set_ylabel("coupled share of non-zero entries")
    plot.set_ylim(0, 1.02)
    plot.grid(alpha=0.3)
    plot.legend(fontsize=7)
    twin = plot.twinx()
    width = agreement.edges[1] - agreement.edges[0]
    twin.bar(centres, agreement.pixels / max(agreement.pixels.sum(), 1), width=0.9 * width, color="grey",
             alpha=0.2)
    twin.set_ylabel("share of textured pixels", color="grey")
    figure.suptitle(f"{inspection.model}: does the coupling follow where target and guide agree?", fontsize=10)
    return _save(figure, path, dpi)


def _tile(filter_weights: np.ndarray) -> np.ndarray:
    """One filter (C, K, K) scaled to its own max |w| into [0, 1] (0.5 = zero): (K, K) or (K, K, 3)."""
    tile = filter_weights.transpose(1, 2, 0)
    peak = float(np.abs(tile).max())
    tile = 0.5 + 0.5 * tile / peak if peak > 0 else np.full_like(tile, 0.5)
    return tile[..., 0] if tile.shape[-1] == 1 else np.clip(tile, 0.0, 1.0)


def _tiles(filters: np.ndarray, usage: np.ndarray, path: Path, dpi: int, title: str) -> Path:
    """Filters (k, C, K, K) on a grid, sorted by ``usage`` (most used first), usage above each."""
    plt = _pyplot()
    order = np.argsort(-usage, kind="stable")
    count = filters.shape[0]
    columns = min(8, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.85 + 0.4, rows * 0.95 + 0.8), squeeze=False,
                                layout="constrained")
    for place, ax in enumerate(axes.ravel()):
        if place >= count:
            ax.axis("off")
            continue
        index = order[place]
        tile = _tile(filters[index])
        _panel(ax, tile, "dead" if usage[index] == 0 else f"#{index} {usage[index]:.0%}",
               **({"cmap": "RdBu_r", "vmin": 0.0, "vmax": 1.0} if tile.ndim == 2 else {}))
        ax.title.set_fontsize(6)
    figure.suptitle(title, fontsize=8)
    return _save(figure, path, dpi)


def dictionary(inspection: Inspection, path: Path, dpi: int) -> Path:
    dead = int((inspection.atom_usage == 0).sum())
    return _tiles(inspection.atoms, inspection.atom_usage, path, dpi,
                  f"{inspection.model}: atoms of Dx sorted by usage (share of non-zero entries of the code it "
                  f"decodes; {dead} dead)\neach atom scaled to its own max |w| (red +, blue -)")


def guide_filters(inspection: Inspection, path: Path, dpi: int) -> Path:
    dead = int((inspection.filter_usage == 0).sum())
    colour = "RGB: 0.5 grey = 0" if inspection.guide_filters.shape[1] == 3 else "red +, blue -"
    return _tiles(inspection.guide_filters, inspection.filter_usage, path, dpi,
                  f"{inspection.model}: guide analysis filters sorted by the usage of the guide code ({dead} "
                  f"dead)\neach filter scaled to its own max |w| ({colour})")


def steps_psnr(inspection: Inspection, path: Path, dpi: int) -> Path:
    """The error of every per-step reconstruction (shared scale) and the PSNR per step."""
    plt = _pyplot()
    steps = inspection.reconstructions
    aspect = _aspect(inspection)
    columns = len(steps) + 1
    figure, axes = plt.subplots(1, columns, figsize=(columns * PANEL + 1.5, PANEL * aspect + 1.2), squeeze=False,
                                layout="constrained")
    if inspection.truth is not None:
        vmax = _error_scale(inspection, [s.image for s in steps])
        image = None
        for ax, step in zip(axes[0], steps):
            image = _panel(ax, np.abs(step.image - inspection.truth), f"{step.label}: {step.psnr:.2f} dB",
                           cmap="magma", vmin=0, vmax=vmax)
        figure.colorbar(image, ax=axes[0, :-1].tolist(), shrink=0.8, label="|reconstruction - truth|")
        plot = axes[0, -1]
        x = np.arange(len(steps))
        plot.plot(x, [s.psnr for s in steps], "o-", label=inspection.model)
        if inspection.bicubic_psnr is not None:
            plot.axhline(inspection.bicubic_psnr, ls="--", color="grey", label=f"bicubic {inspection.bicubic_psnr:.2f}")
        plot.set_xticks(x, [s.label for s in steps], rotation=30)
        plot.set_ylabel("PSNR (dB)")
        plot.grid(alpha=0.3)
        plot.legend(fontsize=8)
    else:
        for ax, step in zip(axes[0], steps):
            _panel(ax, step.image, step.label, cmap="gray", vmin=0, vmax=1)
        _panel(axes[0, -1], None, "PSNR: no truth (use simulate= or image=)")
    figure.suptitle(f"{inspection.model}: per-step reconstructions (does each step help?)", fontsize=10)
    return _save(figure, path, dpi)


def _save(figure, path: Path, dpi: int) -> Path:
    """Save as a 256-colour palette PNG: the code maps are noisy, so a true-colour PNG is about
    2.5 times larger for no visible difference."""
    import io

    from PIL import Image

    plt = _pyplot()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=dpi, format="png")
    plt.close(figure)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    palette.save(path, optimize=True)
    return path


#: every figure by name (the order they are written in)
FIGURES: dict[str, Callable[[Inspection, Path, int], Path]] = {
    "codes_energy": lambda i, p, d: code_maps(i, p, d, "energy"),
    "codes_support": lambda i, p, d: code_maps(i, p, d, "support"),
    "sparsity": sparsity,
    "thresholds": thresholds,
    "coupling_regimes": coupling_regimes,
    "coupling_distance": coupling_distance,
    "coupling_agreement": coupling_agreement,
    "dictionary": dictionary,
    "guide_filters": guide_filters,
    "steps_psnr": steps_psnr,
}

#: figures that need at least one LeSITA step
COUPLING_FIGURES = ("coupling_regimes", "coupling_distance", "coupling_agreement")


def write_figures(inspection: Inspection, folder: str | Path, dpi: int = 110,
                  prefix: str = "") -> dict[str, Path]:
    """Write every figure as ``<folder>/<prefix><name>.png``; returns the paths by name. The
    coupling figures are left out for a network without a LeSITA step (R = 0)."""
    folder = Path(folder)
    written = {}
    for name, draw in FIGURES.items():
        if name in COUPLING_FIGURES and not inspection.regimes:
            continue
        written[name] = draw(inspection, folder / f"{prefix}{name}.png", dpi)
    return written
