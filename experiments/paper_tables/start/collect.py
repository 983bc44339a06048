"""The start study's raw table: every validation of every run of start/run.sh.

    python experiments/paper_tables/start/collect.py LOGS   ->  experiments/paper_tables/start/start.csv

One row per variant, seed and validated step (``variant,seed,step,val_psnr``), from the runs'
``csv/metrics.csv`` (the 20-step runs give steps 0-20, the 100-step runs 50 and 100).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent


def collect(logs: Path) -> list[dict]:
    rows = {}
    for metrics in sorted(logs.glob("*/seed_*/*/csv/metrics.csv")):
        run = metrics.parent.parent
        variant, seed = run.parent.parent.name, int(run.parent.name.removeprefix("seed_"))
        with metrics.open(newline="") as stream:
            for row in csv.DictReader(stream):
                if row.get("val/psnr"):
                    rows[(variant, seed, int(row["step"]))] = round(float(row["val/psnr"]), 4)
    return [{"variant": v, "seed": s, "step": step, "val_psnr": psnr}
            for (v, s, step), psnr in sorted(rows.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, help="the folder start/run.sh wrote (logs/issue25/start)")
    parser.add_argument("--out", type=Path, default=HERE / "start.csv")
    args = parser.parse_args()
    rows = collect(args.logs)
    with args.out.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, ["variant", "seed", "step", "val_psnr"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out}: {len(rows)} rows")


if __name__ == "__main__":
    main()
