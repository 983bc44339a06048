"""The baselines' tables: sizes and costs from ``../model_summary/summary.csv`` (today's
networks), the 4-minute comparison from ``cave_x4_4min.csv`` (jointsr-report's long table of
those runs, the paper's rows beside them) and bicubic from ``../bicubic/bicubic.csv``."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import fixed, read_csv, signed, table, thousands  # noqa: E402

#: summary.csv rows, in the order of this README
SIZE_ROWS = ["model=bicubic", "model.net.form=free model.net.k=64 model.net.K=7", "model=jointsr_paper",
             "model=lmcsc", "model=coista", "model=djf", "model=srfbn", "model=srfbn_s"]
OURS = ["srfbn", "djf", "coista", "lmcsc", "jointsr"]
PAPER = ["SRFBN", "DJF", "CoISTA", "LMCSC", "Proposed"]


def size() -> str:
    rows = {row["overrides"]: row for row in read_csv(HERE.parent / "model_summary" / "summary.csv")}
    body = [[rows[key]["row"], thousands(rows[key]["params"]), thousands(round(float(rows[key]["flops_per_hr_pixel"])))]
            for key in SIZE_ROWS]
    return table(["model", "params", "FLOPs per HR pixel"], body, "lrr")


def _bicubic() -> list[dict]:
    rows = read_csv(HERE.parent / "bicubic" / "bicubic.csv")
    return [row for row in rows if row["data"] == "cave" and row["scale"] == "4"]


def _runs() -> tuple[dict, dict]:
    ours, paper = {}, {}
    for row in read_csv(HERE / "cave_x4_4min.csv"):
        side = ours if row["source"] == "ours" else paper
        key = row["model"] if row["source"] == "ours" else row["run"]
        side.setdefault(key, {})[row["image"]] = row
    return ours, paper


def summary() -> str:
    ours, paper = _runs()
    bicubic = statistics.mean(float(row["psnr"]) for row in _bicubic())
    bicubic_ssim = statistics.mean(float(row["ssim"]) for row in _bicubic())
    body = [["bicubic", "0", fixed(bicubic), fixed(bicubic_ssim, 4), "–", "–"]]
    for model, title in zip(OURS, PAPER):
        mean = ours[model]["mean"]
        psnr = float(mean["psnr"])
        published = float(paper[title]["mean"]["psnr"])
        body.append([model, thousands(mean["params"]), fixed(psnr), fixed(float(mean["ssim"]), 4),
                     signed(psnr - bicubic), fixed(published)])
    return table(["model (as then)", "params", "test PSNR", "SSIM", "vs bicubic",
                  "paper (GPU, its Proposed for jointsr)"], body, "lrrrrr")


def per_image() -> str:
    ours, paper = _runs()
    images = [name for name in ours["srfbn"] if name != "mean"] + ["mean"]
    header = ["image"] + [f"{m} {k}" for m in OURS for k in ("PSNR", "SSIM")] + \
        [f"{p} (paper) {k}" for p in PAPER for k in ("PSNR", "SSIM")]
    body = []
    for name in images:
        cells = [f"{float(ours[m][name][k]):.{d}f}" for m in OURS for k, d in (("psnr", 2), ("ssim", 4))]
        cells += [f"{float(paper[p][name][k]):.{d}f}" for p in PAPER for k, d in (("psnr", 2), ("ssim", 4))]
        body.append([f"**{name}**" if name == "mean" else name] + cells)
    return table(header, body, "l" + "r" * (len(header) - 1))


TABLES = {"size": size, "summary": summary, "per_image": per_image}
