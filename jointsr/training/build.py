"""What every entry point needs: build objects from the config, close trackers, log results."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import hydra
import lightning as L
from omegaconf import DictConfig, OmegaConf

from jointsr.runs.checkpoint import check_scale, load_checkpoint, load_weights, stored_model_config

log = logging.getLogger("jointsr")


def instantiate_group(cfg: DictConfig | None) -> list:
    """Instantiate every ``_target_`` entry of a group such as ``callbacks`` or ``logger``."""
    if not cfg:
        return []
    return [hydra.utils.instantiate(entry) for entry in cfg.values()
            if isinstance(entry, DictConfig) and "_target_" in entry]


#: Testing runs in one process whatever ``trainer=`` says (jointsr-train's test, jointsr-eval):
#: a test split is a few whole images, and under a spawned multi-process strategy the
#: per-image rows would stay in the worker processes, leaving ``test_metrics.json`` empty.
ONE_PROCESS = {"devices": 1, "num_nodes": 1, "strategy": "auto"}


def build_trainer(trainer_cfg: DictConfig, **kwargs) -> L.Trainer:
    """The Lightning trainer of ``trainer_cfg`` with its validation interval fitted to the run's
    budget (:func:`~jointsr.training.callbacks.validation_interval`; a note is logged when it
    differs from the configured one); ``kwargs`` override the config (loggers, callbacks). A
    logger that is also a callback (:class:`~jointsr.training.loggers.RunLogger`) is added to the
    callbacks."""
    from jointsr.configs import TrainerTypes, check_types
    from jointsr.training.callbacks import validation_interval

    check_types(trainer_cfg, TrainerTypes, "trainer")
    interval, note = validation_interval(trainer_cfg.get("val_check_interval", "auto"), trainer_cfg.get("max_steps"),
                                         trainer_cfg.get("max_time"))
    if note and "val_check_interval" not in kwargs:
        log.warning(note)
    # a logger that listens to the fit (RunLogger: the resumed step) is one of its callbacks too
    listening = [logger for logger in kwargs.get("logger") or [] if isinstance(logger, L.Callback)]
    if listening:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *listening]
    return hydra.utils.instantiate(trainer_cfg, **{"val_check_interval": interval, **kwargs})


def build_model(model_cfg: DictConfig) -> L.LightningModule:
    """The LightningModule, remembering its resolved config so checkpoints can rebuild it."""
    # plain lists and dicts, never OmegaConf containers: the hyper-parameters Lightning stores in
    # every checkpoint must load with weights_only=True (model.step_weights=[1,2,3])
    model = hydra.utils.instantiate(model_cfg, _convert_="all")
    model.model_cfg = OmegaConf.to_container(model_cfg, resolve=True)
    return model


def load_checkpoint_model(ckpt_path: str | Path, expected_scale: int | None = None) -> L.LightningModule:
    """Rebuild the model a checkpoint of jointsr-train holds (its stored config) with its weights.

    The file is read safely (:func:`~jointsr.runs.checkpoint.load_checkpoint`: tensors and
    plain values only). A file without the stored model config is refused rather than
    guessed at; ``expected_scale`` (the composed ``scale``) must match the network's.
    """
    checkpoint = load_checkpoint(ckpt_path)
    model_cfg = stored_model_config(checkpoint, ckpt_path)
    model = build_model(OmegaConf.create(model_cfg))
    load_weights(model, checkpoint["state_dict"], ckpt_path)
    check_scale(model.net.scale, expected_scale, ckpt_path)
    return model


def data_record(cfg: DictConfig, dataset_name: str | None = None) -> dict:
    """What a checkpoint records about the data it was trained on: the ``data=`` config it was
    composed from, the dataset's name, the guide channels, the degradation (resolved) and the
    scale. ``jointsr-eval`` tests on this dataset unless ``data=`` is given explicitly."""
    from hydra.core.hydra_config import HydraConfig

    choice = HydraConfig.get().runtime.choices.get("data") if HydraConfig.initialized() else None
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return {"config": choice, "name": dataset_name, "guide_channels": int(data["guide_channels"]),
            "degradation": data.get("degradation"), "scale": int(cfg.scale)}


def recorded_data(path: str | Path) -> dict | None:
    """The data record (:func:`data_record`) a checkpoint holds, or None (written before
    checkpoints recorded their data). The file is read safely."""
    checkpoint = load_checkpoint(path)
    stored_model_config(checkpoint, path)  # not a checkpoint of jointsr-train: refused as such first
    stored = checkpoint.get("jointsr")
    record = stored.get("data") if isinstance(stored, dict) else None
    return record if isinstance(record, dict) and record.get("config") else None


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
