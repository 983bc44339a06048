"""How long the commands take before they do anything: ``--help`` of every Hydra command, and
``jointsr-predict`` on a tiny pair (shipped weights, a 32x48 LR crop: start-up and model load
dominate), for this checkout and, with ``--before DIR``, another checkout of the project,
interleaved in one process (each repeat runs every command of both in turn, so a change of load
hits both alike). Medians and ranges of wall time; one CSV row per checkout and command.

    python experiments/performance/startup.py --before /tmp/before --repeats 5 \\
        --out experiments/performance/startup.csv

Each command runs as its console script would (the function ``[project.scripts]`` of that
checkout's pyproject.toml names) in a fresh interpreter, with that checkout first on
``PYTHONPATH``. Timings are results only on an idle machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
HELP = ["train", "eval", "predict", "bench", "summary", "data", "inspect"]


def scripts(checkout: Path) -> dict[str, str]:
    """``name -> module:function`` of the console scripts a checkout installs."""
    with open(checkout / "pyproject.toml", "rb") as stream:
        table = tomllib.load(stream)["project"]["scripts"]
    return {name.removeprefix("jointsr-"): target for name, target in table.items()}


def tiny_pair(folder: Path) -> tuple[Path, Path]:
    """A 128x192 HR crop of a real RGB-NIR test pair (``$JOINTSR_DATA_DIR``): NIR truth and RGB guide."""
    from jointsr.data.io import read_image, write_image

    data = Path(os.environ["JOINTSR_DATA_DIR"]) / "rgbnir" / "urban"
    nir = read_image(data / "0004_nir.tiff")[:128, :192]
    rgb = read_image(data / "0004_rgb.tiff")[:128, :192]
    return write_image(folder / "nir.png", nir, bits=16), write_image(folder / "rgb.png", rgb, bits=8)


def timed(checkout: Path, target: str, args: list[str]) -> float:
    """Seconds of wall time of ``target`` (``module:function``) run as ``jointsr-x args``."""
    module, function = target.split(":")
    code = f"import sys; sys.argv = ['jointsr'] + sys.argv[1:]; from {module} import {function}; {function}()"
    env = {**os.environ, "PYTHONPATH": str(checkout), "WANDB_MODE": "disabled"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: {target} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout of jointsr to time beside this one")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="CSV of medians (default: print only)")
    options = parser.parse_args()
    checkouts = {"this": HERE, **({"before": options.before.resolve()} if options.before else {})}
    with tempfile.TemporaryDirectory() as folder:
        nir, rgb = tiny_pair(Path(folder))
        jobs = [(f"{name} --help", name, ["--help"]) for name in HELP]
        jobs.append(("predict (tiny pair)", "predict",
                     ["pretrained=nir_x4", f"simulate={nir}", f"guide={rgb}", "tile=0"]))
        times: dict[tuple[str, str], list[float]] = {}
        for repeat in range(options.repeats):
            for label, checkout in checkouts.items():
                targets = scripts(checkout)
                for job, name, args in jobs:
                    times.setdefault((label, job), []).append(timed(checkout, targets[name], args))
            print(f"repeat {repeat + 1}/{options.repeats} done", file=sys.stderr, flush=True)
    rows = [{"checkout": label, "command": job, "median_s": f"{statistics.median(values):.2f}",
             "min_s": f"{min(values):.2f}", "max_s": f"{max(values):.2f}", "repeats": len(values)}
            for (label, job), values in times.items()]
    for row in rows:
        print(f"{row['checkout']:<7} {row['command']:<22} {row['median_s']:>6} s  ({row['min_s']}-{row['max_s']})")
    if options.out:
        with open(options.out, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
