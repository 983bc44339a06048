"""Coupling inside named regions of the two study images, with jointsr.inspection's API.

Regions come from the images themselves, not from hand-drawn boxes:

- RGB-NIR urban/0017: *vegetation* by NDVI = (NIR - R) / (NIR + R) > 0.25 (the conifer and the
  bare trees: bright in NIR, dark in RGB), *blue* (the sky and its reflections in the glass:
  B > 0.4 and B - R > 0.08; bright in RGB, dark in NIR), the rest;
- CAVE feathers (640 nm target): the *red*, *yellow*, *green*, *blue* and *white* feathers by their
  RGB colour. At 640 nm the red, yellow and white feathers are bright, the green and blue ones
  dark, while the luminance guide is bright for yellow, green and white: the modalities agree on
  white and yellow and disagree on green (bright guide, dark target) and red.

For each network and region: the PSNR of bicubic and of the output over the region's pixels; for
each LeSITA step the shares of the region's non-zero outputs in each regime (``pass``, ``clamp``:
the side information acted, together the *coupled share*; ``shrink``: it was ignored) and the
share of entries zeroed; for each step the relative coupling distance
``sum |h - g| / (sum (|h| + |g|) / 2)`` (``distance <step>``); the median local correlation of
target and guide over the region's textured pixels (``jointsr.inspection.analysis.local_correlation``).

    python experiments/inspect/regions.py --runs logs/inspect --out experiments/inspect
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.functional.imresize import imresize
from jointsr.inspection.analysis import lesita_regimes, local_correlation
from jointsr.cli.inspect import load_inputs
from jointsr.inspection.trace import trace_network
from jointsr.metrics.protocol import psnr
from jointsr.training.build import load_checkpoint_model

CASES = {  # study folder: (data config, image, {model: training run})
    "cave_feathers": ("cave", "feathers", {"default": "cave_default", "jointsr_paper": "cave_paper"}),
    "nir_0017": ("rgbnir", "urban/0017", {"default": "rgbnir_default", "jointsr_paper": "rgbnir_paper"}),
}


def regions(data: str, rgb: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if data == "rgbnir":
        ndvi = (truth - red) / np.maximum(truth + red, 1e-6)
        vegetation = (ndvi > 0.25) & (truth > 0.1)
        sky = (blue > 0.4) & (blue - red > 0.08) & ~vegetation
        return {"vegetation (NDVI > 0.25)": vegetation, "blue: sky, its reflections": sky,
                "rest": ~(vegetation | sky)}
    found = {
        "red feather": (red > 0.3) & (red > green + 0.15) & (red > blue + 0.15),
        "yellow feather": (red > 0.35) & (green > 0.3) & (blue < np.minimum(red, green) - 0.2),
        "green feather": (green > red + 0.08) & (green > blue + 0.05) & (green > 0.15),
        "blue feather": (blue > red + 0.12) & (blue > green + 0.05) & (blue > 0.15),
        "white feather": (np.min(rgb, axis=-1) > 0.55) & (np.ptp(rgb, axis=-1) < 0.12),
    }
    taken = np.zeros_like(red, dtype=bool)
    for name, mask in found.items():  # each pixel in one region at most
        found[name] = mask & ~taken
        taken |= found[name]
    return found


@torch.no_grad()
def measure(ckpt: Path, data: str, image: str, data_dir: str) -> tuple[dict, np.ndarray, dict[str, np.ndarray]]:
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("inspect", [f"data={data}", f"image={image}", f"paths.data_dir={data_dir}"])
    model = load_checkpoint_model(ckpt)
    net = model.net.eval()
    inputs = load_inputs(cfg, net.scale, net.guide_channels)
    trace = trace_network(net, inputs.lr_target, inputs.hr_guide, model.name)
    truth = inputs.truth[0, 0].numpy()
    output = trace.output[0, 0].clamp(0, 1).numpy()
    bicubic = imresize(inputs.lr_target.double(), out_shape=truth.shape)[0, 0].clamp(0, 1).numpy()
    masks = regions(data, inputs.display_guide, truth)
    correlation = local_correlation(inputs.truth, inputs.hr_guide.mean(dim=1, keepdim=True), 9, 0.01)
    pair_maps = {label: ((t - g).abs().sum(dim=1)[0].numpy(), (t.abs() + g.abs()).sum(dim=1)[0].numpy() / 2)
                 for label, t, g in trace.pairs}
    steps = []
    for shrinkage in trace.shrinkages:
        regimes = lesita_regimes(shrinkage.value, shrinkage.side, shrinkage.mu)
        steps.append((shrinkage.label, {name: mask.sum(dim=1)[0].numpy() for name, mask in regimes.items()}))
    result = {}
    for name, mask in {"whole image": np.ones_like(truth, dtype=bool), **masks}.items():
        if not mask.any():
            continue
        textured = mask & np.isfinite(correlation)
        row = {"pixels": float(mask.mean()),
               "psnr_bicubic": psnr(bicubic[mask][None], truth[mask][None]),
               "psnr_output": psnr(output[mask][None], truth[mask][None]),
               "median_correlation": float(np.median(correlation[textured])) if textured.any() else None}
        channels = trace.shrinkages[0].value.shape[1] if trace.shrinkages else 1
        for label, counts in steps:
            total = {regime: float(count[mask].sum()) for regime, count in counts.items()}
            active = max(total["pass"] + total["clamp"] + total["shrink"], 1.0)
            row[f"coupled {label}"] = (total["pass"] + total["clamp"]) / active
            for regime in ("pass", "clamp", "shrink"):
                row[f"{regime} {label}"] = total[regime] / active  # shares of the non-zero outputs
            row[f"zeroed {label}"] = total["zero"] / (mask.sum() * channels)
        for label, (difference, size) in pair_maps.items():
            row[f"distance {label}"] = float(difference[mask].sum() / max(size[mask].sum(), 1e-12))
        result[name] = row
    return result, inputs.display_guide, masks


def region_figure(rgb: np.ndarray, masks: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(masks) + 1, figsize=(2.2 * (len(masks) + 1), 2.6), layout="constrained")
    axes[0].imshow(rgb)
    axes[0].set_title("guide (RGB)", fontsize=8)
    for ax, (name, mask) in zip(axes[1:], masks.items()):
        ax.imshow(np.where(mask[..., None], rgb, 0.15 * rgb))
        ax.set_title(f"{name}: {mask.mean():.0%}", fontsize=8)
    for ax in axes:
        ax.axis("off")
    figure.savefig(path, dpi=60)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("logs/inspect"))
    parser.add_argument("--out", type=Path, default=Path("experiments/inspect"))
    parser.add_argument("--data-dir", default="/work/shared/data")
    args = parser.parse_args()
    document, lines = {}, []
    for case, (data, image, models) in CASES.items():
        document[case] = {}
        for model, run in models.items():
            result, rgb, masks = measure(args.runs / run / "checkpoints" / "last.ckpt", data, image, args.data_dir)
            document[case][model] = result
            region_figure(rgb, masks, args.out / case / "regions.png")
            steps = [key.removeprefix("coupled ") for key in next(iter(result.values())) if key.startswith("coupled ")]
            h_steps = [step for step in steps if step.startswith("h ")]
            first, last, guide = h_steps[0], h_steps[-1], next(step for step in steps if step.startswith("g "))
            pair = last.split(" ", 1)[1]  # "rnn R": the pair (h_R, g_R-1)
            lines += [f"\n{case} {image}, {model}: shares of the non-zero outputs (pass + clamp = coupled)\n",
                      f"| region | pixels | PSNR bicubic -> output | median corr | coupled {first} | {last}: pass / "
                      f"clamp / shrink | coupled {guide} | zeroed {last} | relative h-g distance {pair} |",
                      "|---" * 9 + "|"]
            for name, row in result.items():
                corr = "-" if row["median_correlation"] is None else f"{row['median_correlation']:.2f}"
                cells = [name, f"{row['pixels']:.1%}", f"{row['psnr_bicubic']:.2f} -> {row['psnr_output']:.2f}", corr,
                         f"{row[f'coupled {first}']:.0%}",
                         f"{row[f'pass {last}']:.0%} / {row[f'clamp {last}']:.0%} / {row[f'shrink {last}']:.0%}",
                         f"{row[f'coupled {guide}']:.0%}", f"{row[f'zeroed {last}']:.0%}",
                         f"{row[f'distance {pair}']:.2f}"]
                lines.append("| " + " | ".join(cells) + " |")
    (args.out / "regions.json").write_text(json.dumps(document, indent=1) + "\n")
    (args.out / "regions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
