"""The processes of a multi-device job on one machine: ``jointsr-train`` starts its ranks itself.

With ``trainer=ddp`` (Lightning's ``ddp`` strategy over N devices) the job starts N processes
before any work, as ``torchrun`` would (``MASTER_ADDR``/``MASTER_PORT``, ``WORLD_SIZE``,
``RANK``/``LOCAL_RANK`` set), and each rank runs the whole job: data, fit, test. Lightning sees
ranks created outside it and launches nothing. Every rank keeps its own objects from the first
step to the test, so rank 0 writes the run's files (logs, checkpoints, ``test_metrics.json``)
with everything it learnt on the way: the CSV logger's columns, the step count, the best
checkpoint and its score, the clock. Under ``torchrun`` or SLURM (``launcher=slurm``) the ranks
exist already and the job runs as it is.

Lightning's own launchers do not fit a Hydra command run from a sweep or a test: ``ddp``
re-runs the command line in each rank (inside a multirun every rank would re-run the sweep;
from pytest, pytest), and ``ddp_spawn`` runs only ``fit`` in its workers and returns to a
process whose loggers and callbacks slept through it (its CSV logger then crashed on columns
it had never seen).

A rank's error is raised again in the starting process (a user error stays one line); the ranks
end with the process that started them (``kill -9`` of the job leaves no rank writing on).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
import traceback
import warnings
from typing import Callable, TypeVar

from omegaconf import DictConfig

from jointsr.errors import ConfigError

log = logging.getLogger("jointsr")

Result = TypeVar("Result")

#: strategies whose workers run only the fit (and return to a stale process): refused
_SPAWNING = ("ddp_spawn", "ddp_fork", "ddp_notebook")


def processes_to_start(trainer_cfg: DictConfig) -> int:
    """How many processes this job starts: the local ranks of a ``ddp`` trainer over several
    devices that nothing started yet; 1 otherwise (one device, or ranks from torchrun/SLURM)."""
    strategy = trainer_cfg.get("strategy", "auto")
    one_device = trainer_cfg.get("devices", 1) in (1, "1") and trainer_cfg.get("num_nodes", 1) in (None, 1)
    if not isinstance(strategy, str) or not strategy.startswith(("ddp", "auto")) or strategy == "auto" and one_device:
        return 1  # ("auto" over several devices is Lightning's plain ddp)
    if strategy.startswith(_SPAWNING):
        raise ConfigError(f"trainer.strategy={strategy}: its workers run only the fit, away from the run's loggers "
                          f"and test; use trainer=ddp (strategy=ddp: jointsr-train starts the ranks itself)")
    trainer = _probe(trainer_cfg)
    if trainer.world_size == 1 or trainer.strategy.cluster_environment.creates_processes_externally:
        return 1
    if trainer.num_nodes > 1:
        raise ConfigError(f"trainer.num_nodes={trainer.num_nodes}: the ranks of other machines are started there, "
                          f"by their scheduler: use launcher=slurm (or torchrun on every node)")
    return int(trainer.num_devices)


def _probe(trainer_cfg: DictConfig):
    """The configured trainer, built only to read its strategy (quietly: the ranks build it again)."""
    from jointsr.training.build import build_trainer

    lightning_log = logging.getLogger("lightning.pytorch")
    level = lightning_log.level
    lightning_log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return build_trainer(trainer_cfg, val_check_interval=1, logger=False, callbacks=[],
                                 enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    finally:
        lightning_log.setLevel(level)


def start_ranks(job: Callable[[DictConfig], Result], cfg: DictConfig, processes: int) -> Result:
    """Run ``job(cfg)`` in ``processes`` new processes, ranks of one job; returns rank 0's result,
    or raises again the first error a rank raised."""
    import torch.multiprocessing as mp
    from hydra.core.hydra_config import HydraConfig
    from lightning.fabric.plugins.environments.lightning import find_free_network_port

    context = mp.get_context("spawn")
    reports = context.SimpleQueue()  # (rank, result) and (rank, error): small, never blocking
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(find_free_network_port()), "WORLD_SIZE": str(processes),
           "LOCAL_WORLD_SIZE": str(processes), "NODE_RANK": "0"}
    log.info("starting %d processes, ranks of one job (DDP on %s:%s)", processes, env["MASTER_ADDR"],
             env["MASTER_PORT"])
    failure = None
    try:
        hydra_cfg = HydraConfig.instance().cfg if HydraConfig.initialized() else None
        mp.start_processes(_rank, args=(job, cfg, env, hydra_cfg, os.getpid(), reports),
                           nprocs=processes, start_method="spawn")
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as error:  # the other ranks are stopped
        failure = error
    results, errors = {}, []
    while not reports.empty():
        rank, kind, payload = reports.get()
        if kind == "result":
            results[rank] = payload
        else:
            errors.append(_restored(payload))
    if errors:  # the first in time: the others follow from it (a rank left waiting for the failed one)
        if failure is not None:
            errors[0].add_note(str(failure).strip())  # the rank's own traceback
        raise errors[0]
    if failure is not None:
        raise failure
    return results.get(0)


def _rank(local_rank: int, job: Callable, cfg: DictConfig, env: dict, hydra_cfg: DictConfig | None, parent: int,
          reports) -> None:
    """One rank: its environment, the job's Hydra config and logging, then the job."""
    os.environ.update(env, LOCAL_RANK=str(local_rank), RANK=str(local_rank))
    _end_with(parent)
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import setup_globals
    from lightning.fabric.utilities.rank_zero import rank_zero_only

    rank_zero_only.rank = local_rank  # read from the environment at import, before it was set
    setup_globals()  # the ${hydra:...} and ${now:...} resolvers
    if hydra_cfg is not None:  # ${hydra:...}, the sweep's keys, the data choice, the job's logging
        HydraConfig.instance().set_config(hydra_cfg)
    _configure_logging(local_rank)
    try:
        result = job(cfg)
    except Exception as error:
        reports.put((local_rank, "error", _portable(error)))
        raise
    if local_rank == 0:
        reports.put((0, "result", result))


def _configure_logging(local_rank: int) -> None:
    """The job's logging (Hydra's ``job_logging``: console and ``<run>/<job>.log``); ranks other
    than 0 say only warnings."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import configure_log

    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra_cfg is not None and hydra_cfg.runtime.get("output_dir") and hydra_cfg.get("job_logging"):
        configure_log(hydra_cfg.job_logging, hydra_cfg.verbose)
    else:  # a job composed without a run (tests): the console
        logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    quiet_unless_rank_zero(local_rank)


def quiet_unless_rank_zero(rank: int) -> None:
    """Ranks other than 0 say only warnings: rank 0 speaks for the job (whoever started the ranks:
    this module, torchrun or SLURM)."""
    if rank:
        for name in ("jointsr", "lightning.pytorch"):
            logging.getLogger(name).setLevel(logging.WARNING)


def leave_process_group() -> None:
    """The end of a rank's job: every rank waits for the others, then takes its process group
    down while the interpreter is whole. A rank that exits with its group alive leaves Gloo's
    worker threads holding tensors until interpreter shutdown, where releasing them can abort
    the process (SIGABRT, now and then, after a job that succeeded: pytorch/pytorch#179291).
    Lightning leaves the group up; a job that runs again in this process starts a new one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()  # no rank leaves while another still needs it
        dist.destroy_process_group()


def _end_with(parent: int) -> None:
    """End this process when ``parent`` ends (Linux: the kernel's parent-death signal; elsewhere
    a watch every second), so a killed job leaves no rank behind it."""
    if sys.platform.startswith("linux"):
        import ctypes

        set_parent_death_signal = 1  # PR_SET_PDEATHSIG
        with contextlib.suppress(OSError, AttributeError):
            if ctypes.CDLL(None, use_errno=True).prctl(set_parent_death_signal, signal.SIGKILL) == 0:
                if os.getppid() != parent:  # it ended before the signal was asked for
                    os._exit(1)
                return

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _portable(error: BaseException) -> bytes:
    """``error`` and its causes pickled for the starting process (a copy naming the rank's
    traceback where an error does not pickle)."""
    chain = []
    while error is not None and len(chain) < 8:
        chain.append(error)
        error = error.__cause__
    portable = []
    for item in chain:
        try:
            pickle.loads(pickle.dumps(item))
            portable.append(item)
        except Exception:  # an error that does not survive pickling: its text
            portable.append(RuntimeError("".join(traceback.format_exception(item, chain=False)).strip()))
    return pickle.dumps(portable)


def _restored(payload: bytes) -> BaseException:
    chain = pickle.loads(payload)
    for error, cause in zip(chain, chain[1:]):
        error.__cause__ = cause
    return chain[0]
