"""The shared base of every guided super-resolution dataset.

A dataset knows its files, its official split and how to turn a file into floats in
[0, 1]: ``load(name) -> (target (H, W), rgb guide (H, W, 3))``. Everything after that
(crop, degradation, guide conversion, patches, the HDF5 store) is shared by
:mod:`jointsr.data.scenes`, :mod:`jointsr.data.store` and the DataModule.

Adding a dataset means one subclass (one file in this package) and one config in
``conf/data/``: set ``name``, ``splits``, ``url`` (and ``archive_url`` when the
publisher offers one archive), implement ``files(name)``, and override ``read_target``
when the target is not an 8- or 16-bit image.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from jointsr.data.io import read_image
from jointsr.errors import InputError, UserError

log = logging.getLogger(__name__)


class DatasetNotFoundError(UserError, FileNotFoundError):
    """The dataset's files are missing and could not be fetched."""


class DatasetSplitError(UserError, KeyError):
    """A split (``train``, ``test``) the dataset does not define."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetCorruptError(UserError, OSError):
    """Dataset files that do not match their known checksums."""


class GuidedSRDataset:
    """Base class: a folder of (target, RGB guide) pairs with named splits."""

    #: short name used in configs, logs, store file names and result files
    name: str = "dataset"
    #: official split, image names per split
    splits: dict[str, Sequence[str]] = {}
    #: the publisher's page (named in messages)
    url: str | None = None
    #: one archive holding the dataset, fetched by :meth:`download` (None: no single archive)
    archive_url: str | None = None
    #: SHA-256 of that archive; None: the publisher gives none, the digest is logged instead
    archive_sha256: str | None = None

    def __init__(self, root: str | Path, splits: dict[str, Sequence[str]] | None = None,
                 archive_url: str | None = None, archive_sha256: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.splits = {key: list(value) for key, value in (splits or type(self).splits).items()}
        if archive_url is not None:
            self.archive_url = archive_url
        if archive_sha256 is not None:
            self.archive_sha256 = archive_sha256

    # -- files -------------------------------------------------------------------------
    def files(self, name: str) -> tuple[Path, Path]:
        """The (target, guide) files of one image."""
        raise NotImplementedError

    def names(self, split: str) -> list[str]:
        if split not in self.splits:
            raise DatasetSplitError(f"{self.name} has no split {split!r}; known: {sorted(self.splits)} (choose "
                                    f"a dataset that has one, e.g. as data.test_dataset)")
        return list(self.splits[split])

    def all_names(self) -> list[str]:
        return list(dict.fromkeys(n for names in self.splits.values() for n in names))

    def missing(self, names: Sequence[str] | None = None) -> list[Path]:
        """Files of the given (default: every split's) images that do not exist."""
        names = self.all_names() if names is None else names
        return [path for name in names for path in self.files(name) if not path.is_file()]

    def is_available(self) -> bool:
        return not self.missing()

    def download(self) -> None:
        """Fetch and unpack the publisher's archive into ``root`` (atomically).

        Datasets without a single archive raise :class:`DatasetNotFoundError` naming
        the publisher's page.
        """
        if not self.archive_url:
            raise DatasetNotFoundError(self._not_found_message())
        from jointsr.data.download import fetch_archive

        fetch_archive(self.archive_url, self.root, sha256=self.archive_sha256)

    def _not_found_message(self) -> str:
        missing = self.missing()
        shown = ", ".join(str(p) for p in missing[:3]) + (" ..." if len(missing) > 3 else "")
        if self.archive_url and self._root_is_empty():
            where = f"; fetching it from {self.archive_url} failed"
        elif self.archive_url:
            where = (f"; it is fetched from {self.archive_url} only into a missing or empty folder: "
                     f"move {self.root} away to download it there")
        elif self.url:
            where = (f"; the publisher offers no single archive of this layout: download it from "
                     f"{self.url} and arrange it as documented in {type(self).__module__}")
        else:
            where = ""
        return (f"{self.name}: {len(missing)} file(s) missing under {self.root} ({shown}). "
                f"Set JOINTSR_DATA_DIR (or paths.data_dir=...) to the folder that holds "
                f"'{self.root.name}/'{where}.")

    def _root_is_empty(self) -> bool:
        return not self.root.exists() or (self.root.is_dir() and not any(self.root.iterdir()))

    def ensure_available(self) -> None:
        """Download when files are missing; raise a clear error when that is impossible.

        A download only goes into a missing or empty ``root``: files are never mixed
        into a folder that holds something else.
        """
        if self.is_available():
            return
        if self.archive_url and self._root_is_empty():
            log.info("%s: %s is missing, downloading %s", self.name, self.root, self.archive_url)
            from urllib.error import URLError

            try:
                self.download()
            except (URLError, TimeoutError, ConnectionError) as error:  # no network: say what to do instead
                raise DatasetNotFoundError(f"{self._not_found_message()} ({type(error).__name__}: {error})") \
                    from error
        if not self.is_available():
            raise DatasetNotFoundError(self._not_found_message())

    def checksum_problems(self, names: Sequence[str] | None = None) -> list[str]:
        """Files of the given (default: all) images that differ from their known SHA-256
        (:mod:`jointsr.data.checksums`; nothing is checked when the data has no list)."""
        from jointsr.data.checksums import checksum_problems

        names = self.all_names() if names is None else names
        problems, checked, sums_file = checksum_problems(
            [path for name in names for path in self.files(name)], self.root)
        if sums_file is not None:
            log.debug("%s: %d files checked against %s", self.name, checked, sums_file)
        return problems

    def verify_checksums(self, names: Sequence[str] | None = None) -> None:
        """Raise :class:`DatasetCorruptError` unless every listed file matches its checksum."""
        problems = self.checksum_problems(names)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            source = f" or from {self.url}" if self.url else ""
            raise DatasetCorruptError(f"{self.name}: {problems[0]}{more}; restore the file(s) from a clean copy"
                                      f"{source} (`jointsr-data verify` lists every problem)")

    # -- identity (for the patch store's key) -----------------------------------------------
    def identity(self) -> dict[str, Any]:
        """What, besides the files, changes the pixels ``load`` returns (subclasses add options)."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", "name": self.name}

    def fingerprint(self, names: Sequence[str]) -> str:
        """Content identity of the images' files: relative path, size and mtime of each."""
        digest = hashlib.sha256()
        for name in names:
            for path in self.files(name):
                stat = path.stat()
                try:
                    relative = path.relative_to(self.root).as_posix()
                except ValueError:
                    relative = path.as_posix()
                digest.update(f"{relative}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()

    # -- pixels ------------------------------------------------------------------------
    def read_target(self, path: Path) -> np.ndarray:
        """The target as float32 in [0, 1]; default: an 8- or 16-bit image (/255, /65535)."""
        return read_image(path)

    def metres_per_unit(self, name: str) -> float | None:
        """The metres a target value of 1 stands for in image ``name`` (metric depth sets,
        for an RMSE in cm); None for a target that is not metric depth."""
        return None

    def read_guide(self, path: Path) -> np.ndarray:
        return read_image(path)

    def load(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(target (H, W) float32 in [0,1], guide RGB (H, W, 3) float32 in [0,1])``."""
        target_path, guide_path = self.files(name)
        target, guide = self.read_target(target_path), self.read_guide(guide_path)
        if target.ndim == 3:
            raise InputError(f"{target_path}: the target must be single-channel, got {target.shape}")
        if guide.ndim == 2:  # a grey guide acts as R = G = B
            guide = np.repeat(guide[..., None], 3, axis=2)
        if guide.shape[:2] != target.shape:
            raise InputError(f"{self.name}/{name}: target {target_path.name} is {target.shape} but "
                             f"guide {guide_path.name} is {guide.shape[:2]}")
        return target, guide

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={str(self.root)!r})"
