"""``jointsr-predict``: super-resolve a user's own image pair with a trained checkpoint.

Everything is checked before the network runs: the output path (a new ``.png``, never one
of the inputs; an existing file only with ``overwrite=true``), ``bits``, the device, both
images (read as :mod:`jointsr.data.io` documents), their sizes against the scale, the
checkpoint (read safely), and the memory the forward pass will need against what is free.
A guide of exactly ``scale`` x the target is used as it is. One up to ``scale - 1`` pixels off per
side is read as showing the target's whole field of view (a target resized from a guide-sized
image): the network runs on the guide resampled to ``scale`` x the target and the result is
resampled back to the guide's size; ``geometry=crop`` cuts a larger guide to ``scale`` x the
target instead, as the protocol's modcrop does (:func:`jointsr.inference.inputs.pair_geometry`).
The result is written atomically: an interrupted run leaves no partial image.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from jointsr.cli.command import hydra_command
from jointsr.data.io import check_output, read_image, write_image
from jointsr.errors import ConfigError, InputError
from jointsr.inference.inputs import (
    check_geometry,
    check_memory,
    prepare_inputs,
    select_device,
    simulate_target,
)
from jointsr.inference.tiling import (
    auto_tile,
    check_tile,
    receptive_radius,
    tiled_forward,
)
from jointsr.training.build import load_checkpoint_model, set_threads

log = logging.getLogger("jointsr")





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



def _same_file(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False



def predict(cfg: DictConfig) -> Path | None:
    """Super-resolve ``target`` (or the LR image ``simulate=`` makes from an HR image, then
    print PSNR/SSIM against it and against bicubic); write ``out`` when given."""
    target_path, truth_path, guide_path, out, checkpoint = check_paths(cfg)
    if cfg.get("max_memory_gb") is not None and not float(cfg.max_memory_gb) > 0:
        raise ConfigError(f"max_memory_gb={cfg.max_memory_gb} must be > 0 (GB), or null for the memory "
                          f"available")
    tile = check_tile(cfg.get("tile"))
    geometry = check_geometry(cfg.geometry)
    if truth_path is not None and geometry == "resample":
        raise ConfigError(f"simulate={truth_path} with geometry=resample: simulate= makes the target from the HR "
                          f"image modcropped to the scale, so its geometry is crop; leave out geometry=")
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
    lr_target, hr_guide, pair = prepare_inputs(target, guide, net.scale, net.guide_channels, target_name,
                                               str(guide_path), "crop" if truth is not None else geometry)
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
    image = np.clip(pair.output_from_grid(prediction[0, 0].float().cpu().numpy()), 0.0, 1.0)
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


main = hydra_command(
    "predict", "predict", predict,
    description=(
        "super-resolve your own LR image with a trained checkpoint and an HR guide, or (simulate=) "
        "degrade an HR image as the protocol does, super-resolve it and print PSNR/SSIM. Writes "
        "out= and nothing else."),
    examples=[
        "jointsr-predict ckpt_path=<ckpt> target=nir_lr.png guide=rgb_hr.png out=nir_sr.png",
        "jointsr-predict ckpt_path=<ckpt> simulate=nir_hr.png guide=rgb_hr.png"])


if __name__ == "__main__":
    main()
