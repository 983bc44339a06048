"""The bicubic README's tables, from ``bicubic.csv`` (``bicubic.py``: per task and image)."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_csv, table  # noqa: E402

from jointsr.evaluation.results import format_table  # noqa: E402

METRICS = ("psnr", "ssim", "ssim_plain")
DEPTH = ("rmse", "rmse_crop")


def _documents() -> list[dict]:
    """One ``test_metrics.json``-like document per task, images sorted by name (as the console
    table of ``jointsr-eval`` lists them)."""
    tasks: dict[tuple[str, int], list[dict]] = {}
    for row in read_csv(HERE / "bicubic.csv"):
        tasks.setdefault((row["data"], int(row["scale"])), []).append(row)
    documents = []
    for (data, scale), rows in tasks.items():
        depth = bool(rows[0]["rmse_unit"])
        keys = METRICS + (DEPTH if depth else ())
        per_image = sorted(({"name": row["image"], **{key: float(row[key]) for key in keys}} for row in rows),
                           key=lambda item: item["name"])
        document = {"model": "bicubic", "config": data, "data": rows[0]["test_set"], "scale": scale,
                    "per_image": per_image,
                    "mean": {key: statistics.mean(item[key] for item in per_image) for key in keys}}
        if depth:
            document["rmse"] = {"unit": rows[0]["rmse_unit"], "border_crop": int(rows[0]["rmse_border"])}
        documents.append(document)
    return documents


def means() -> str:
    rows = [[f"`jointsr-eval model=bicubic data={d['config']} scale=x{d['scale']}`",
             f"{d['mean']['psnr']:.2f}", f"{d['mean']['ssim']:.4f}", f"{d['mean']['ssim_plain']:.4f}"]
            for d in _documents()]
    return table(["command", "mean PSNR", "mean SSIM", "mean SSIM-plain"], rows, "lrrr")


def rmse() -> str:
    rows = [[f"`{d['config']}` ({d['data']})", f"x{d['scale']}", d["rmse"]["unit"], f"{d['mean']['rmse']:.3f}",
             f"{d['mean']['rmse_crop']:.3f}", f"{d['mean']['psnr']:.2f}"]
            for d in _documents() if "rmse" in d]
    return table(["data", "scale", "unit", "RMSE", "RMSE, 6-px crop", "PSNR (dB)"], rows, "lllrrr")


def per_image() -> str:
    return "\n\n".join(f"```\n{format_table(d)}\n```" for d in _documents())


TABLES = {"means": means, "rmse": rmse, "per_image": per_image}
