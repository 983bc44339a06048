"""``jointsr-train``: fit a model on the training patches, then test the best checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from jointsr import CONFIG_DIR
import hydra
import lightning as L
from omegaconf import DictConfig

from jointsr.evaluation import format_table, test_metrics, write_csv_atomic, write_json_atomic
from jointsr.utils.run import build_model, closing_trackers, instantiate_group, set_threads

log = logging.getLogger("jointsr")


def train(cfg: DictConfig) -> float | None:
    """Fit and test as ``cfg`` says; returns the best ``cfg.monitor`` (for sweepers)."""
    output_dir = Path(cfg.paths.output_dir)
    done = output_dir / "test_metrics.json"
    if cfg.get("skip_done") and done.is_file():
        log.info("skipping: %s exists (skip_done=true; skip_done=false runs it again)", done)
        return None
    set_threads()
    L.seed_everything(cfg.seed, workers=True)
    resume = _resume_from(cfg, output_dir)
    # Lightning's CSV logger deletes an existing metrics.csv: keep the killed run's rows
    earlier_rows = _rows_before(output_dir / "csv" / "metrics.csv", resume)
    datamodule = hydra.utils.instantiate(cfg.data)
    model = build_model(cfg.model)
    loggers = instantiate_group(cfg.get("logger"))
    callbacks = instantiate_group(cfg.get("callbacks"))
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)

    with closing_trackers(loggers):
        for logger in loggers:
            logger.log_hyperparams({"cfg": _plain(cfg)})
        start = time.perf_counter()
        datamodule.prepare_data()
        datamodule.setup("fit")
        log.info("data ready in %.1f s (one-time work, not part of the training budget)",
                 time.perf_counter() - start)
        if model.has_parameters:
            fit_start = time.perf_counter()
            try:
                trainer.fit(model, datamodule=datamodule, ckpt_path=resume)
            finally:
                if earlier_rows and trainer.is_global_zero:
                    _prepend_rows(output_dir / "csv" / "metrics.csv", earlier_rows)
            log.info("training: %d steps in %.1f min", trainer.global_step,
                     (time.perf_counter() - fit_start) / 60)
        else:
            log.info("model %s has no parameters: nothing to fit", model.name)
        metric = _monitored(trainer, cfg.monitor)
        if cfg.get("test") and trainer.is_global_zero:
            best = _best_checkpoint(trainer) if model.has_parameters else None
            tester = trainer
            if trainer.world_size > 1:
                # Test on one device: every image once, all per-image rows in this process.
                tester = hydra.utils.instantiate(cfg.trainer, devices=1, num_nodes=1, strategy="auto",
                                                 logger=loggers or False, callbacks=[])
            tester.test(model, datamodule=datamodule, ckpt_path=best, weights_only=False)
            document = test_metrics(model.name, datamodule.name, cfg.scale, model.test_results)
            write_json_atomic(done, document)
            log.info("test of %s:\n%s", best or "the final weights", format_table(document))
    return metric


def _resume_from(cfg: DictConfig, output_dir: Path) -> str | None:
    """``ckpt_path``, else the ``last.ckpt`` a killed run of this directory left behind (with
    ``skip_done``): re-running a killed sweep continues its unfinished job where it stopped,
    the clock of a ``max_time`` budget included, instead of starting it again."""
    if cfg.get("ckpt_path"):
        return cfg.ckpt_path
    last = output_dir / "checkpoints" / "last.ckpt"
    if cfg.get("skip_done") and last.is_file():
        log.info("resuming an unfinished run from %s (skip_done=false starts it afresh)", last)
        return str(last)
    return None


def _rows_before(metrics_csv: Path, checkpoint: str | None) -> list[dict]:
    """The rows of ``metrics_csv`` logged before the step ``checkpoint`` restores."""
    if checkpoint is None or not metrics_csv.is_file():
        return []
    import csv

    import torch

    restored = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True).get("global_step", 0)
    with metrics_csv.open(newline="") as stream:
        return [row for row in csv.DictReader(stream) if row.get("step") and int(row["step"]) < restored]


def _prepend_rows(metrics_csv: Path, earlier: list[dict]) -> None:
    """Put ``earlier`` rows before the resumed run's rows (atomically; union of columns)."""
    import csv

    later = []
    if metrics_csv.is_file():
        with metrics_csv.open(newline="") as stream:
            later = list(csv.DictReader(stream))
    write_csv_atomic(metrics_csv, earlier + later, sorted({key for row in earlier + later for key in row}))


def _monitored(trainer: L.Trainer, key: str) -> float | None:
    """The best value of the monitored metric (the checkpoint callback's), else the last one."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_score is not None:
        return float(callback.best_model_score)
    value = trainer.callback_metrics.get(key)
    return None if value is None else float(value)


def _best_checkpoint(trainer: L.Trainer) -> str | None:
    callback = trainer.checkpoint_callback
    if trainer.fast_dev_run or callback is None or not callback.best_model_path:
        return None
    return callback.best_model_path


def _plain(cfg: DictConfig) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    return train(cfg)


if __name__ == "__main__":
    main()
