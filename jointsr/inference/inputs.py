"""A user's image pair as network inputs: the LR target and HR guide as tensors, the LR input
the protocol makes from an HR image, the device to run on, and the memory a forward pass needs
against what is free: each checked with a one-line reason when it cannot be used."""

from __future__ import annotations

import logging

import numpy as np
import torch

from jointsr.data.io import single_channel
from jointsr.errors import ConfigError, InputError, ResourceError
from jointsr.functional.color import rgb_to_y
from jointsr.inference.memory import available_bytes, estimate_forward_bytes, gigabytes

log = logging.getLogger("jointsr")

DEVICES = "auto | cpu | cuda | cuda:N"


def prepare_inputs(target: np.ndarray, guide: np.ndarray, scale: int, guide_channels: int,
                   target_name: str = "target", guide_name: str = "guide") -> tuple[torch.Tensor, torch.Tensor]:
    """``(1,1,h,w)`` LR target and ``(1,C,s*h,s*w)`` guide tensors from float images in [0, 1].

    A target stored as RGB with three equal channels (a grey image saved in colour) is
    read as grey; a colour target is refused.
    """
    target = single_channel(target, f"{target_name} (the target)")
    height, width = target.shape[0] * scale, target.shape[1] * scale
    if guide.shape[0] < height or guide.shape[1] < width or \
            guide.shape[0] >= height + scale or guide.shape[1] >= width + scale:
        raise InputError(f"{guide_name} is {guide.shape[1]}x{guide.shape[0]} (WxH) but must be x{scale} the "
                         f"target {target.shape[1]}x{target.shape[0]}, i.e. {width}x{height} (up to "
                         f"{scale - 1} extra pixels are cropped)")
    guide = guide[:height, :width]
    if guide.ndim == 2:
        guide = np.repeat(guide[..., None], 3, axis=2)
    guide_image = rgb_to_y(guide)[None] if guide_channels == 1 else guide.transpose(2, 0, 1)
    return (torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32))[None, None],
            torch.from_numpy(np.ascontiguousarray(guide_image, dtype=np.float32))[None])

def select_device(name: str) -> torch.device:
    """``auto`` (a GPU when there is one), ``cpu``, ``cuda`` or ``cuda:N``, checked to exist."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ResourceError(f"device={name}: no CUDA GPU is available on this machine (or this PyTorch "
                                f"build has no CUDA); use device=cpu or device=auto")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ResourceError(f"device={name}: this machine has {torch.cuda.device_count()} GPU(s), "
                                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
        return device
    raise ConfigError(f"device={name!r} is not a device: use one of {DEVICES}")

def simulate_target(truth: np.ndarray, scale: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The protocol's LR input of an HR image: grey, modcropped to the scale, then MATLAB
    ``imresize(hr, 1/scale, 'bicubic')``. Returns ``(lr, modcropped hr)``."""
    from jointsr.data.degradation import Bicubic
    from jointsr.functional.imresize import modcrop

    truth = single_channel(truth, f"simulate={name} (the HR target)")
    hr = modcrop(truth, scale)
    if min(hr.shape) < 2 * scale:
        raise InputError(f"simulate={name} is {truth.shape[1]}x{truth.shape[0]}: too small to degrade by x{scale}")
    return Bicubic()(hr, scale), hr

def check_memory(net: torch.nn.Module, lr_target: torch.Tensor, guide_channels: int, device: torch.device,
                 limit_gb: float | None) -> None:
    """Refuse, with the numbers, a forward pass that would not fit in memory."""
    height, width = lr_target.shape[-2:]
    needed = estimate_forward_bytes(net, height, width, guide_channels, net.scale, device)
    limit = available_bytes(device) if limit_gb is None else int(float(limit_gb) * 1e9)
    where = "GPU memory" if device.type == "cuda" else "memory"
    log.info("estimated peak %s: %s (%s)", where, gigabytes(needed),
             "no limit known" if limit is None else f"{gigabytes(limit)} available")
    if limit is not None and needed > limit:
        tiles = int(np.ceil(np.sqrt(needed / max(limit, 1))))
        raise ResourceError(
            f"super-resolving the {width}x{height} target at x{net.scale} ({width * net.scale}x"
            f"{height * net.scale}) needs about {gigabytes(needed)} of {where}, {gigabytes(limit)} "
            f"{'allowed' if limit_gb is not None else 'available'}: split the target and guide into "
            f"{tiles}x{tiles} tiles of about {int(np.ceil(width / tiles))}x{int(np.ceil(height / tiles))} "
            f"(LR) and run each, or use a machine with more memory (max_memory_gb=... sets the limit)")
