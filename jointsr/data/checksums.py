"""Dataset files against their known SHA-256 digests (a ``SHA256SUMS`` file beside the data).

The shared data folder ships a ``SHA256SUMS`` (``sha256sum`` format, paths relative to its
folder). A dataset whose root is that folder or below it is checked against it before any
work starts: a bit-flipped image that still decodes would otherwise give wrong patches and
wrong numbers without a word. Files the list does not name, and datasets with no list,
are not checked (logged). Digests are remembered per process by (path, size, mtime), so a
dataset is hashed once per run however many times it is checked.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from jointsr.data.download import sha256_file

log = logging.getLogger(__name__)

SUMS_NAME = "SHA256SUMS"
_digests: dict[tuple[str, int, int], str] = {}
_sums: dict[tuple[str, int], dict[str, str]] = {}


def find_checksums(root: Path, levels: int = 3) -> Path | None:
    """A ``SHA256SUMS`` file in ``root`` or one of its ``levels`` parents (the shared data has one)."""
    root = Path(root).expanduser()
    for folder in [root, *list(root.parents)[:levels]]:
        if (folder / SUMS_NAME).is_file():
            return folder / SUMS_NAME
    return None


def read_checksums(sums_file: Path) -> dict[str, str]:
    """``{relative posix path: digest}`` of a ``sha256sum`` file (``./`` prefixes dropped)."""
    key = (str(sums_file), sums_file.stat().st_mtime_ns)
    if key not in _sums:
        sums = {}
        for line in sums_file.read_text().splitlines():
            digest, _, name = line.partition("  ")
            if name.strip():
                sums[Path(name.strip().lstrip("*")).as_posix().removeprefix("./")] = digest.strip().lower()
        _sums[key] = sums
    return _sums[key]


def file_digest(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = sha256_file(path)
    return _digests[key]


def checksum_problems(paths: Iterable[Path], root: Path) -> tuple[list[str], int, Path | None]:
    """Mismatches of ``paths`` (files under ``root``) against the ``SHA256SUMS`` found for ``root``.

    Returns ``(problems, files checked, the SHA256SUMS file or None)``; missing files are
    not reported here (the dataset's own check names them).
    """
    sums_file = find_checksums(root)
    if sums_file is None:
        return [], 0, None
    # lexical paths (not resolved): the list sits in a folder above ``root``, and a copy made of
    # links to the files is still checked against the list beside it
    sums, base, problems, checked = read_checksums(sums_file), sums_file.parent.absolute(), [], 0
    for path in paths:
        if not path.is_file():
            continue
        try:
            relative = path.absolute().relative_to(base).as_posix()
        except ValueError:
            continue
        expected = sums.get(relative)
        if expected is None:
            continue
        checked += 1
        if file_digest(path) != expected:
            problems.append(f"{path} does not match its SHA-256 in {sums_file} (the file is corrupt or was "
                            f"changed)")
    return problems, checked, sums_file
