"""Callbacks that kill their own training process with SIGKILL (test helpers): right after a
given step, in the middle of a validation, or halfway through writing ``last.ckpt``.

Used by ``tests/test_resume.py`` on the command line of a real ``jointsr-train`` process:
``+callbacks.kill._target_=kill_helpers.KillAt +callbacks.kill.step=N`` with ``tests/`` on
``PYTHONPATH``. SIGKILL cannot be caught: nothing is flushed, closed or saved on the way out,
as when a machine or a scheduler kills a job.
"""

from __future__ import annotations

import os
import signal

import lightning as L

from jointsr.files import PARTIAL_SUFFIX
from jointsr.runs.folder import LAST_CHECKPOINT


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAt(L.Callback):
    """SIGKILL this process right after the optimiser step that makes ``global_step == step``."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            _kill()


class KillInValidation(L.Callback):
    """SIGKILL this process after the second batch of the first validation of the fit at or
    after optimiser step ``step`` (half its metrics accumulated, nothing logged yet)."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if trainer.state.fn == "fit" and not trainer.sanity_checking and trainer.global_step >= self.step \
                and batch_idx >= 1:
            _kill()


class KillInCheckpointWrite(L.Callback):
    """SIGKILL this process halfway through the first write of ``last.ckpt`` at or after
    optimiser step ``step``: the temporary file is written, cut to half its bytes (what a
    kill during the write leaves on disk), and the process dies before the rename."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def setup(self, trainer, pl_module, stage: str) -> None:
        checkpoint_io = trainer.strategy.checkpoint_io
        save = checkpoint_io.save_checkpoint

        def save_then_die(checkpoint, path, storage_options=None):
            save(checkpoint, path, storage_options)
            name = os.path.basename(path)
            if name.startswith(f".{LAST_CHECKPOINT}.") and name.endswith(PARTIAL_SUFFIX) \
                    and checkpoint["global_step"] >= self.step:
                with open(path, "r+b") as stream:
                    stream.truncate(os.path.getsize(path) // 2)
                _kill()

        checkpoint_io.save_checkpoint = save_then_die


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
