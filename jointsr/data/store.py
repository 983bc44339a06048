"""HDF5 patch store: the training patches of one configuration, built once and reused.

A store is one file ``<cache_dir>/<dataset>-x<scale>-p<patch>-<digest>.h5`` holding
``hr`` (N, 1, P, P), ``lr`` (N, 1, P/s, P/s) and ``guide`` (N, C, P, P), float32. Its
attributes hold the key (everything that changes the patches, as JSON), the key's
digest and a content hash (SHA-256 of the three arrays' bytes). It is written under a
temporary name and renamed when complete, so a reader never sees half a store; a
stale (other key or format), truncated or corrupt store is detected on open and rebuilt.

Stores live in a cache folder (``JOINTSR_CACHE_DIR``, by default the user's cache
directory), never in the data folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from jointsr.data.scenes import Patches
from jointsr.errors import ConfigError
from jointsr.files import PARTIAL_SUFFIX, atomic_path

log = logging.getLogger(__name__)

#: bump when the layout or the patch cutting changes: every older store becomes stale
STORE_FORMAT = 1
ARRAYS = ("hr", "lr", "guide")
_READ_ROWS = 2048


class StoreError(OSError):
    """A patch store that cannot be used: missing, stale, truncated or corrupt."""


def default_cache_dir() -> Path:
    """``$JOINTSR_CACHE_DIR``, else ``$XDG_CACHE_HOME/jointsr``, else ``~/.cache/jointsr``."""
    if os.environ.get("JOINTSR_CACHE_DIR"):
        return Path(os.environ["JOINTSR_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "jointsr"


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


class ContentHash:
    """SHA-256 of each array's bytes in row order, combined; fed incrementally."""

    def __init__(self) -> None:
        self._parts = {name: hashlib.sha256() for name in ARRAYS}

    def update(self, name: str, rows: np.ndarray) -> None:
        self._parts[name].update(np.ascontiguousarray(rows, dtype="<f4").tobytes())

    def hexdigest(self) -> str:
        text = ";".join(f"{name}:{self._parts[name].hexdigest()}" for name in ARRAYS)
        return hashlib.sha256(text.encode()).hexdigest()


def store_key(dataset, names: Sequence[str], val_names: Sequence[str], scale: int, patch_size: int,
              stride: int, rotations: Sequence[int], guide_channels: int, degradation, seed: int) -> dict:
    """Everything that changes the training patches (the store's identity).

    The dataset (class, name and options such as the CAVE band), its files' identity
    (relative path, size and mtime of every training image's files), the split (image
    names used and held out), the patch grid and augmentation, the guide, and the
    degradation with its parameters; the seed only when the degradation is random.
    """
    return {
        "format": STORE_FORMAT,
        "dataset": dataset.identity(),
        "files": dataset.fingerprint(names),
        "split": "train",
        "names": list(names),
        "val_names": sorted(val_names),
        "scale": int(scale),
        "patch_size": int(patch_size),
        "stride": int(stride),
        "rotations": [int(r) for r in rotations],
        "guide_channels": int(guide_channels),
        "degradation": degradation.key,
        "seed": int(seed) if getattr(degradation, "stochastic", True) else None,
    }


class PatchStore:
    """One store file, named and checked by its key (:func:`store_key`)."""

    def __init__(self, cache_dir: str | os.PathLike, key: dict) -> None:
        self.cache_dir = Path(cache_dir).expanduser()
        self.key = key
        self.key_json = canonical_json(key)
        self.digest = hashlib.sha256(self.key_json.encode()).hexdigest()
        label = f"{key.get('dataset', {}).get('name', 'data')}-x{key.get('scale')}-p{key.get('patch_size')}"
        self.path = self.cache_dir / f"{label}-{self.digest[:16]}.h5"

    # -- checking ------------------------------------------------------------------------
    def problem(self, full: bool = True) -> str | None:
        """Why the store cannot be used (missing, stale, truncated, corrupt), or None if it can.

        ``full`` re-reads every patch and compares the content hash.
        """
        return check_store(self.path, expected_digest=self.digest, full=full)

    # -- building ------------------------------------------------------------------------
    def build(self, parts: Iterable[Patches], progress: Callable[[int], None] | None = None) -> dict:
        """Write the patches (one :class:`Patches` per image) under a temporary name, then rename.

        Returns the store's attributes.
        """
        import h5py

        from jointsr.errors import check_writable_folder

        check_writable_folder(self.cache_dir, "the patch-store cache", "JOINTSR_CACHE_DIR=... (or paths.cache_dir=...)")
        content, count, start = ContentHash(), 0, time.perf_counter()
        with atomic_path(self.path) as partial, h5py.File(partial, "w") as store:
            arrays = None
            for part in parts:
                if arrays is None:
                    arrays = {name: store.create_dataset(
                        name, shape=(0, *getattr(part, name).shape[1:]), dtype="<f4",
                        maxshape=(None, *getattr(part, name).shape[1:]),
                        chunks=(1, *getattr(part, name).shape[1:])) for name in ARRAYS}
                if len(part):
                    for name in ARRAYS:
                        rows = getattr(part, name)
                        arrays[name].resize(count + len(rows), axis=0)
                        arrays[name][count:count + len(rows)] = rows
                        content.update(name, rows)
                    count += len(part)
                if progress is not None:
                    progress(1)
            if not count:
                raise ConfigError(f"no {self.key.get('patch_size')}x{self.key.get('patch_size')} "
                                  f"patch fits in the training images of {self.key.get('dataset')}")
            attrs = {"format": STORE_FORMAT, "key": self.key_json, "key_digest": self.digest,
                     "content_hash": content.hexdigest(), "count": count,
                     "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "build_seconds": round(time.perf_counter() - start, 3)}
            store.attrs.update(attrs)
        return attrs

    # -- reading -------------------------------------------------------------------------
    def load(self) -> Patches:
        """Every patch in memory, after checking the key and the content hash."""
        problem = self.problem(full=False)
        if problem:
            raise StoreError(f"patch store {self.path} is {problem}")
        import h5py

        try:
            with h5py.File(self.path, "r") as store:
                arrays = {name: store[name][...] for name in ARRAYS}
                expected = store.attrs["content_hash"]
        except (OSError, KeyError, ValueError) as error:
            raise StoreError(f"patch store {self.path} is unreadable ({error})") from error
        content = ContentHash()
        for name in ARRAYS:
            content.update(name, arrays[name])
        if content.hexdigest() != expected:
            raise StoreError(f"patch store {self.path} is corrupt (content hash mismatch)")
        return Patches(**arrays)

    def attrs(self) -> dict:
        return read_attrs(self.path)


def read_attrs(path: str | os.PathLike) -> dict:
    import h5py

    with h5py.File(path, "r") as store:
        return {key: (value.item() if hasattr(value, "item") else value) for key, value in store.attrs.items()}


def check_store(path: str | os.PathLike, expected_digest: str | None = None, full: bool = True) -> str | None:
    """Why the store at ``path`` cannot be used, or None. ``full`` verifies the content hash."""
    import h5py

    path = Path(path)
    if not path.is_file():
        return "missing"
    try:
        with h5py.File(path, "r") as store:
            attrs = store.attrs
            if "content_hash" not in attrs or "key_digest" not in attrs:
                return "incomplete (no key or content hash: it was not finished)"
            if int(attrs.get("format", -1)) != STORE_FORMAT:
                return f"stale (format {attrs.get('format')}, this version writes {STORE_FORMAT})"
            digest = attrs["key_digest"]
            if expected_digest is not None and digest != expected_digest:
                return "stale (built for another key)"
            if hashlib.sha256(str(attrs["key"]).encode()).hexdigest() != digest:
                return "corrupt (its key does not match its key digest)"
            count = int(attrs["count"])
            if any(name not in store or store[name].shape[0] != count for name in ARRAYS):
                return f"corrupt (arrays missing or not {count} rows)"
            if full:
                content = ContentHash()
                for name in ARRAYS:
                    for start in range(0, count, _READ_ROWS):
                        content.update(name, store[name][start:start + _READ_ROWS])
                if content.hexdigest() != attrs["content_hash"]:
                    return "corrupt (content hash mismatch)"
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        return f"unreadable (truncated or not HDF5: {error})"
    return None


def ensure_store(store: PatchStore, parts: Callable[[], Iterable[Patches]], count: int,
                 verify: bool = True, progress: bool = True) -> str:
    """Build ``store`` unless a usable one exists; returns "hit", "built" or "rebuilt".

    ``parts()`` yields one :class:`Patches` per image (``count`` images). With ``verify``
    an existing store's content hash is checked (a full read), otherwise only its key.
    """
    from jointsr.data.download import progress_bar

    problem = store.problem(full=verify)
    if problem is None:
        return "hit"
    if problem == "missing":
        status = "built"
        log.info("building patch store %s", store.path)
    else:
        status = "rebuilt"
        log.warning("patch store %s is %s: rebuilding it", store.path, problem)
        store.path.unlink(missing_ok=True)
    with progress_bar(f"patch store {store.path.name}", count, unit="images", enabled=progress) as advance:
        attrs = store.build(parts(), progress=advance)
    log.info("patch store %s: %d patches, %.1f MB, built in %.1f s", store.path.name, attrs["count"],
             store.path.stat().st_size / 1e6, attrs["build_seconds"])
    return status


class H5PatchDataset(Dataset):
    """Training patches read lazily from a store: each process opens its own h5py handle.

    The handle is opened on first access in the process that indexes (a DataLoader
    worker), never shared across a fork or pickled, so ``num_workers > 0`` is safe.
    """

    def __init__(self, path: str | os.PathLike, indices: Sequence[int] | None = None) -> None:
        import h5py

        self.path = str(path)
        with h5py.File(self.path, "r") as store:
            self.count = int(store["hr"].shape[0])
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        self._file = None
        self._pid: int | None = None
        self._datasets: dict | None = None

    def _arrays(self) -> dict:
        if self._file is None or self._pid != os.getpid():
            import h5py

            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
            self._datasets = {name: self._file[name] for name in ARRAYS}
        return self._datasets

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_file"], state["_pid"], state["_datasets"] = None, None, None
        return state

    def __len__(self) -> int:
        return self.count if self.indices is None else len(self.indices)

    def __getitem__(self, index: int) -> dict:
        row = int(index if self.indices is None else self.indices[index])
        store = self._arrays()
        return {"lr": torch.from_numpy(store["lr"][row]), "guide": torch.from_numpy(store["guide"][row]),
                "hr": torch.from_numpy(store["hr"][row]), "name": str(index)}

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None and self._pid == os.getpid():
            try:
                self._file.close()
            except Exception:  # interpreter shutdown: h5py may already be gone
                pass


def list_stores(cache_dir: str | os.PathLike) -> list[Path]:
    """Store files (and leftover partial files of interrupted builds) in a cache folder."""
    folder = Path(cache_dir).expanduser()
    if not folder.is_dir():
        return []
    return sorted(list(folder.glob("*.h5")) + list(folder.glob(f".*{PARTIAL_SUFFIX}")))
