"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

Every file jointsr writes for others to read (results, tables, images, patch stores,
checkpoints, fingerprints) goes through :func:`atomic_path`: the content is written to a
temporary name in the destination's folder, flushed to disk, and renamed over the
destination (``os.replace``, atomic within one file system). A failure removes the
temporary file and leaves the old destination as it was. Temporary names are hidden, end in
``.partial`` (``.<name>.<unique>.partial``) and are unique per call, so processes writing the
same destination at once never share one.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

#: the ending of every temporary file of an atomic write (an interrupted build leaves one)
PARTIAL_SUFFIX = ".partial"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for a writer that creates it by name (h5py,
    ``torch.save``, PIL, or a folder filled and moved there); when the block ends without an
    error, a file written there is synced to disk, and the path is renamed to ``path`` (a
    folder replaces only a missing or empty one). On an error it is deleted and ``path`` is kept."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    try:
        yield partial
        if partial.is_file():
            with open(partial, "rb") as stream:  # on disk before the rename makes it visible
                os.fsync(stream.fileno())
        os.replace(partial, path)
    finally:
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
        else:
            partial.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, write: Callable[[IO], None], binary: bool = False) -> Path:
    """Write ``path`` atomically: ``write(stream)`` fills a temporary file (text, or bytes
    when ``binary``) opened beside it, which then replaces ``path``. Returns ``path``."""
    path = Path(path)
    with atomic_path(path) as partial:
        with open(partial, "wb") if binary else open(partial, "w", newline="") as stream:
            write(stream)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda stream: stream.write(text))


def write_json_atomic(path: str | os.PathLike, document, indent: int = 2, sort_keys: bool = False) -> Path:
    """Write ``document`` as JSON (NaN and infinity as JavaScript writes them) atomically."""
    return write_text_atomic(path, json.dumps(document, indent=indent, sort_keys=sort_keys, allow_nan=True) + "\n")


def write_csv_atomic(path: str | os.PathLike, rows: list[dict], columns: list[str]) -> Path:
    """Write ``rows`` (dicts; a missing key is an empty cell) as CSV with ``columns`` atomically."""

    def write(stream: IO) -> None:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)

    return write_atomic(path, write)
