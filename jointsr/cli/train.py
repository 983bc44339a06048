"""``jointsr-train``: fit a model on the training patches, then test the best checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import lightning as L
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig

from jointsr.cli.command import hydra_command, quiet_console
from jointsr.configs import check_run_types
from jointsr.errors import ConfigError, check_writable_folder
from jointsr.evaluation.results import format_table, tested_document
from jointsr.files import write_json_atomic
from jointsr.inference.inputs import set_threads
from jointsr.runs.checkpoint import check_training_checkpoint, load_checkpoint
from jointsr.runs.folder import RunDir
from jointsr.runs.guard import check_same_config, record_config
from jointsr.runs.lock import owning
from jointsr.training.build import (
    build_model,
    build_trainer,
    closing_trackers,
    data_record,
    instantiate_group,
)
from jointsr.training.callbacks import training_minutes
from jointsr.training.ranks import leave_process_group, processes_to_start, quiet_unless_rank_zero, start_ranks
from jointsr.training.tracking import (
    configure_wandb,
    log_checkpoint,
    log_test_table,
    start_runs,
)

log = logging.getLogger("jointsr")


def train(cfg: DictConfig) -> float | None:
    """Fit and test as ``cfg`` says; returns the best ``cfg.monitor`` (for sweepers)."""
    check_run_types(cfg)  # every typed value, before anything is built or written
    run = RunDir.of(cfg)
    tested = cfg.get("test_checkpoint", "best")
    if tested not in ("best", "last"):
        raise ConfigError(f"test_checkpoint={tested!r} must be 'best' (the best checkpoint on {cfg.monitor}) or "
                          f"'last' (the final weights)")
    try:  # one configuration per job folder: skip_done never merges two (recorded once work starts)
        check_same_config(run.root, cfg, record=False)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    done = run.test_metrics
    if cfg.get("skip_done") and done.is_file():
        log.info("skipping: %s exists (skip_done=true; skip_done=false runs it again)", done)
        return None
    check_writable_folder(run.root, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    with owning(run.root, "jointsr-train"):  # one process writes the folder (its ranks with it)
        processes = processes_to_start(cfg.trainer)
        if processes == 1:
            return fit_and_test(cfg)
        _check_inputs(cfg)  # once, before the ranks: a bad value or file is one error, not one per rank
        return start_ranks(_rank_job, cfg, processes)


def fit_and_test(cfg: DictConfig) -> float | None:
    """The job of :func:`train` in this process: one process, or one rank of a DDP job (every rank
    runs it; rank 0 writes the run's files)."""
    run = RunDir.of(cfg)
    tested = cfg.get("test_checkpoint", "best")
    quiet_unless_rank_zero(rank_zero_only.rank)
    set_threads()
    # every config value is checked as its object is built, before any data is read
    datamodule = hydra.utils.instantiate(cfg.data)  # the seed included (data.seed is ${seed})
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    log.info("seed %d", cfg.seed)
    model = build_model(cfg.model)
    model.data_record = data_record(cfg, datamodule.name)
    resume = _resume_from(cfg, run, model.model_cfg)  # the CSV logger keeps the killed run's rows
    loggers = instantiate_group(wandb_filled(cfg))
    callbacks = instantiate_group(cfg.get("callbacks"))
    trainer = build_trainer(cfg.trainer, logger=loggers or False, callbacks=callbacks)

    with closing_trackers(loggers):
        start = time.perf_counter()
        datamodule.prepare_data()  # dataset files against their checksums, where known
        if cfg.get("test"):  # every test image decoded now: a bad one fails before training, not after
            datamodule.setup("test")
        datamodule.setup("fit")
        log.info("data ready in %.1f s (one-time work, not part of the training budget)",
                 time.perf_counter() - start)
        if trainer.is_global_zero:
            record_config(run.root, cfg)  # the inputs are known to be good: the folder is this run's
        for logger in loggers:  # the trackers write only once the inputs are known to be good (rank 0)
            logger.log_hyperparams({"cfg": _plain(cfg)})
        start_runs(loggers)  # wandb: val/psnr summarised as its best
        training = None
        if model.has_parameters:
            fit_start = time.perf_counter()
            trainer.fit(model, datamodule=datamodule, ckpt_path=resume, weights_only=True)
            minutes = training_minutes(trainer)
            if minutes is None:
                minutes = (time.perf_counter() - fit_start) / 60
            log.info("training: %d steps in %.1f min", trainer.global_step, minutes)
            training = {"steps": int(trainer.global_step), "minutes": round(minutes, 3)}
        else:
            log.info("model %s has no parameters: nothing to fit", model.name)
        metric = _monitored(trainer, cfg.monitor)
        if model.has_parameters and metric is None:
            log.warning("no validation ran, so there is no %s and no best checkpoint: lower "
                        "trainer.val_check_interval (auto validates 10 times over the budget)", cfg.monitor)
        if cfg.get("test"):
            best = _best_checkpoint(trainer) if model.has_parameters and tested == "best" else None
            if trainer.world_size > 1:  # every rank tests the same weights
                best = trainer.strategy.broadcast(best)
            if training is not None:  # the budget behind the tested weights, beside the numbers
                training["tested"] = f"best: {Path(best).name}" if best else "last: the final weights"
                training["tested_step"] = _checkpoint_step(best) if best else training["steps"]
            # under DDP the ranks share the images out; the metric gathers their rows, each image once
            trainer.test(model, datamodule=datamodule, ckpt_path=best, weights_only=True,
                         verbose=bool(cfg.get("verbose", False)))  # our own table follows
            if trainer.is_global_zero:
                document = tested_document(model, datamodule, cfg.scale, cfg.paths.get("cache_dir"), training)
                write_json_atomic(run.test_metrics, document)
                log_test_table(loggers, document)
                if best:
                    log_checkpoint(loggers, best, {"monitor": cfg.monitor, "best": metric, **(training or {})})
                log.info("test of %s:\n%s", best or "the final weights", format_table(document))
        if trainer.is_global_zero:
            log.info("\n".join(run.where(_best_checkpoint(trainer) if model.has_parameters else None)))
    leave_process_group()  # the ranks of a DDP job (whoever started them) end together
    return metric


def _rank_job(cfg: DictConfig) -> float | None:
    """:func:`fit_and_test` in a rank jointsr-train started (a new process: the console as quiet as
    the command's)."""
    if not cfg.get("verbose", False):
        quiet_console()
    return fit_and_test(cfg)


def _check_inputs(cfg: DictConfig) -> None:
    """What every rank would otherwise do at once: the data and model configs checked, the dataset
    files against their checksums, every test image decoded, the training patches' store built."""
    set_threads()
    datamodule = hydra.utils.instantiate(cfg.data)
    build_model(cfg.model)
    datamodule.prepare_data()
    if cfg.get("test"):
        datamodule.setup("test")
    if datamodule.store:
        datamodule.prepare_store()


def _resume_from(cfg: DictConfig, run: RunDir, model_cfg: dict) -> str | None:
    """The checkpoint to resume from: ``ckpt_path``, else the ``last.ckpt`` a
    killed run of this directory left behind (with ``skip_done``): re-running a killed sweep
    continues its unfinished job where it stopped, the clock of a ``max_time`` budget and
    the position in the epoch included, instead of starting it again.

    The file is checked before Lightning reads it: loaded safely (no code runs), written by
    jointsr-train with its training state, for the composed network.
    """
    path = cfg.ckpt_path if cfg.get("ckpt_path") else None
    last = run.last_checkpoint
    if path is None and cfg.get("skip_done") and last.is_file():
        log.info("resuming an unfinished run from %s (skip_done=false starts it afresh)", last)
        path = str(last)
    if path is None:
        return None
    check_training_checkpoint(path, model_cfg)
    return str(Path(path).expanduser())


def _monitored(trainer: L.Trainer, key: str) -> float | None:
    """The best value of the monitored metric (the checkpoint callback's), else the last one."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_score is not None:
        return float(callback.best_model_score)
    value = trainer.callback_metrics.get(key)
    return None if value is None else float(value)


def _checkpoint_step(path: str) -> int:
    """The optimiser steps behind a checkpoint's weights (its ``global_step``, read safely)."""
    return int(load_checkpoint(path)["global_step"])


def _best_checkpoint(trainer: L.Trainer) -> str | None:
    callback = trainer.checkpoint_callback
    if trainer.fast_dev_run or callback is None or not callback.best_model_path:
        return None
    return callback.best_model_path


def wandb_filled(cfg: DictConfig) -> DictConfig | None:
    """The logger group with wandb's group, name and tags filled (a copy: the run's recorded
    configuration stays as composed)."""
    if cfg.get("logger") is None:
        return None
    filled = cfg.copy()
    configure_wandb(filled)
    return filled.logger


def _plain(cfg: DictConfig) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


main = hydra_command("train", train)


if __name__ == "__main__":
    main()
