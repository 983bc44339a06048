"""The variants' tables, from ``variants_nir_x4_4min.csv`` (jointsr-report's long table of the
four runs, the paper's rows beside them), FLOPs from ``../model_summary/summary.csv`` and
bicubic from ``../bicubic/bicubic.csv``."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_csv, table, thousands  # noqa: E402

FREE = "model.net.form=free model.net.k=64 model.net.K=7"
#: variant -> (its run folder in the CSV, its override, its summary.csv row)
VARIANTS = {
    "default (then)": ("default", "—", FREE),
    "guide update off": ("guide_update_off", "`model.net.guide_update=false`", f"{FREE} model.net.guide_update=false"),
    "untied": ("untied", "`model.net.tied=false`", f"{FREE} model.net.tied=false"),
    "factorised": ("factorised", "`model.net.form=factorised`",
                   "model.net.form=factorised model.net.k=64 model.net.K=7"),
}


def _runs() -> dict[str, dict[str, dict]]:
    """``{run folder name: {image: row}}`` of our runs."""
    runs: dict[str, dict[str, dict]] = {}
    for row in read_csv(HERE / "variants_nir_x4_4min.csv"):
        if row["source"] == "ours":
            runs.setdefault(Path(row["directory"]).name, {})[row["image"]] = row
    return runs


def variants() -> str:
    runs = _runs()
    flops = {row["overrides"]: float(row["flops_per_hr_pixel"])
             for row in read_csv(HERE.parent / "model_summary" / "summary.csv")}
    bicubic = [row for row in read_csv(HERE.parent / "bicubic" / "bicubic.csv")
               if row["data"] == "rgbnir" and row["scale"] == "4"]
    body = [["bicubic", "—", "0", "0.000", *[f"{statistics.mean(float(r[k]) for r in bicubic):.{d}f}"
                                            for k, d in (("psnr", 2), ("ssim", 4), ("ssim_plain", 4))]]]
    for name, (folder, override, summary) in VARIANTS.items():
        mean = runs[folder]["mean"]
        body.append([name, override, thousands(mean["params"]), f"{flops[summary] / 1e6:.3f}",
                     f"{float(mean['psnr']):.2f}", f"{float(mean['ssim']):.4f}", f"{float(mean['ssim_plain']):.4f}"])
    return table(["variant", "override", "params", "MFLOP/px", "test PSNR", "SSIM", "SSIM-plain"], body, "llrrrrr")


def per_image() -> str:
    runs = _runs()
    images = [name for name in runs["factorised"] if name != "mean"] + ["mean"]
    header = ["image"] + [f"{name} {k}" for name in VARIANTS for k in ("PSNR", "SSIM")]
    body = [[f"**{image}**" if image == "mean" else image] +
            [f"{float(runs[folder][image][k]):.{d}f}" for folder, _, _ in VARIANTS.values()
             for k, d in (("psnr", 2), ("ssim", 4))] for image in images]
    return table(header, body, "l" + "r" * (len(header) - 1))


TABLES = {"variants": variants, "per_image": per_image}
