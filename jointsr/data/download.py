"""Fetch a publisher's archive: progress bar, checksum, atomic extraction.

``fetch_archive(url, root)`` downloads into a temporary folder next to ``root``, checks
the SHA-256, unpacks there, and renames the result to ``root`` only when everything
succeeded (:func:`jointsr.files.atomic_path`): a failed or interrupted download never leaves
a half-written ``root``.
URLs are opened with :func:`urllib.request.urlopen` (``http(s)://`` and ``file://``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator

from jointsr.files import atomic_path

log = logging.getLogger(__name__)

CHUNK = 1 << 20


class ChecksumError(OSError):
    """The downloaded file's SHA-256 is not the expected one."""


@contextmanager
def progress_bar(description: str, total: float | None, unit: str = "bytes",
                 enabled: bool = True) -> Iterator:
    """A rich progress bar on stderr; yields ``advance(n)``."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn()]
    if unit == "bytes":
        columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    else:
        columns += [MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, destination: str | os.PathLike, sha256: str | None = None,
                  progress: bool = True, timeout: float = 60.0) -> str:
    """Stream ``url`` into ``destination``; returns its SHA-256 (checked when ``sha256`` is given).

    On a mismatch the file is deleted and :class:`ChecksumError` raised.
    """
    destination = Path(destination)
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with open(destination, "wb") as stream, \
                progress_bar(f"download {PurePosixPath(url).name}", total, enabled=progress) as advance:
            for block in iter(lambda: response.read(CHUNK), b""):
                stream.write(block)
                digest.update(block)
                advance(len(block))
    actual = digest.hexdigest()
    if sha256 and actual.lower() != sha256.lower():
        destination.unlink(missing_ok=True)
        raise ChecksumError(f"checksum mismatch for {url}: expected sha256 {sha256.lower()}, got {actual}. "
                            f"The download is corrupt or the publisher changed the archive; nothing was "
                            f"kept. Retry, or pin the new digest if the archive is known to be good.")
    return actual


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def extract_archive(archive: str | os.PathLike, destination: str | os.PathLike, progress: bool = True) -> None:
    """Unpack a zip or tar archive into ``destination``, refusing paths that leave it."""
    archive, destination = Path(archive), Path(destination)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            bad = [m.filename for m in members if not _safe_member(m.filename)]
            if bad:
                raise OSError(f"{archive}: refusing to unpack paths outside the folder: {bad[:3]}")
            with progress_bar(f"unpack {archive.name}", len(members), unit="files", enabled=progress) as advance:
                for member in members:
                    bundle.extract(member, destination)
                    advance()
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
            bad = [m.name for m in members if not _safe_member(m.name) or m.issym() or m.islnk()]
            if bad:
                raise OSError(f"{archive}: refusing to unpack links or paths outside the folder: {bad[:3]}")
            with progress_bar(f"unpack {archive.name}", len(members), unit="files", enabled=progress) as advance:
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                for member in members:
                    bundle.extract(member, destination, **safe)
                    advance()
    else:
        raise OSError(f"{archive} is neither a zip nor a tar archive")


def fetch_archive(url: str, root: str | os.PathLike, sha256: str | None = None, progress: bool = True) -> Path:
    """Download ``url``, verify it, unpack it and rename the result to ``root``.

    A single top-level folder of the archive (``nirscene1/``) is removed, so ``root``
    holds the dataset itself. ``root`` must not exist or be empty. Without ``sha256``
    (publishers rarely give one) the digest is logged so it can be pinned.
    """
    root = Path(root).expanduser()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"cannot download into {root}: it exists and is not empty, yet lacks "
                              f"files the dataset needs. Move it away, or point the dataset's root "
                              f"(paths.data_dir=...) at a complete copy.")
    created = [parent for parent in (root.parent, *root.parent.parents) if not parent.exists()]
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{root.name}.download-", dir=root.parent))
    succeeded = False
    try:
        archive = work / (PurePosixPath(url).name or "archive")
        log.info("downloading %s to %s", url, root)
        digest = download_file(url, archive, sha256=sha256, progress=progress)
        if sha256:
            log.info("sha256 verified: %s", digest)
        else:
            log.warning("%s: no published checksum to verify; its sha256 is %s (pin it with "
                        "archive_sha256=... to check future downloads)", url, digest)
        unpacked = work / "unpacked"
        extract_archive(archive, unpacked, progress=progress)
        entries = list(unpacked.iterdir())
        content = entries[0] if len(entries) == 1 and entries[0].is_dir() else unpacked
        if root.exists():
            root.rmdir()  # empty (checked above)
        with atomic_path(root) as partial:
            os.replace(content, partial)
        log.info("unpacked %s into %s", archive.name, root)
        succeeded = True
        return root
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not succeeded:  # leave no empty folders behind that this call created
            for parent in created:
                if parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
