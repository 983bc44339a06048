"""Errors a user can act on, and the checks that raise them.

A :class:`UserError` (bad input, bad config value, missing or unreadable file, unwritable
folder, no GPU, not enough memory) names the value or file and what to do; the commands
(:mod:`jointsr.cli.command`) report it as one line and exit status 2. Anything else is a
bug of ours and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

# OS errors that say something about the user's machine or paths, not about our code
_ENVIRONMENT_ERRNOS = {errno.EROFS: "the file system is read-only",
                       errno.EACCES: "permission denied",
                       errno.EPERM: "operation not permitted",
                       errno.ENOSPC: "no space left on the device",
                       errno.EDQUOT: "the disk quota is exceeded",
                       errno.ENOTDIR: "a part of the path is a file, not a folder",
                       errno.EEXIST: "it exists and is not a folder",
                       errno.ENAMETOOLONG: "the name is too long"}


class UserError(Exception):
    """An error the user can fix; its message names the value or file and what to do."""


class ConfigError(UserError, ValueError):
    """A configuration value outside its allowed range (the message gives the range)."""


class InputError(UserError, ValueError):
    """An input file that cannot be used as it is (shape, mode, dtype, values)."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


class UnwritableError(UserError, OSError):
    """A folder or file the command must write cannot be written."""


class CheckpointError(UserError, ValueError):
    """A file that is not a usable (or not a trusted) checkpoint of jointsr-train."""


class ResourceError(UserError, RuntimeError):
    """The machine lacks what the command needs (a GPU, enough memory)."""


def check_int(key: str, value, minimum: int, multiple_of: int | None = None) -> int:
    """``value`` as an int >= ``minimum`` (and a multiple of ``multiple_of``, a scale), else a
    :class:`ConfigError` naming the key, the value and the allowed values."""
    import numbers

    allowed = f"an integer >= {minimum}" + (f" that is a multiple of scale={multiple_of}" if multiple_of else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{key}={value!r} must be {allowed}")
    if multiple_of and value % multiple_of:
        raise ConfigError(f"{key}={value} is not divisible by scale={multiple_of}: choose {allowed}")
    if value < minimum:
        raise ConfigError(f"{key}={value} is out of range: it must be {allowed}")
    return int(value)


def check_choice(key: str, value, choices) -> object:
    """``value`` if it is one of ``choices``, else a :class:`ConfigError` listing them."""
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices) or value not in choices:
        raise ConfigError(f"{key}={value!r} is not allowed: use one of {', '.join(map(str, choices))}")
    return value


def environment_message(error: OSError) -> str | None:
    """One line for an OS error caused by the environment (read-only, full disk ...), else None."""
    reason = _ENVIRONMENT_ERRNOS.get(getattr(error, "errno", None))
    if reason is None:
        return None
    where = error.filename or "a file"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {where}: {reason}; free some space or write elsewhere"
    if error.errno == errno.ENAMETOOLONG:  # a sweep's job folder is named by all its overrides
        return (f"cannot create {where}: {reason} for the file system; a sweep names each job's folder by "
                f"its overrides: name them shorter, e.g. 'hydra.sweep.subdir=${{hydra.job.num}}' or "
                f"'hydra.sweep.subdir=seed_${{seed}}'")
    verb = "write" if error.errno == errno.EROFS else "access"
    return (f"cannot {verb} {where}: {reason}; check the path, or choose another folder (outputs go to "
            f"hydra.run.dir=... or paths.log_dir=..., patch stores to JOINTSR_CACHE_DIR=...)")


def check_writable_folder(folder: str | os.PathLike, what: str, setting: str) -> Path:
    """Create ``folder`` if needed and check that files can be created in it.

    Raises :class:`UnwritableError` naming ``what`` (e.g. "the patch cache") and the
    ``setting`` that moves it, before any work is done.
    """
    folder = Path(folder).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        reason = _ENVIRONMENT_ERRNOS.get(error.errno, error.strerror or str(error))
        raise UnwritableError(f"cannot create {what} {folder}: {reason}; set {setting} to a writable "
                              f"folder") from error
    if not folder.is_dir():
        raise UnwritableError(f"{what} {folder} is not a folder; set {setting} to a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UnwritableError(f"cannot write into {what} {folder} (read-only or no permission); set "
                              f"{setting} to a writable folder")
    return folder
