"""A callback that holds a fresh run at a given step until the scheduler stops it (a test helper
for ``tests/test_slurm.py``): every rank waits before the first batch at or after ``step``
(that step's validation and ``last.ckpt`` written), says so on its console, and goes on once
SIGTERM has reached it, as SLURM's ``scontrol requeue`` or ``scancel`` sends it; Lightning then
stops the fit at the end of the next batch, as it would mid-run. A run resumed from a checkpoint
is not held, so the requeued job runs to its end.

On the command line of a real ``jointsr-train`` with ``tests/`` on ``PYTHONPATH``:
``+callbacks.hold._target_=slurm_helpers.HoldUntilStopped +callbacks.hold.step=N``.
"""

from __future__ import annotations

import threading

import lightning as L

#: what a held rank prints (the test waits for it in the job's log)
HOLDING = "holding at step"


class HoldUntilStopped(L.Callback):
    """Wait at optimiser step ``step`` of a run started from scratch until SIGTERM arrives."""

    def __init__(self, step: int) -> None:
        self.step = int(step)
        self._held = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self._held or trainer.ckpt_path is not None or trainer.global_step < self.step:
            return
        self._held = True
        print(f"{HOLDING} {trainer.global_step} (rank {trainer.global_rank}) until SIGTERM", flush=True)
        stopped = threading.Event()
        while not trainer.received_sigterm:  # set by Lightning's SIGTERM handler
            stopped.wait(0.2)
