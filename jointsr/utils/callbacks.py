"""Callbacks of our own (the rest come from Lightning)."""

from __future__ import annotations

import time

import lightning as L


class StepTimer(L.Callback):
    """Logs training throughput (steps/s) and wall-clock minutes since the fit started, so
    learning curves can be read against time as well as steps."""

    def __init__(self) -> None:
        self.start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.start is not None and trainer.global_step % max(1, trainer.log_every_n_steps) == 0:
            pl_module.log("train/minutes", (time.perf_counter() - self.start) / 60.0,
                          on_step=True, on_epoch=False)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if self.start is not None and not trainer.sanity_checking:
            pl_module.log("val/minutes", (time.perf_counter() - self.start) / 60.0)
            if trainer.global_step:
                pl_module.log("val/steps_per_s", trainer.global_step / (time.perf_counter() - self.start))
