"""The CSV logger of a run folder: metrics, hparams and validation grids, and a resumed run's rows kept;
and where a validation grid goes in each logger (:func:`log_grid`)."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import lightning as L
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

from jointsr.errors import ConfigError
from jointsr.files import write_csv_atomic
from jointsr.runs.folder import CSV, RunDir


class RunLogger(CSVLogger, L.Callback):
    """Lightning's CSV logger writing into a :class:`~jointsr.runs.folder.RunDir`
    (``csv/metrics.csv``, ``csv/hparams.yaml``, ``csv/grids/``) that keeps a killed run's rows
    when the run resumes.

    Lightning's CSV logger deletes an existing ``metrics.csv`` as it starts. This one sets the
    file aside instead (``csv/.metrics.csv.held``, on disk, so a run killed again before it
    resumes loses nothing) until the fit says what it is: a fit resumed from a checkpoint of
    step N keeps the rows logged before step N and appends the resumed run's rows after them
    (the steps from N on are logged again); a fresh fit, or a test alone, starts a new file as
    Lightning does; a fit that fails before it started puts the rows back.

    It is also a callback, so it learns the resumed step from the checkpoint Lightning restores
    (:meth:`on_load_checkpoint`) without reading the file again: ``build_trainer`` adds it to
    the trainer's callbacks.
    """

    HELD = ".metrics.csv.held"

    def __init__(self, save_dir: str | os.PathLike, name: str = CSV, version: str = "", **kwargs) -> None:
        if name != CSV or version != "":
            raise ConfigError(f"logger.csv.name={name!r} version={version!r}: the run folder's CSV logs live in "
                              f"<run>/{CSV} (name={CSV}, version=''), where jointsr-report and resume read them")
        super().__init__(save_dir, name=name, version=version, **kwargs)
        self.run_dir = RunDir(save_dir)
        self._pending = False  # rows set aside, not yet kept or dropped

    @property
    def held(self) -> Path:
        return self.run_dir.csv / self.HELD

    @property
    def experiment(self):
        if self._experiment is None and self._is_rank_zero():
            self._set_aside()
        with warnings.catch_warnings():  # "Previous log files ... will be deleted": not here
            warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
            return super().experiment

    @staticmethod
    def _is_rank_zero() -> bool:
        from lightning.pytorch.utilities.rank_zero import rank_zero_only

        return getattr(rank_zero_only, "rank", 0) == 0

    # -- the rows of an earlier run ----------------------------------------------------------
    def _set_aside(self) -> None:
        """Move an earlier ``metrics.csv`` out of the writer's way (merged into a held file
        left by a run killed before it resumed)."""
        metrics = self.run_dir.metrics_csv
        if metrics.is_file() and self.held.is_file():
            _write_rows(self.held, _read_rows(self.held) + _read_rows(metrics))
            metrics.unlink()
        elif metrics.is_file():
            os.replace(metrics, self.held)
        self._pending = self.held.is_file()

    def keep_rows_before(self, step: int) -> None:
        """Keep the held rows logged before the checkpoint of ``step`` ahead of this run's rows;
        drop the rest. Those are the rows of earlier steps and the validation of ``step`` itself
        (a validation row carries the steps behind its weights, and the checkpoint is written
        after it); a training row of ``step`` is the next batch's, which the resumed run logs."""
        if not self._holding():
            return
        kept = [row for row in _read_rows(self.held)
                if row.get("step") and (int(row["step"]) < step or (int(row["step"]) == step and _validation(row)))]
        self._merge(kept)

    def drop_held_rows(self) -> None:
        if self._holding():
            self.held.unlink(missing_ok=True)
            self._pending = False

    def _holding(self) -> bool:
        """Rows are set aside and still on disk (a spawned rank 0 may have settled them)."""
        self._pending = self._pending and self.held.is_file()
        return self._pending

    def _merge(self, earlier: list[dict]) -> None:
        """``metrics.csv`` as ``earlier`` followed by what this run wrote so far; the writer
        appends after them with the union of the columns as its header."""
        metrics = self.run_dir.metrics_csv
        rows = earlier + (_read_rows(metrics) if metrics.is_file() else [])
        if rows:
            keys = _write_rows(metrics, rows)
            if self._experiment is not None:
                self._experiment.metrics_keys = keys
        self.held.unlink(missing_ok=True)
        self._pending = False

    # -- what the trainer tells it -----------------------------------------------------------
    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        """A fit resumes from ``checkpoint``: the rows before its step stay."""
        if trainer.is_global_zero:
            self.keep_rows_before(int(checkpoint.get("global_step", 0)))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A fit that restored nothing starts a new file."""
        if trainer.is_global_zero:
            self.drop_held_rows()

    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._is_rank_zero() and self._holding():
            if status == "failed":  # it never started: the earlier rows stay, all of them
                self._merge(_read_rows(self.held))
            else:  # a test alone (jointsr-eval into the same folder again): a new file
                self.drop_held_rows()

    # -- images ----------------------------------------------------------------------------
    def log_grid(self, image, epoch: int, step: int) -> Path | None:
        """Save a validation grid (a uint8 array) as ``csv/grids/epochEEEE_stepSSSSSSS.png``."""
        if not self._is_rank_zero():
            return None
        from PIL import Image

        path = self.run_dir.grid(epoch, step)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
        return path


def log_grid(loggers: list[Logger], image, caption: str, epoch: int, step: int) -> None:
    """Hand a validation grid (a (H, W) uint8 array) to every logger that keeps images: the run
    folder's ``csv/grids/`` (:class:`RunLogger`), TensorBoard's and wandb's ``val/grid`` at ``step``."""
    for logger in loggers:
        if isinstance(logger, RunLogger):
            logger.log_grid(image, epoch=epoch, step=step)
        elif isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image("val/grid", image, global_step=step, dataformats="HW")
        elif isinstance(logger, WandbLogger):
            logger.log_image(key="val/grid", images=[image], caption=[caption], step=step)


def _validation(row: dict) -> bool:
    """A row a validation logged (some ``val/`` value set)."""
    return any(key.startswith("val/") and value not in (None, "") for key, value in row.items())


def _read_rows(path: Path) -> list[dict]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _write_rows(path: Path, rows: list[dict]) -> list[str]:
    """Write ``rows`` atomically with the sorted union of their columns; returns the columns."""
    keys = sorted({key for row in rows for key in row})
    write_csv_atomic(path, rows, keys)
    return keys
