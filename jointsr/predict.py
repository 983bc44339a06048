"""``jointsr-predict``: super-resolve a user's own image pair with a trained checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from jointsr import CONFIG_DIR
from jointsr.data.color import rgb_to_y
from jointsr.data.io import read_image, write_image
from jointsr.utils.run import load_checkpoint_model, set_threads

log = logging.getLogger("jointsr")


def prepare_inputs(target: np.ndarray, guide: np.ndarray, scale: int, guide_channels: int,
                   target_name: str = "target", guide_name: str = "guide") -> tuple[torch.Tensor, torch.Tensor]:
    """``(1,1,h,w)`` LR target and ``(1,C,s*h,s*w)`` guide tensors from float images in [0, 1]."""
    if target.ndim != 2:
        raise ValueError(f"{target_name}: the target must be a single-channel image, got shape {target.shape}")
    height, width = target.shape[0] * scale, target.shape[1] * scale
    if guide.shape[0] < height or guide.shape[1] < width or \
            guide.shape[0] >= height + scale or guide.shape[1] >= width + scale:
        raise ValueError(f"{guide_name} is {guide.shape[1]}x{guide.shape[0]} (WxH) but must be x{scale} the "
                         f"target {target.shape[1]}x{target.shape[0]}, i.e. {width}x{height} (up to "
                         f"{scale - 1} extra pixels are cropped)")
    guide = guide[:height, :width]
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    guide_image = rgb_to_y(guide)[None] if guide_channels == 1 else guide.transpose(2, 0, 1)
    return (torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))[None, None],
            torch.from_numpy(np.ascontiguousarray(guide_image, dtype=np.float32))[None])


def predict(cfg: DictConfig) -> Path:
    set_threads()
    model = load_checkpoint_model(cfg.ckpt_path, fallback_cfg=None)
    net = model.net.eval()
    device = torch.device("cuda" if cfg.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if cfg.device == "auto" else cfg.device))
    lr_target, hr_guide = prepare_inputs(read_image(cfg.target), read_image(cfg.guide), net.scale,
                                         getattr(net, "guide_channels", 1), str(cfg.target), str(cfg.guide))
    start = time.perf_counter()
    log.info("super-resolving %s x%d (%dx%d -> %dx%d) on %s", cfg.target, net.scale, lr_target.shape[-1],
             lr_target.shape[-2], hr_guide.shape[-1], hr_guide.shape[-2], device)
    with torch.inference_mode():
        prediction = net.to(device)(lr_target.to(device), hr_guide.to(device)).clamp(0, 1)
    path = write_image(cfg.out, prediction[0, 0].float().cpu().numpy(), bits=int(cfg.bits))
    log.info("wrote %s in %.1f s", path, time.perf_counter() - start)
    return path


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
def main(cfg: DictConfig) -> None:
    predict(cfg)


if __name__ == "__main__":
    main()
