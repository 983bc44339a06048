"""Is tiled inference time linear in the pixels? Runs ``jointsr-bench`` (inference only) over
HR sizes from 0.25 to 16 megapixels, or reads a JSON line it printed, fits
``seconds = a * megapixels`` (through 0: every pixel costs the same) and reports each size's
deviation from the fit (the issue asks within 15 %), with a plot.

    python experiments/performance/scaling.py [--from bench.json] [--out scaling.png] [overrides]

Timings are results only on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

SIZES = [[512, 512], [1024, 1024], [1448, 1448], [2048, 2048], [2896, 2896], [4096, 4096]]  # 0.26 .. 16.8 MP


def run_bench(overrides: list[str]) -> dict:
    sizes = json.dumps(SIZES).replace(" ", "")
    command = ["jointsr-bench", "train.enabled=false", f"infer.sizes={sizes}", *overrides]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def linearity(rows: list[dict], pixels=None) -> tuple[float, list[tuple[float, float, float]]]:
    """Least-squares slope through 0 (seconds per megapixel) and per size (MP, s, deviation);
    ``pixels(row)`` counts a row's megapixels (default: the HR output's)."""
    pixels = pixels or (lambda r: r["hr_shape"][0] * r["hr_shape"][1] / 1e6)
    points = [(pixels(r), r["seconds"]) for r in rows if "seconds" in r]
    slope = sum(m * s for m, s in points) / sum(m * m for m, _ in points)
    return slope, [(m, s, s / (slope * m) - 1) for m, s in points]


def computed_megapixels(row: dict, halo: int, align: int) -> float:
    """The HR pixels the network computes for a row: every tile's crop with its halo, clipped
    at the image border (tiles on the border have halos on fewer sides), as jointsr.inference.tiling cuts them."""
    from jointsr.inference.tiling import tile_crops

    height, width = row["hr_shape"]
    tile = row.get("tile") or 0
    if tile <= 0 or (tile >= height and tile >= width):
        return height * width / 1e6
    crops = tile_crops(height, width, tile, halo, align)
    return sum((bottom - top) * (right - left) for _, (top, bottom, left, right) in crops) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, help="a file whose last line is jointsr-bench's JSON")
    parser.add_argument("--out", type=Path, default=Path("scaling.png"))
    parser.add_argument("--halo", type=int, default=44, help="the tiles' halo in HR pixels (default 44: the "
                        "default JointSR x4's receptive radius 41 rounded up to the alignment)")
    parser.add_argument("--align", type=int, default=4, help="tile origins' alignment (the scale; default 4)")
    args, overrides = parser.parse_known_args()
    document = (json.loads(args.source.read_text().strip().splitlines()[-1]) if args.source
                else run_bench(overrides))
    slope, points = linearity(document["infer"])
    print(f"{document['model']} x{document['scale']}: {slope:.3f} s per megapixel (fit through 0)")
    for megapixels, seconds, deviation in points:
        print(f"  {megapixels:7.2f} MP {seconds:9.2f} s  {100 * deviation:+6.1f} % from linear")
    worst = max(abs(d) for _, _, d in points)
    print(f"largest deviation {100 * worst:.1f} % ({'within' if worst <= 0.15 else 'beyond'} 15 %)")
    computed_slope, computed = linearity(document["infer"], lambda r: computed_megapixels(r, args.halo, args.align))
    print(f"against the pixels computed (tiles with their halos, halo {args.halo}): {computed_slope:.3f} s per "
          f"megapixel")
    for (megapixels, seconds, _), (work, _, deviation) in zip(points, computed):
        print(f"  {megapixels:7.2f} MP out, {work:7.2f} MP computed {seconds:9.2f} s  {100 * deviation:+6.1f} % "
              f"from linear")
    worst = max(abs(d) for _, _, d in computed)
    print(f"largest deviation {100 * worst:.1f} % ({'within' if worst <= 0.15 else 'beyond'} 15 %)")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    xs = [m for m, _, _ in points]
    axis.plot(xs, [s for _, s, _ in points], "o", label="measured")
    axis.plot([0, max(xs)], [0, slope * max(xs)], "-", label=f"{slope:.2f} s/MP")
    axis.set_xlabel("HR megapixels")
    axis.set_ylabel("seconds")
    axis.set_title(f"{document['model']} x{document['scale']} tiled inference")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
