"""Tiled vs whole-image inference on a real image, every model (the narrowed configs of
tests/test_tiling.py, weights perturbed so every path is live): the receptive radius
computed from the config, and the largest |tiled - whole| at the radius and at shorter
halos. Run: JOINTSR_DATA_DIR=... python experiments/performance/tiling_equality.py"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from conftest import compose_config  # noqa: E402
from test_tiling import MODELS, live_network, real_pair  # noqa: E402

from jointsr.inference.tiling import alignment, receptive_radius, tiled_forward  # noqa: E402


def main() -> None:
    lr, guide = real_pair(4, 61, 47)
    print("real image rgbnir/urban/0004, LR 47x61 -> HR 188x244 at x4, tiles of 44 and 70 (-> 68) HR pixels")
    print(f"{'model':<14} {'radius':>6} {'align':>5} {'|diff| tile 44':>15} {'tile 68':>10}   "
          f"{'halo 0':>8} {'r/4':>8} {'r/2':>8} {'r-4':>8}")
    for name in sorted(MODELS):
        net = live_network(lambda c, o: compose_config(c, o, Path(tempfile.mkdtemp())), name)
        radius = receptive_radius(net)
        with torch.no_grad():
            whole = net(lr, guide)

            def diff(tile: int, halo=None) -> float:
                return (tiled_forward(net, lr, guide, tile, halo=halo, progress=False) - whole).abs().max().item()

            row = [diff(44), diff(70)] + [diff(44, h) for h in (0, radius // 4, radius // 2, max(radius - 4, 0))]
        print(f"{name:<14} {radius:>6} {alignment(net):>5} {row[0]:>15.1e} {row[1]:>10.1e}   "
              + " ".join(f"{v:>8.1e}" for v in row[2:]))


if __name__ == "__main__":
    main()
