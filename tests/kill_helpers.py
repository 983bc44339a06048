"""A callback that kills its own training process with SIGKILL at a given step (test helper).

Used by ``tests/test_resume.py`` on the command line of a real ``jointsr-train`` process:
``+callbacks.kill._target_=kill_helpers.KillAt +callbacks.kill.step=N`` with ``tests/`` on
``PYTHONPATH``. SIGKILL cannot be caught: nothing is flushed, closed or saved on the way out,
as when a machine or a scheduler kills a job.
"""

from __future__ import annotations

import os
import signal

import lightning as L


class KillAt(L.Callback):
    """SIGKILL this process right after the optimiser step that makes ``global_step == step``."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class Interrupted(RuntimeError):
    """What :class:`StopAt` raises: an in-process stand-in for a killed job."""


class StopAt(L.Callback):
    """Raise :class:`Interrupted` once ``global_step == step`` (after that step's validation
    and checkpoints): the run stops there with ``last.ckpt`` and no ``test_metrics.json``,
    as a killed job leaves its folder, but inside the test's own process."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            raise Interrupted(f"stopped at step {trainer.global_step}")
