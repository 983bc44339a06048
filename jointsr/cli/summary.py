"""``jointsr-summary``: a model's parameters and FLOPs per HR pixel, from a real forward pass."""

from __future__ import annotations

import json

import torch
from omegaconf import DictConfig
from torch.utils.flop_counter import FlopCounterMode

from jointsr.cli.command import hydra_command
from jointsr.training.build import build_model


def summarise(cfg: DictConfig) -> dict:
    """Count parameters per top-level block and FLOPs of one forward pass on random input."""
    model = build_model(cfg.model)
    net = model.net.eval()
    scale, size = int(cfg.scale), int(cfg.lr_size)
    channels = int(cfg.data.guide_channels)
    lr_target = torch.rand(1, 1, size, size)
    hr_guide = torch.rand(1, channels, size * scale, size * scale)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(lr_target, hr_guide)
    flops = counter.get_total_flops()
    rows = [(name, sum(p.numel() for p in child.parameters())) for name, child in net.named_children()]
    params = sum(p.numel() for p in net.parameters())
    width = max([len(name) for name, _ in rows] + [10])
    print(f"{model.name} x{scale}  (forward on LR {size}x{size}, HR {size * scale}x{size * scale})")
    print(f"{'block':<{width}} {'params':>12}")
    for name, count in rows:
        print(f"{name:<{width}} {count:>12,}")
    print(f"{'total':<{width}} {params:>12,}")
    print(f"FLOPs per HR pixel: {flops / (size * scale) ** 2:,.0f}")
    result = {"model": model.name, "scale": scale, "params": params,
              "flops_per_hr_pixel": flops / float((size * scale) ** 2)}
    print(json.dumps(result))
    return result


main = hydra_command("summary", summarise)


if __name__ == "__main__":
    main()
