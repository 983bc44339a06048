"""Callbacks of our own (the rest come from Lightning)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary, RichProgressBar

from jointsr.errors import ConfigError
from jointsr.files import PARTIAL_SUFFIX, atomic_path
from jointsr.runs.folder import LAST_CHECKPOINT, timed_checkpoint_name


class TrainingClock:
    """Minutes of training: the ``trainer.max_time`` clock when there is one (Lightning's
    ``Timer``, which counts on across a resumed run), else since :meth:`start`."""

    def __init__(self) -> None:
        self.began: float | None = None
        self.timer = None

    @property
    def running(self) -> bool:
        return self.began is not None

    def start(self, trainer: L.Trainer) -> None:
        self.began, self.timer = time.perf_counter(), budget_timer(trainer)

    def seconds_since_start(self) -> float:
        return time.perf_counter() - self.began

    def minutes(self) -> float:
        if self.timer is not None:
            return self.timer.time_elapsed("train") / 60.0
        return self.seconds_since_start() / 60.0


class StepTimer(L.Callback):
    """Logs training throughput (steps/s) and minutes of training (:class:`TrainingClock`),
    so learning curves can be read against time as well as steps."""

    def __init__(self) -> None:
        self.clock = TrainingClock()
        self.start_step = 0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.start(trainer)
        self.start_step = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.clock.running and trainer.global_step % max(1, trainer.log_every_n_steps) == 0:
            pl_module.log("train/minutes", self.clock.minutes(), on_step=True, on_epoch=False)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self.clock.running and not trainer.sanity_checking:
            pl_module.log("val/minutes", self.clock.minutes())
            steps = trainer.global_step - self.start_step  # this process's steps, on its own clock
            if steps > 0:
                pl_module.log("val/steps_per_s", steps / self.clock.seconds_since_start())


def budget_timer(trainer: L.Trainer):
    """Lightning's ``Timer`` callback when ``trainer.max_time`` is set, else None."""
    from lightning.pytorch.callbacks import Timer

    return next((c for c in trainer.callbacks if isinstance(c, Timer) and c._duration), None)


def training_minutes(trainer: L.Trainer) -> float | None:
    """Minutes of training behind the current weights: the ``trainer.max_time`` clock (which
    counts on across a resumed run) when there is one, else the :class:`StepTimer`'s clock
    of this fit; None when neither ran."""
    timer = budget_timer(trainer)
    if timer is not None:
        return timer.time_elapsed("train") / 60.0
    step_timer = next((c for c in trainer.callbacks if isinstance(c, StepTimer) and c.clock.running), None)
    return step_timer.clock.minutes() if step_timer is not None else None


class TimedCheckpoints(L.Callback):
    """Saves the weights every ``every_minutes`` of fit time, for test PSNR against minutes.

    Files are ``DIRPATH/minutes0004.00-step0000812.ckpt``
    (:func:`~jointsr.runs.folder.timed_checkpoint_name`: minutes of training on the clock
    of ``trainer.max_time`` when set, which counts on across a resumed run, else since this
    fit started; then the step), one at the start, one per interval and one at the end;
    ``jointsr-eval curve_dir=DIRPATH`` tests them all and writes ``test_curve.csv`` into its own
    run folder.
    """

    def __init__(self, dirpath: str, every_minutes: float = 2.0) -> None:
        if every_minutes <= 0:
            raise ValueError(f"every_minutes must be > 0, got {every_minutes}")
        self.dirpath, self.every_minutes = dirpath, float(every_minutes)
        self.clock = TrainingClock()
        self.due = 0.0
        self.saved_step: int | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.start(trainer)
        self.due = 0.0
        self._save(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.clock.running:
            return
        # one decision for every rank (a no-op on one device; Lightning's Timer does the same)
        if trainer.strategy.broadcast(self.clock.minutes() >= self.due):
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.clock.running and self.saved_step != trainer.global_step:  # the final weights, once
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        minutes = self.clock.minutes()
        while self.due <= minutes:
            self.due += self.every_minutes
        path = os.path.join(self.dirpath, timed_checkpoint_name(minutes, trainer.global_step))
        trainer.save_checkpoint(path, weights_only=True)
        self.saved_step = trainer.global_step


class StepCheckpoints(L.Callback):
    """Saves the weights after each of the optimiser steps ``steps`` (horizons of an equal-step
    comparison), named as :class:`TimedCheckpoints` names its files (minutes of training and
    step), so ``jointsr-eval curve_dir=DIRPATH`` tests them all. A resumed run keeps the files
    it wrote before it was killed and writes the rest."""

    def __init__(self, dirpath: str, steps: list[int]) -> None:
        if not steps or any(int(step) < 1 for step in steps):
            raise ValueError(f"steps={list(steps)} must be a non-empty list of steps >= 1")
        self.dirpath, self.steps = dirpath, sorted({int(step) for step in steps})
        self.clock = TrainingClock()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.start(trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step in self.steps:
            path = os.path.join(self.dirpath, timed_checkpoint_name(self.clock.minutes(), trainer.global_step))
            trainer.save_checkpoint(path, weights_only=True)


class LastCheckpoint(ModelCheckpoint):
    """``DIRPATH/last.ckpt``: the full training state every ``every_n_steps`` optimiser steps,
    after every validation of a fit and at its end, whatever the monitored metric did, so a
    killed run repeats at most ``every_n_steps`` steps. (Lightning's ``save_last`` rewrites
    ``last.ckpt`` only when a new best is saved, so a run whose last validations did not
    improve would resume, and be tested under ``test_checkpoint=last``, from an older state.)
    A :class:`ModelCheckpoint` that saves nothing by itself (``save_top_k=0``), so that
    Lightning runs it after the other callbacks, like every checkpoint callback, and the
    state it writes is the one a stock checkpoint would hold. Written to a temporary name
    and renamed, so a run killed while saving keeps the previous file whole; the next start
    removes what such a kill left half-written (the run folder's lock makes it the only writer)."""

    def __init__(self, dirpath: str, every_n_steps: int | None = 100) -> None:
        if every_n_steps is not None and (isinstance(every_n_steps, bool) or int(every_n_steps) < 1):
            raise ConfigError(f"callbacks.last_checkpoint.every_n_steps={every_n_steps!r}: write a number of "
                              f"optimiser steps >= 1, or null to write last.ckpt only at validations and the end")
        super().__init__(dirpath=dirpath, filename=Path(LAST_CHECKPOINT).stem, monitor=None, save_top_k=0,
                         save_last=False, enable_version_counter=False)
        self.every_n_steps = None if every_n_steps is None else int(every_n_steps)
        self.saved_step: int | None = None

    @property
    def state_key(self) -> str:
        return "LastCheckpoint"

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage == "fit" and trainer.is_global_zero:
            for partial in Path(self.dirpath).glob(f".{LAST_CHECKPOINT}.*{PARTIAL_SUFFIX}"):
                partial.unlink(missing_ok=True)  # a write cut short by a kill: the whole file beside it stands

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and self.saved_step != step:
            self._write(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._write(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved_step != trainer.global_step:
            self._write(trainer)

    def _write(self, trainer: L.Trainer) -> None:
        final = Path(self.dirpath) / LAST_CHECKPOINT
        if trainer.is_global_zero:
            with atomic_path(final) as partial:
                trainer.save_checkpoint(partial, weights_only=False)  # the full, resumable state
        else:  # the other ranks write nothing but take part in the save's collective steps
            trainer.save_checkpoint(final, weights_only=False)
        trainer.strategy.barrier("last_checkpoint")
        self.saved_step = trainer.global_step


def readable(value: float) -> str:
    """A metric as the progress bar shows it: small values in scientific notation (an MSE of
    8e-5 is ``8.1e-05``, not ``0.000``), others with four significant digits."""
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2e}"
    return f"{value:.4g}"


class ProgressBar(RichProgressBar):
    """Lightning's rich progress bar with readable numbers (:func:`readable`)."""

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        return {key: readable(value) if isinstance(value, float) else value for key, value in items.items()}


class ParameterSummary(ModelSummary):
    """Lightning's model summary without its FLOP column and its ``Total FLOPs: 0`` line
    (Lightning counts FLOPs only from an example input, which our modules do not declare;
    ``jointsr-summary`` measures ours from a real forward pass)."""

    @staticmethod
    def summarize(summary_data, total_parameters: int, trainable_parameters: int, model_size: float,
                  total_training_modes: dict, total_flops: int, **summarize_kwargs) -> None:
        import logging

        columns = {name: values for name, values in summary_data if name in ("Name", "Type", "Params")}
        rows = list(zip(*columns.values()))
        widths = [max(len(name), *(len(str(row[i])) for row in rows)) if rows else len(name)
                  for i, name in enumerate(columns)]

        def line(cells) -> str:
            return "  ".join(f"{str(cell):<{width}}" for cell, width in zip(cells, widths)).rstrip()

        table = [line(columns), *(line(row) for row in rows)]
        table.append(f"{trainable_parameters:,} trainable parameters ({total_parameters:,} in all, "
                     f"{model_size:.3f} MB)")
        logging.getLogger("jointsr").info("model summary\n%s", "\n".join(table))


#: validations in a run whose interval is ``auto``
VALIDATIONS = 10


def validation_interval(configured, max_steps: int, max_time) -> tuple[object, str | None]:
    """``trainer.val_check_interval`` for a run's budget, and a note when it differs from the
    configured value.

    ``auto``: :data:`VALIDATIONS` validations over the budget: every ``max_steps / 10``
    steps, else (a clock budget) every tenth of ``max_time`` (a ``timedelta``, validated on
    the clock), else every 500 steps (an epoch budget). A number of steps larger than
    ``max_steps`` would never validate (no best checkpoint, no ``val/psnr``): it becomes
    the ``auto`` interval, and the note says so.
    """
    import datetime
    import math

    seconds = _seconds(max_time)
    if configured == "auto":
        if max_steps and max_steps > 0:
            return max(1, math.ceil(max_steps / VALIDATIONS)), None
        if seconds:
            return datetime.timedelta(seconds=seconds / VALIDATIONS), None
        return 500, None
    if isinstance(configured, int) and not isinstance(configured, bool) and max_steps and 0 < max_steps < configured:
        interval = max(1, math.ceil(max_steps / VALIDATIONS))
        return interval, (f"trainer.val_check_interval={configured} > trainer.max_steps={max_steps} would never "
                          f"validate: validating every {interval} steps instead")
    return configured, None


def _seconds(max_time) -> float | None:
    """Seconds of a ``trainer.max_time`` (``DD:HH:MM:SS``, a dict of timedelta keywords, or None)."""
    if max_time in (None, ""):
        return None
    if isinstance(max_time, dict):
        import datetime

        return datetime.timedelta(**max_time).total_seconds()
    fields = str(max_time).strip().split(":")
    parts = [int(part) for part in fields if part.isdigit()]  # Lightning's Timer reads four integers
    if len(parts) != 4 or len(fields) != 4:
        raise ConfigError(f"trainer.max_time={max_time!r} is not a duration: write DD:HH:MM:SS "
                          f"(trainer.max_time=00:00:20:00 for 20 minutes) or null for no clock budget")
    return sum(value * unit for value, unit in zip(reversed(parts), (1, 60, 3600, 86400)))
