"""Test results: the per-image table, its mean, and the ``test_metrics.json`` file."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

METRICS = ("psnr", "ssim", "ssim_plain")


def mean_metrics(rows: list[dict]) -> dict[str, float]:
    """Mean of each metric over the images (PSNR averaged in dB, as the paper's tables)."""
    if not rows:
        return {}
    return {key: float(sum(row[key] for row in rows) / len(rows)) for key in METRICS}


def test_metrics(model: str, data: str, scale: int, rows: list[dict]) -> dict:
    """The ``test_metrics.json`` document for one run."""
    per_image = [{"name": str(row["name"]), **{key: float(row[key]) for key in METRICS}}
                 for row in rows]
    return {"model": model, "data": data, "scale": int(scale), "per_image": per_image,
            "mean": mean_metrics(per_image)}


def write_json_atomic(path: str | os.PathLike, document: dict) -> Path:
    """Write ``document`` as JSON through a temporary file, so no reader sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
    partial.replace(path)
    return path


def write_csv_atomic(path: str | os.PathLike, rows: list[dict], columns: list[str]) -> Path:
    """Write ``rows`` (dicts, missing keys left empty) as CSV through a temporary file."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)
    return path


def format_table(document: dict) -> str:
    """A plain-text per-image table with the mean as its last row."""
    title = f"{document['model']} on {document['data']} x{document['scale']}"
    header = f"{'image':<28} {'PSNR':>8} {'SSIM':>8} {'SSIM-plain':>11}"
    lines = [title, header, "-" * len(header)]

    def row(name: str, values: dict) -> str:
        psnr = values["psnr"]
        psnr_text = "inf" if math.isinf(psnr) else f"{psnr:.2f}"
        return f"{name:<28} {psnr_text:>8} {values['ssim']:>8.4f} {values['ssim_plain']:>11.4f}"

    lines += [row(item["name"], item) for item in document["per_image"]]
    lines.append("-" * len(header))
    if document["mean"]:
        lines.append(row("mean", document["mean"]))
    return "\n".join(lines)
