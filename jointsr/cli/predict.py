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

``target=`` (or ``simulate=``) and ``guide=`` may instead be two folders, paired by file name:
the model is loaded once, each result is ``out/<name>.png``, a pair that cannot be used fails with
one line and the others go on (:mod:`jointsr.inference.folders`); a summary ends the run.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from jointsr.cli.command import USER_ERROR_STATUS, hydra_command
from jointsr.data.io import check_output, read_image, write_image
from jointsr.errors import ConfigError, InputError
from jointsr.inference.folders import (
    FolderJob,
    FolderSummary,
    check_out_folder,
    find_pairs,
    is_folder_run,
    predict_pairs,
    same_file,
)
from jointsr.inference.inputs import check_geometry, select_device, set_threads
from jointsr.inference.predictor import Predictor, simulation_line
from jointsr.inference.tiling import check_tile
from jointsr.runs.checkpoint import load_checkpoint_network

log = logging.getLogger("jointsr")


def check_paths(cfg: DictConfig) -> tuple[Path | None, Path | None, Path, Path | None, Path]:
    """The target, HR truth (``simulate=``), guide, output and checkpoint (``ckpt_path=`` or
    ``pretrained=``) paths, checked before anything is read or computed. With
    ``simulate=HR`` there is no ``target=`` and ``out=`` is optional. Two folders (targets
    and guides) take an output folder (:mod:`jointsr.inference.folders`)."""
    from jointsr.pretrained import resolve_checkpoint

    simulate = cfg.get("simulate")
    usage = ("jointsr-predict ckpt_path=<checkpoint> (or pretrained=<task>) target=<LR image> guide=<HR guide> "
             "out=<result.png>, or ckpt_path=<checkpoint> simulate=<HR image> guide=<HR guide> [out=<result.png>]; "
             "folders of images in place of the images (out=<folder>)")
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
    given_out = cfg.get("out") not in (None, "")
    source_key, source = ("simulate", truth) if simulate else ("target", target)
    if is_folder_run(source, guide, source_key):
        out = check_out_folder(cfg.out, cfg.bits, {source_key: source, "guide": guide}) if given_out else None
        return target, truth, guide, out, checkpoint
    out = check_output(cfg.out, cfg.bits) if given_out else None
    if out is not None:
        for key, source in (("target", target), ("simulate", truth), ("guide", guide),
                            ("ckpt_path", checkpoint)):
            if source is not None and same_file(out, source):
                raise InputError(f"out={out} is the {key} file: writing it would destroy the input; choose "
                                 f"another output path (overwrite=true never replaces an input)")
        if out.exists() and not cfg.overwrite:
            raise InputError(f"out={out} exists: pass overwrite=true to replace it, or choose another path")
    return target, truth, guide, out, checkpoint


def predict(cfg: DictConfig) -> Path | None:
    """Super-resolve ``target`` (or the LR image ``simulate=`` makes from an HR image, then
    print PSNR/SSIM against it and against bicubic); write ``out`` when given. Folders of
    targets and guides: every pair, with a summary; exit status 2 when a pair failed."""
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
    if guide_path.is_dir():
        job = FolderJob(truth_path is not None, out, geometry, int(cfg.bits), bool(cfg.overwrite))
        return predict_folder(truth_path or target_path, guide_path, job, checkpoint, device, tile, cfg)
    source = read_image(truth_path if truth_path is not None else target_path)
    guide = read_image(guide_path)
    predictor = _predictor(checkpoint, device, tile, cfg.get("max_memory_gb"))
    result = predictor.run(source, guide, str(truth_path or target_path), str(guide_path), truth_path is not None,
                           geometry)
    if result.scores is not None:
        print(simulation_line(str(truth_path), predictor.scale, result.scores, result.size))
    if out is None:
        return None
    path = write_image(out, result.image, bits=int(cfg.bits))
    log.info("wrote %s", path)
    return path


def predict_folder(sources: Path, guides: Path, job: FolderJob, checkpoint: Path, device: torch.device,
                   tile: int | None, cfg: DictConfig) -> Path | None:
    """Every pair of two folders through one loaded model: a line per failed pair (stderr) and per
    scored one (``simulate=``), the mean scores, and the summary; exit status 2 if a pair failed."""
    listing = find_pairs(sources, guides, "simulate" if job.simulate else "target")
    for note in listing.notes:
        log.warning(note)
    predictor = _predictor(checkpoint, device, tile, cfg.get("max_memory_gb"), details=logging.DEBUG,
                           progress=False)
    outcomes = []
    for outcome in predict_pairs(predictor, listing.pairs, job):
        if outcome.error is not None:
            print(f"jointsr-predict: failed {outcome.name}: {outcome.error}", file=sys.stderr, flush=True)
        elif outcome.line is not None:
            print(outcome.line, flush=True)
        outcomes.append(outcome)
    summary = FolderSummary(outcomes, job.out)
    mean = summary.mean_line(predictor.scale)
    if mean is not None:
        print(mean)
    print(summary.line(), flush=True)
    if summary.failed:
        sys.exit(USER_ERROR_STATUS)
    return job.out


def _predictor(checkpoint: Path, device: torch.device, tile: int | None, max_memory_gb: float | None,
               **options) -> Predictor:
    """The checkpoint's network, loaded once, on ``device``."""
    set_threads()
    return Predictor(load_checkpoint_network(checkpoint), device, tile, max_memory_gb, **options)


main = hydra_command("predict", predict)


if __name__ == "__main__":
    main()
