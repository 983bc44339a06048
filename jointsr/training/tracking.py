"""Weights & Biases runs worth opening: grouped by sweep, short names, tags, the best
``val/psnr``, the per-image test table and the best checkpoint as an artifact.

Offline runs (the default) are written into each job's folder,
``<run>/wandb/offline-run-*``; one command syncs a whole sweep::

    wandb sync logs/train/sweeps/<sweep>/*/wandb/offline-run-*
"""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger("jointsr")


def _hydra():
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def swept_keys(hydra_cfg) -> list[str]:
    """The keys a multirun sweeps: its command-line sweeps (``model=a,b``, read from the
    sweep's ``multirun.yaml``) and ``hydra.sweeper.params`` of an experiment."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = list((OmegaConf.select(hydra_cfg, "sweeper.params") or {}).keys())
    saved = Path(hydra_cfg.sweep.dir) / "multirun.yaml"
    if saved.is_file():
        task = OmegaConf.select(OmegaConf.load(saved), "hydra.overrides.task") or []
        for override in OverridesParser.create().parse_overrides(list(task)):
            if override.is_sweep_override() and override.get_key_element() not in keys:
                keys.append(override.get_key_element())
    return keys


def short_name(overrides: list[str], keys: list[str]) -> str:
    """``T=2,R=3`` from the job's overrides of ``keys``: the last part of each key, unless two
    keys share it."""
    chosen = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in keys]
    lasts = [o.split("=", 1)[0].lstrip("+~").split(".")[-1] for o in chosen]
    parts = []
    for override, last in zip(chosen, lasts):
        key, value = override.split("=", 1)
        parts.append(f"{last if lasts.count(last) == 1 else key.lstrip('+~')}={value}")
    return ",".join(parts)


def wandb_identity(cfg: DictConfig) -> dict:
    """``group``, ``name`` and ``tags`` of a run: the group is the sweep (``experiment_name``
    unless it is ``default``, else the sweep folder's name), the name the overrides the sweep
    varies (a single run: model-data-xscale), the tags model, data, scale and sweep."""
    hydra_cfg = _hydra()
    choices = hydra_cfg.runtime.choices if hydra_cfg is not None else {}
    data = choices.get("data") or "data"
    model = cfg.model.get("name", "model")
    multirun = hydra_cfg is not None and str(hydra_cfg.mode) == "RunMode.MULTIRUN"
    group = cfg.get("experiment_name") or "default"
    if group == "default" and multirun:
        group = Path(hydra_cfg.sweep.dir).name
    name = None
    if multirun:
        name = short_name(list(hydra_cfg.overrides.task), swept_keys(hydra_cfg))
    if not name:
        name = f"{model}-{data}-x{cfg.scale}"
    tags = [str(tag) for tag in (cfg.get("tags") or [])]
    for tag in (model, data, f"x{cfg.scale}", *([f"sweep:{group}"] if multirun or group != "default" else [])):
        if tag not in tags:
            tags.append(tag)
    return {"group": group, "name": name, "tags": tags}


def configure_wandb(cfg: DictConfig) -> None:
    """Fill ``logger.wandb``'s ``group``, ``name`` and ``tags`` left null (:func:`wandb_identity`)."""
    wandb_cfg = OmegaConf.select(cfg, "logger.wandb")
    if wandb_cfg is None:
        return
    identity = wandb_identity(cfg)
    with open_dict(cfg):
        for key, value in identity.items():
            if wandb_cfg.get(key) is None:
                wandb_cfg[key] = value


def _wandb_loggers(loggers: list) -> list:
    return [logger for logger in loggers if type(logger).__name__ == "WandbLogger"]


def start_runs(loggers: list) -> None:
    """``val/psnr`` and ``val/ssim`` summarised as their best (max), not their last value."""
    for logger in _wandb_loggers(loggers):
        run = logger.experiment
        run.define_metric("val/psnr", summary="max")
        run.define_metric("val/ssim", summary="max")


def log_test_table(loggers: list, document: dict) -> None:
    """The per-image test results (and bicubic's, when known) as a ``wandb.Table``."""
    bicubic = (document.get("bicubic") or {}).get("per_image", {})
    columns = ["image", "psnr", "ssim", "ssim_plain"] + (["bicubic_psnr", "gain_db"] if bicubic else [])
    rows = []
    for item in document["per_image"]:
        row = [item["name"], item["psnr"], item["ssim"], item["ssim_plain"]]
        if bicubic:
            reference = bicubic.get(item["name"], {}).get("psnr")
            row += [reference, None if reference is None else item["psnr"] - reference]
        rows.append(row)
    for logger in _wandb_loggers(loggers):
        logger.log_table(key="test/per_image", columns=columns, data=rows)
        logger.experiment.summary.update({f"test/{key}": value for key, value in document["mean"].items()})


def log_checkpoint(loggers: list, path: str | Path, metadata: dict) -> None:
    """The checkpoint at ``path`` as a ``model`` artifact aliased ``best`` (works offline:
    ``wandb sync`` uploads it)."""
    import wandb

    for logger in _wandb_loggers(loggers):
        run = logger.experiment
        artifact = wandb.Artifact(name=f"model-{run.id}", type="model", metadata=metadata)
        artifact.add_file(str(path), name="best.ckpt")
        run.log_artifact(artifact, aliases=["best"])
