"""Callbacks of our own (the rest come from Lightning)."""

from __future__ import annotations

import time

import lightning as L


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

    Files are ``DIRPATH/minutes0004.00-step0000812.ckpt`` (minutes of training on the clock
    of ``trainer.max_time`` when set, which counts on across a resumed run, else since this
    fit started; then the step), one at the start, one per interval and one at the end;
    ``jointsr-eval curve_dir=DIRPATH`` tests them all and writes ``test_curve.csv``.
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
        path = f"{self.dirpath}/minutes{minutes:07.2f}-step{trainer.global_step:07d}.ckpt"
        trainer.save_checkpoint(path, weights_only=True)
        self.saved_step = trainer.global_step


class LastCheckpoint(L.Callback):
    """``DIRPATH/last.ckpt``: the full training state after every validation of a fit and at
    its end, whatever the monitored metric did. (Lightning's ``save_last`` rewrites
    ``last.ckpt`` only when a new best is saved, so a run whose last validations did not
    improve would resume, and be tested under ``test_checkpoint=last``, from an older state.)
    Written to a temporary name and renamed, so a run killed while saving keeps the previous
    file whole."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = dirpath
        self.saved_step: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved_step != trainer.global_step:
            self._save(trainer)

    def _save(self, trainer: L.Trainer) -> None:
        import os

        final = os.path.join(self.dirpath, "last.ckpt")
        partial = os.path.join(self.dirpath, ".last.ckpt.partial")
        trainer.save_checkpoint(partial)  # every rank calls it; rank 0 writes
        if trainer.is_global_zero:
            os.replace(partial, final)
        trainer.strategy.barrier("last_checkpoint")
        self.saved_step = trainer.global_step


def parse_curve_checkpoint(name: str) -> tuple[float, int] | None:
    """``(minutes, step)`` from a :class:`TimedCheckpoints` file name, else None."""
    import re

    match = re.fullmatch(r"minutes(\d+\.\d+)-step(\d+)\.ckpt", name)
    return (float(match.group(1)), int(match.group(2))) if match else None
