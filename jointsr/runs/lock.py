"""One owner per run folder: the lock a process holds while it writes there.

``jointsr-train`` and ``jointsr-eval`` hold ``<run>/.run.lock`` from before their first write
into the run folder until they end, so a second process on the same folder (a second terminal,
a requeued job) is refused before it reads ``last.ckpt`` or writes a file, with the owner named.

The lock is ``flock`` on that file, kept open while the run lasts. The kernel releases it when
its process ends, however it ends (``kill -9`` included; on NFS, where Linux maps it to a record
lock, the server does once the client's lease runs out), so a killed run's lock is never stale:
the next process takes the folder over and says whose it was. The file records the owner (host,
PID, start time, command) for the refusal's message and is emptied on a clean exit; it is never
deleted (two processes could then lock two different files of one name). Reading the file does
not release the lock (a record lock, ``lockf``, would be dropped by any ``close`` of the file in
its process). Only the process that took it holds it: a forked child (a DataLoader worker) closes
its copy as it starts, the ranks ``jointsr-train`` starts itself (:mod:`jointsr.training.ranks`,
new processes) work inside their parent's hold, and of the ranks a launcher started (torchrun,
SLURM) only rank 0 takes it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from jointsr.errors import UserError
from jointsr.runs.folder import RunDir

log = logging.getLogger("jointsr")

#: the folders this process holds, and the descriptor of each one's lock file
_HELD: dict[Path, int] = {}
#: file systems without record locks: the run goes on unguarded, saying so
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


class FolderInUseError(UserError):
    """Another process (or this one) holds the run folder."""


@dataclass(frozen=True)
class Owner:
    """Who holds a run folder, as its lock file records it."""

    pid: int
    host: str
    started: str
    command: str

    @classmethod
    def this_process(cls, command: str) -> Owner:
        return cls(os.getpid(), socket.gethostname(), datetime.now().astimezone().isoformat(timespec="seconds"),
                   command)

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        """The owner a lock file's text records, or None (empty: released cleanly; or being written)."""
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None

    def __str__(self) -> str:
        return f"PID {self.pid} on {self.host} (started {self.started}, {self.command})"

    def gone(self) -> bool:
        """True when the process is known to have ended: this host, and no process of its PID."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process of that PID
            return False
        return False


def launched_rank() -> int:
    """The global rank a launcher (torchrun, SLURM) gave this process; 0 when none did. Read
    as Lightning reads it (RANK, LOCAL_RANK, SLURM_PROCID, JSM_NAMESPACE_RANK)."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


@contextlib.contextmanager
def owning(folder: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold ``folder`` (it must exist) for this block; refuse with :class:`FolderInUseError`
    when another process holds it. A rank other than 0 of a launched job holds nothing: its
    job's rank 0 does."""
    if launched_rank() != 0:
        yield
        return
    root = Path(folder).expanduser().resolve()
    path = RunDir(root).lock
    if root in _HELD:
        raise FolderInUseError(f"{root} is in use by this process (PID {os.getpid()}): one run per folder; "
                               f"choose another hydra.run.dir")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        earlier = _read(descriptor)
        os.close(descriptor)
        if error.errno not in _NO_LOCKS:
            if error.errno not in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise
            owner = Owner.parse(earlier)
            holder = "another process (starting now)" if owner is None else str(owner)
            if owner is not None and owner.gone():  # e.g. a rank it started, on its way out
                holder += " (ended; a process it started still holds the folder)"
            raise FolderInUseError(f"{root} is in use by {holder}: wait for it to end or stop it (a killed run "
                                   f"frees the folder for the next start), or choose another hydra.run.dir") from None
        log.warning("cannot lock %s (%s): two processes on this run folder are not prevented", path,
                    os.strerror(error.errno))
        descriptor = None
    try:
        if descriptor is not None:
            earlier = Owner.parse(_read(descriptor))
            if earlier is not None:  # the last owner ended without releasing the folder: killed
                state = "no longer running" if earlier.gone() else "its lock released"
                log.warning("taking over %s from %s: %s", root, earlier, state)
            _write(descriptor, json.dumps(asdict(Owner.this_process(command))) + "\n")
            _HELD[root] = descriptor
        yield
    finally:
        _HELD.pop(root, None)
        if descriptor is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(descriptor, 0)  # released cleanly: the next owner takes over nothing
            os.close(descriptor)  # releases the lock


def _forget_in_child() -> None:
    """A forked child does not hold its parent's folders: it closes its copies of their lock files
    (the lock stays with the parent's, and ends with the parent, not with the last child)."""
    for descriptor in _HELD.values():
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _HELD.clear()


os.register_at_fork(after_in_child=_forget_in_child)


def _read(descriptor: int) -> str:
    return os.pread(descriptor, 4096, 0).decode(errors="replace")


def _write(descriptor: int, text: str) -> None:
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, text.encode(), 0)
