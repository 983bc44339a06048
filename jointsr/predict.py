"""``jointsr-predict``: super-resolve a user's own image pair with a trained checkpoint.

Everything is checked before the network runs: the output path (a new ``.png``, never one
of the inputs; an existing file only with ``overwrite=true``), ``bits``, the device, both
images (read as :mod:`jointsr.data.io` documents), their sizes against the scale, the
checkpoint (read safely), and the memory the forward pass will need against what is free.
The result is written atomically: an interrupted run leaves no partial image.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from jointsr import CONFIG_DIR
from jointsr.functional.color import rgb_to_y
from jointsr.data.io import check_output, read_image, single_channel, write_image
from jointsr.errors import ConfigError, InputError, ResourceError, reports_user_errors, run_command
from jointsr.tiling import auto_tile, check_tile, receptive_radius, tiled_forward
from jointsr.utils.memory import available_bytes, estimate_forward_bytes, gigabytes
from jointsr.utils.run import load_checkpoint_model, set_threads

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


def check_paths(cfg: DictConfig) -> tuple[Path | None, Path | None, Path, Path | None, Path]:
    """The target, HR truth (``simulate=``), guide, output and checkpoint (``ckpt_path=`` or
    ``pretrained=``) paths, checked before anything is read or computed. With
    ``simulate=HR`` there is no ``target=`` and ``out=`` is optional."""
    from jointsr.pretrained import resolve_checkpoint

    simulate = cfg.get("simulate")
    usage = ("jointsr-predict ckpt_path=<checkpoint> (or pretrained=<task>) target=<LR image> guide=<HR guide> "
             "out=<result.png>, or ckpt_path=<checkpoint> simulate=<HR image> guide=<HR guide> [out=<result.png>]")
    if cfg.get("pretrained") in (None, "") and cfg.get("ckpt_path") in (None, ""):
        raise ConfigError(f"no ckpt_path= or pretrained= given: {usage}")
    checkpoint = Path(resolve_checkpoint(cfg)).expanduser()
    required = ("guide",) + (() if simulate else ("target", "out"))
    for key in required:
        if OmegaConf.is_missing(cfg, key) or cfg.get(key) in (None, ""):
            raise ConfigError(f"no {key}= given: {usage}")
    if simulate and cfg.get("target") not in (None, ""):
        raise ConfigError(f"target={cfg.target} and simulate={simulate}: give one (simulate= makes the LR target "
                          f"from an HR image)")
    if not isinstance(cfg.overwrite, bool):
        raise ConfigError(f"overwrite={cfg.overwrite!r} must be true or false")
    if not isinstance(cfg.bits, int) or isinstance(cfg.bits, bool):
        raise ConfigError(f"bits={cfg.bits} must be 8 or 16 (the output PNG's bit depth)")
    target = None if simulate else Path(cfg.target).expanduser()
    truth = Path(simulate).expanduser() if simulate else None
    guide = Path(cfg.guide).expanduser()
    out = check_output(cfg.out, cfg.bits) if cfg.get("out") not in (None, "") else None
    if out is not None:
        for key, source in (("target", target), ("simulate", truth), ("guide", guide),
                            ("ckpt_path", checkpoint)):
            if source is not None and _same_file(out, source):
                raise InputError(f"out={out} is the {key} file: writing it would destroy the input; choose "
                                 f"another output path (overwrite=true never replaces an input)")
        if out.exists() and not cfg.overwrite:
            raise InputError(f"out={out} exists: pass overwrite=true to replace it, or choose another path")
    return target, truth, guide, out, checkpoint


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


def _same_file(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


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


def predict(cfg: DictConfig) -> Path | None:
    """Super-resolve ``target`` (or the LR image ``simulate=`` makes from an HR image, then
    print PSNR/SSIM against it and against bicubic); write ``out`` when given."""
    target_path, truth_path, guide_path, out, checkpoint = check_paths(cfg)
    if cfg.get("max_memory_gb") is not None and not float(cfg.max_memory_gb) > 0:
        raise ConfigError(f"max_memory_gb={cfg.max_memory_gb} must be > 0 (GB), or null for the memory "
                          f"available")
    tile = check_tile(cfg.get("tile"))
    device = select_device(cfg.device)
    source = read_image(truth_path if truth_path is not None else target_path)
    guide = read_image(guide_path)
    set_threads()
    model = load_checkpoint_model(checkpoint)
    net = model.net.eval()
    truth = None
    if truth_path is not None:
        target, truth = simulate_target(source, net.scale, str(truth_path))
        target_name = f"{truth_path} (degraded x{net.scale}, MATLAB bicubic)"
    else:
        target, target_name = source, str(target_path)
    lr_target, hr_guide = prepare_inputs(target, guide, net.scale, net.guide_channels, target_name,
                                         str(guide_path))
    net = net.to(device)
    if tile is None:  # automatic: the whole image when it fits in the memory allowed, else tiles
        limit = cfg.get("max_memory_gb")
        tile = auto_tile(net, *hr_guide.shape[-2:], net.guide_channels, device,
                         None if limit is None else int(float(limit) * 1e9))
        tile = 0 if tile is None else tile  # not even a small tile fits: the check below refuses
    if tile == 0:
        check_memory(net, lr_target, net.guide_channels, device, cfg.get("max_memory_gb"))
    else:
        log.info("tiles of %d x %d HR pixels with a halo of %d (the receptive radius)", tile, tile,
                 receptive_radius(net))
    start = time.perf_counter()
    log.info("super-resolving %s x%d (%dx%d -> %dx%d) on %s", target_name, net.scale, lr_target.shape[-1],
             lr_target.shape[-2], hr_guide.shape[-1], hr_guide.shape[-2], device)
    with torch.inference_mode():
        prediction = tiled_forward(net, lr_target.to(device), hr_guide.to(device), tile).clamp(0, 1)
    image = prediction[0, 0].float().cpu().numpy()
    log.info("super-resolved in %.1f s", time.perf_counter() - start)
    if truth is not None:
        print(simulation_report(image, truth, lr_target, str(truth_path), net.scale))
    if out is None:
        return None
    path = write_image(out, image, bits=int(cfg.bits))
    log.info("wrote %s", path)
    return path


def simulation_report(prediction: np.ndarray, truth: np.ndarray, lr_target: torch.Tensor, name: str,
                      scale: int) -> str:
    """PSNR/SSIM (the paper's protocol) of the prediction and of bicubic against the HR truth."""
    from jointsr.functional.imresize import imresize
    from jointsr.metrics.protocol import evaluate_pair

    bicubic = imresize(lr_target, out_shape=truth.shape)[0, 0].numpy()
    ours, reference = evaluate_pair(prediction, truth), evaluate_pair(bicubic, truth)
    return (f"{name} x{scale} ({truth.shape[1]}x{truth.shape[0]}): PSNR {ours['psnr']:.2f} dB, SSIM "
            f"{ours['ssim']:.4f} | bicubic {reference['psnr']:.2f} dB, {reference['ssim']:.4f} | gain "
            f"{ours['psnr'] - reference['psnr']:+.2f} dB")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@reports_user_errors("predict")
def _hydra_main(cfg: DictConfig) -> None:
    predict(cfg)


def main() -> None:
    """``jointsr-predict ckpt_path=... target=... guide=... out=...``: user errors are one line, status 2."""
    run_command("predict", _hydra_main)


if __name__ == "__main__":
    main()
