"""Untrained networks on a real crop: code density per state, PSNR, ||S|| (issue 11).

    python experiments/init/probe.py [--scene feathers] [--size 128] [--scale 4] [--json OUT]

Builds each listed model config exactly as jointsr-train would (Hydra composition, no
training), runs it on an HR centre crop of a CAVE test scene (LR by the protocol's MATLAB
bicubic) and prints, per network: the density of every code state at every unrolled step,
the untrained PSNR against the truth (bicubic beside it), and the operator norm of each
free-form update S. Where the network can calibrate itself (``calibrate``, what training
does on its first batch), it does so on HR crops of four *training* scenes and is measured
again on the test crop: the state training starts from.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.data.datasets.cave import CAVE
from jointsr.data.degradation import Bicubic
from jointsr.functional.imresize import imresize
from jointsr.data.scenes import centre_crop, load_scene
from jointsr.metrics.protocol import psnr

CALIBRATION_SCENES = ("balloons", "beads", "cd", "clay")

VARIANTS = {
    "default (factorised, skip)": ["model=jointsr"],
    "factorised, no skip": ["model=jointsr", "model.net.global_skip=false"],
    "free, no skip (k32 K5)": ["model=jointsr", "model.net.global_skip=false", "model.net.form=free"],
    "free, no skip, S of 2K-1 (k32 K5)": ["model=jointsr", "model.net.global_skip=false", "model.net.form=free",
                                          "model.net.free_kernel_size=9"],
    "jointsr_paper (free k64 K7)": ["model=jointsr_paper"],
    "factorised k64 K7, no skip": ["model=jointsr_paper", "model.net.form=factorised"],
}


def build(overrides: list[str], scale: int):
    import hydra

    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", overrides=[f"scale=x{scale}", "data=cave", *overrides])
    return hydra.utils.instantiate(cfg.model.net)


def operator_norm(weight: torch.Tensor, grid: int = 64) -> float:
    """Spectral norm of a stride-1 k->k convolution with 'same' padding on large images."""
    spectrum = torch.fft.fft2(weight.detach().double(), s=(grid, grid))  # (out, in, g, g)
    matrices = spectrum.permute(2, 3, 0, 1)
    return float(torch.linalg.matrix_norm(matrices, ord=2).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="feathers")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    root = Path(os.environ.get("JOINTSR_DATA_DIR", "../shared/data"))
    dataset = CAVE(root / "cave")
    scene = centre_crop(load_scene(dataset, args.scene, args.scale, Bicubic()), args.size, args.scale)
    lr, guide = torch.from_numpy(scene.lr)[None], torch.from_numpy(scene.guide)[None]
    crops = [centre_crop(load_scene(dataset, name, args.scale, Bicubic()), 176, args.scale)
             for name in CALIBRATION_SCENES]
    batch = [torch.stack([torch.from_numpy(getattr(c, f)) for c in crops]) for f in ("lr", "guide", "hr")]
    truth = scene.hr[0]
    bicubic = imresize(lr, out_shape=truth.shape)[0, 0].clamp(0, 1).numpy()
    print(f"{args.scene} {args.size}x{args.size} HR, x{args.scale}: bicubic {psnr(bicubic, truth):.2f} dB")
    results = {"scene": args.scene, "size": args.size, "scale": args.scale,
               "bicubic_psnr": psnr(bicubic, truth), "networks": {}}
    for name, overrides in VARIANTS.items():
        net = build(overrides, args.scale).eval()
        with torch.no_grad():
            out = net(lr, guide)[0, 0].clamp(0, 1).numpy()
            densities = trace_densities(net, lr, guide)
        norms = {n: operator_norm(m.weight) for n, m in net.named_modules()
                 if n.endswith(".S") and isinstance(m, torch.nn.Conv2d)}
        row = {"psnr": psnr(out, truth), "density": densities, "S_norm": norms}
        dens = " ".join(f"{k}={v:.0%}" for k, v in densities.items())
        snorm = ", ".join(f"{k}={v:.3f}" for k, v in norms.items())
        print(f"- {name}: PSNR {row['psnr']:.2f} dB\n    density {dens}\n    ||S|| {snorm or '-'}")
        if hasattr(net, "calibrate"):
            with torch.no_grad():
                net.calibrate(*batch)
                out = net(lr, guide)[0, 0].clamp(0, 1).numpy()
                calibrated = trace_densities(net, lr, guide)
            row["calibrated"] = {"psnr": psnr(out, truth), "density": calibrated}
            dens = " ".join(f"{k}={v:.0%}" for k, v in calibrated.items())
            print(f"    calibrated on {len(CALIBRATION_SCENES)} training crops: PSNR {row['calibrated']['psnr']:.2f} dB"
                  f"\n    density {dens}")
        results["networks"][name] = row
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def trace_densities(net, lr, guide) -> dict[str, float]:
    """Density of every code state at every step (the network's ``diagnostics``)."""
    return {k[len("density/"):]: v for k, v in net.diagnostics(lr, guide).items()
            if k.startswith("density/")}


if __name__ == "__main__":
    sys.exit(main())
