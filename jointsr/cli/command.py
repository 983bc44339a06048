"""How every command reports errors: one line for the user's, a traceback for ours.

A :class:`~jointsr.errors.UserError` (and the errors Hydra, Lightning and the OS raise for
a bad override, a refused setting, a read-only folder) is reported as one line on stderr,
``jointsr-<command>: error: <what was wrong, with the file or value, and what to do>``,
and the command exits with status 2. Anything else is a bug of ours and keeps its
traceback (exit status 1). ``HYDRA_FULL_ERROR=1`` shows the traceback of user errors too.

Two layers do the reporting, because Hydra runs the task function inside its own error
handling; :func:`hydra_command` puts both around a task function, so a command module holds
its task and one line ``main = hydra_command("train", train)``:

- :func:`reports_user_errors` wraps the task function (inside ``@hydra.main``): a single
  run prints the line and exits; inside a multirun the job's line is logged and the
  error re-raised, so Hydra marks that job failed and the sweep goes on.
- :func:`run_command` wraps the whole command line: errors Hydra raises before or after the
  task function (an unwritable run folder, a bad override, the failed job of a sweep).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Callable, TypeVar

from jointsr.cli.arguments import COMMANDS, asks_for_help, help_text, normalise
from jointsr.errors import UserError, environment_message
from jointsr.runs.lock import FolderInUseError

log = logging.getLogger("jointsr")

Task = TypeVar("Task", bound=Callable)

#: exit status of a user error (argparse's convention); 1 stays for our own bugs
USER_ERROR_STATUS = 2


def user_message(error: BaseException) -> str | None:
    """The one-line message of a user error, or None when ``error`` is a bug of ours."""
    from hydra.errors import HydraException, InstantiationException
    from omegaconf.errors import MissingMandatoryValue

    if isinstance(error, UserError):
        return _one_line(str(error))
    if isinstance(error, InstantiationException):
        return _instantiation_message(error)
    if isinstance(error, MissingMandatoryValue):
        key = getattr(error, "full_key", None) or str(error)
        return f"no value for {key}: give it on the command line ({key}=...)"
    if isinstance(error, HydraException):  # a bad override or config name, raised by Hydra itself
        cause = f" ({_one_line(str(error.__cause__))})" if error.__cause__ is not None else ""
        return _one_line(str(error).split("Config search path")[0]) + cause
    if isinstance(error, MemoryError):
        return ("out of memory: the machine could not allocate what this command needs; use smaller "
                "inputs (or data.batch_size=...) or a machine with more memory")
    if type(error).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        return f"out of GPU memory ({_one_line(str(error))[:200]}); use smaller inputs or device=cpu"
    if isinstance(error, OSError):
        return environment_message(error)
    return None


def _instantiation_message(error: BaseException) -> str | None:
    """``<config key>: <cause>`` when a constructor refused its configured value."""
    cause = error.__cause__
    key = ""
    for line in str(error).splitlines():
        if line.strip().startswith("full_key:"):
            key = line.split(":", 1)[1].strip()
    text = _one_line(str(cause)) if cause is not None else ""
    missing = re.search(r"Error locating target '([^']+)'", str(error))
    if missing:  # a misspelt _target_ (data.degradation._target_=...Gaussian)
        return _unknown_target(key, missing.group(1))
    names_a_key = text.startswith(key) or re.match(r"[\w.+]+=", text)  # "data.batch_size=0 ...", "seed=-1 ..."
    prefix = f"{key}: " if key and not names_a_key else ""
    if isinstance(cause, UserError):
        return prefix + text
    if isinstance(cause, ValueError) or (isinstance(cause, TypeError) and "argument" in str(cause)):
        return prefix + text
    if type(cause).__name__ == "MisconfigurationException":  # Lightning refusing a trainer setting
        hardware = any(word in text.lower() for word in ("gpu", "cuda", "accelerator", "device"))
        return prefix + text + (" (trainer=cpu runs on the CPU)" if hardware else "")
    if isinstance(cause, OSError):
        return environment_message(cause)
    if cause is not None and isinstance(cause, type(error)):  # nested instantiation
        return _instantiation_message(cause)
    return None


def _unknown_target(key: str, target: str) -> str:
    """One line for a ``_target_`` that names nothing, with the classes its module holds."""
    import importlib

    module_name = target.rsplit(".", 1)[0]
    try:
        module = importlib.import_module(module_name)
    except Exception:  # the module itself is misspelt: nothing to list
        module = None
    setting = f"{key}._target_" if key else "_target_"
    message = f"{setting}={target} names no class that exists"
    if module is not None:
        classes = sorted(name for name, obj in vars(module).items()
                         if isinstance(obj, type) and obj.__module__ == module_name and not name.startswith("_"))
        if classes:
            message += f": {module_name} has {', '.join(classes)}"
    return message + "; check the spelling"


def _one_line(text: str) -> str:
    """A multi-line message on one line: lines joined by "; " (by a space after a colon)."""
    joined = ""
    for line in (line.strip() for line in str(text).strip().splitlines()):
        if line:
            joined += ("" if not joined else " " if joined.endswith(":") else "; ") + line
    return joined


def _full_error_requested() -> bool:
    """Whether the user asked for tracebacks (HYDRA_FULL_ERROR=1 as they set it, also in the job
    processes of a launcher, which inherit the environment :func:`run_command` sets)."""
    return os.environ.get(_USER_SETTING, os.environ.get("HYDRA_FULL_ERROR", "")) == "1"


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        return HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # no Hydra context (called as a function)
        return False


def report(command: str, message: str) -> None:
    print(f"jointsr-{command}: error: {message}", file=sys.stderr, flush=True)


def reports_user_errors(command: str) -> Callable[[Task], Task]:
    """Decorate a Hydra task function: one line and exit status 2 for a user error."""

    def decorate(task: Task) -> Task:
        @functools.wraps(task)
        def wrapper(*args, **kwargs):
            started_empty = _hydra_files_only()
            try:
                return task(*args, **kwargs)
            except Exception as error:
                message = user_message(error)
                if message is None or _full_error_requested():
                    raise
                if _in_multirun():  # this job fails, the sweep's other jobs still run
                    log.error("jointsr-%s: error: %s", command, message)
                    raise
                if started_empty is not None and not isinstance(error, FolderInUseError):
                    _remove_hydra_files(started_empty)  # a failed start leaves no run folder (one in use: its owner's)
                report(command, message)
                sys.exit(USER_ERROR_STATUS)

        return wrapper  # type: ignore[return-value]

    return decorate


def _hydra_files_only() -> Path | None:
    """The job's run folder when it holds nothing but what Hydra wrote as this job started
    (``.hydra/`` and the job's log), else None (a folder with a run in it, or no Hydra job)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        hydra_cfg = HydraConfig.get()
    except ValueError:
        return None
    folder = Path(hydra_cfg.runtime.output_dir)
    own = {".hydra", f"{hydra_cfg.job.name}.log"}
    found = {path.name for path in folder.iterdir()} if folder.is_dir() else set()
    return folder if ".hydra" in found and found <= own else None


def _remove_hydra_files(folder: Path) -> None:
    """Remove what Hydra wrote into ``folder`` at the job's start (and the run's lock file, released
    by now: jointsr.runs.lock), and the folder once empty."""
    import shutil

    from jointsr.runs.folder import RunDir

    for path in folder.iterdir():
        if path.name == ".hydra":
            shutil.rmtree(path, ignore_errors=True)
        elif path.suffix == ".log" or path == RunDir(folder).lock:
            path.unlink(missing_ok=True)
    try:
        folder.rmdir()
    except OSError:  # something else appeared meanwhile: keep it
        pass


#: where :func:`run_command` keeps the user's own HYDRA_FULL_ERROR while it sets Hydra's
_USER_SETTING = "JOINTSR_USER_HYDRA_FULL_ERROR"


def run_command(command: str, hydra_main: Callable[[], object]) -> None:
    """Run a ``@hydra.main`` function as the command ``jointsr-<command>``.

    Hydra is asked to re-raise what it catches (``HYDRA_FULL_ERROR``) so that errors raised
    outside the task function reach this function: a user error becomes one line and exit
    status 2, anything else keeps its traceback.
    """
    saved = {key: os.environ.get(key) for key in ("HYDRA_FULL_ERROR", _USER_SETTING)}
    os.environ[_USER_SETTING] = "1" if saved["HYDRA_FULL_ERROR"] == "1" else "0"
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        if asks_for_help(sys.argv[1:]):
            print(help_text(command))
            return
        sys.argv[1:] = normalise(sys.argv[1:])  # scale=4 -> scale=x4; model=base refused
        hydra_main()
    except Exception as error:
        message = user_message(error)
        if message is None or os.environ.get(_USER_SETTING) == "1":
            raise
        report(command, message)
        sys.exit(USER_ERROR_STATUS)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def quiet_console() -> None:
    """Only the project's lines and the progress bar on the console: Lightning's tips and
    hardware notes, warnings about deprecations in the libraries below us and Lightning's advice
    off, wandb silent. ``verbose=true`` keeps them all."""
    import warnings

    for category in (DeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", module=r"lightning(\.|$)")
    warnings.filterwarnings("ignore", message=r".*(does not have many workers|smaller than the logging interval"
                                              r"|exists and is not empty|is not supported by the model summary).*")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")


def hydra_command(command: str, task: Callable) -> Callable[[], None]:
    """The console entry of ``jointsr-<command>``: ``task(cfg)`` under ``@hydra.main`` with the
    command's primary config (:data:`~jointsr.cli.arguments.COMMANDS`), user errors reported
    as one line and exit status 2."""
    import hydra

    from jointsr import CONFIG_DIR

    spec = COMMANDS[command]

    @hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name=spec.config)
    @reports_user_errors(command)
    @functools.wraps(task)
    def hydra_main(cfg):
        if not cfg.get("verbose", False):
            quiet_console()
        return task(cfg)

    def main() -> None:
        run_command(command, hydra_main)

    main.__doc__ = f"``jointsr-{command} [overrides]``: {spec.description}"
    return main
