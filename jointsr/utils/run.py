"""What every entry point needs: build objects from the config, close trackers, log results."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger("jointsr")


def instantiate_group(cfg: DictConfig | None) -> list:
    """Instantiate every ``_target_`` entry of a group such as ``callbacks`` or ``logger``."""
    if not cfg:
        return []
    return [hydra.utils.instantiate(entry) for entry in cfg.values()
            if isinstance(entry, DictConfig) and "_target_" in entry]


def build_model(model_cfg: DictConfig) -> L.LightningModule:
    """The LightningModule, remembering its resolved config so checkpoints can rebuild it."""
    model = hydra.utils.instantiate(model_cfg)
    model.model_cfg = OmegaConf.to_container(model_cfg, resolve=True)
    return model


def load_checkpoint_model(ckpt_path: str | Path, fallback_cfg: DictConfig | None) -> L.LightningModule:
    """Rebuild the model a checkpoint was trained with and load its weights."""
    path = Path(ckpt_path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    stored = checkpoint.get("jointsr", {}).get("model_cfg")
    if not stored and fallback_cfg is None:
        raise ValueError(f"{path} holds no jointsr model config (not written by jointsr-train?)")
    model_cfg = OmegaConf.create(stored) if stored else fallback_cfg
    if not stored:
        log.warning("%s holds no model config; using the composed model=%s", path, fallback_cfg.name)
    model = build_model(model_cfg)
    model.load_state_dict(checkpoint["state_dict"])
    return model


@contextlib.contextmanager
def closing_trackers(loggers: list) -> Iterator[None]:
    """Always finish the experiment trackers, so a multirun never logs two jobs into one run."""
    try:
        yield
    finally:
        for logger in loggers:
            if type(logger).__name__ == "WandbLogger":
                import wandb

                if wandb.run is not None:
                    wandb.finish()


def set_threads() -> None:
    """Use every core for intra-op work (PyTorch may pick fewer under some launchers)."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if cores and torch.get_num_threads() < cores and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cores)
