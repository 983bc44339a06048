"""One job folder, one configuration: ``skip_done`` may skip or resume only the same configuration.

A sweep job's folder is named by its overrides (``hydra.job.override_dirname``), and
``skip_done`` trusts that name: a folder holding ``test_metrics.json`` is skipped, one holding
``checkpoints/last.ckpt`` is resumed. The name does not say everything: an override left out
of it (``ckpt_path``), a config file or a default changed between two launches, or two plain
runs started in the same second would all put a second configuration into the first one's
folder. So the first run writes a fingerprint of its resolved configuration into the folder,
and a later run of a different configuration is refused before it can skip, resume or
overwrite anything.

The fingerprint leaves out what does not change what a run computes (``NOT_THE_RESULT``:
where it writes, how it is logged and watched, whether a finished job is skipped or tested),
and it writes the ``paths.*`` values as ``<paths.name>`` wherever they appear, so a data or
output folder seen through another mount or environment is the same configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from jointsr.files import write_json_atomic
from jointsr.runs.folder import RunDir

#: the file, in the run folder, that holds the fingerprint
FINGERPRINT_FILE = RunDir(".").fingerprint.name
#: keys that do not change what a run computes: where it writes, how it is logged and watched
#: (``callbacks``: checkpoint files, progress bars, timers; what the best checkpoint is chosen by
#: is ``monitor``, which counts), and ``test``: a fit-only run may be tested later in its folder
NOT_THE_RESULT = ("paths", "hydra", "skip_done", "test", "logger", "callbacks", "tags", "experiment_name", "verbose",
                  "data.progress", "model.title")


def check_same_config(output_dir: str | os.PathLike, cfg: DictConfig, record: bool = True) -> None:
    """Raise ``ValueError`` (one line) when ``output_dir`` holds a run of another configuration
    than ``cfg``; otherwise record ``cfg``'s fingerprint there (idempotent) unless ``record``
    is false (check first, record once the run is known to start: :func:`record_config`)."""
    run = RunDir(output_dir)
    current = fingerprint(cfg)
    stored = _stored_fingerprint(run)
    if stored is not None and stored["fingerprint"] != current["fingerprint"]:
        raise ValueError(
            f"{run.root} holds a run of another configuration ({_differences(stored['config'], current['config'])}; "
            f"recorded in {FINGERPRINT_FILE}), which skip_done would merge with this one: run this configuration "
            "into another folder (hydra.sweep.dir=... or hydra.run.dir=...) or delete that folder")
    if record and stored is None:
        _write_atomic(run.fingerprint, current)


def record_config(output_dir: str | os.PathLike, cfg: DictConfig) -> None:
    """Record ``cfg``'s fingerprint in ``output_dir`` (after :func:`check_same_config` passed)."""
    check_same_config(output_dir, cfg, record=True)


def fingerprint(cfg: DictConfig) -> dict:
    """``{"fingerprint": sha256 hex, "config": canonical config}`` of a composed config."""
    container = OmegaConf.to_container(cfg, resolve=False)
    paths = OmegaConf.to_container(cfg.paths, resolve=True) if "paths" in cfg else {}
    # resolve without what is left out: those keys may need a running Hydra app (${hydra:...})
    container = _without(container, NOT_THE_RESULT)
    container["paths"] = paths
    return _fingerprint_of(OmegaConf.to_container(OmegaConf.create(container), resolve=True))


def _fingerprint_of(resolved: dict) -> dict:
    paths = {name: value for name, value in (resolved.get("paths") or {}).items()
             if isinstance(value, str) and "/" in value}
    canonical = _with_path_names(_without(resolved, NOT_THE_RESULT),
                                 sorted(paths.items(), key=lambda item: -len(item[1])))
    canonical = json.loads(json.dumps(canonical, sort_keys=True, default=str))
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    return {"fingerprint": digest, "config": canonical}


def _without(container: dict, keys: tuple[str, ...]) -> dict:
    """A copy of ``container`` without the dotted ``keys`` (``data.progress``)."""
    pruned = dict(container)
    for key in keys:
        head, _, rest = key.partition(".")
        if rest and isinstance(pruned.get(head), dict):
            pruned[head] = _without(pruned[head], (rest,))
        elif not rest:
            pruned.pop(head, None)
    return pruned


def _with_path_names(node, paths: list[tuple[str, str]]):
    """``node`` with each string that is, or lies under, a ``paths.*`` value written as
    ``<paths.name>`` (longest value first, so ``output_dir`` wins over ``root_dir``)."""
    if isinstance(node, dict):
        return {key: _with_path_names(value, paths) for key, value in node.items()}
    if isinstance(node, list):
        return [_with_path_names(value, paths) for value in node]
    if isinstance(node, str):
        for name, value in paths:
            root = value.rstrip("/")
            if node.rstrip("/") == root or node.startswith(root + "/"):
                return f"<paths.{name}>" + node[len(root):]
    return node


def _stored_fingerprint(run: RunDir) -> dict | None:
    """The fingerprint recorded in the folder, or None when it holds none."""
    recorded = run.fingerprint
    if not recorded.is_file():
        return None
    try:
        return json.loads(recorded.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{recorded} is not valid JSON ({error}): delete it if the folder holds "
                         "the configuration you are running") from error


def _differences(stored: dict, current: dict, shown: int = 3) -> str:
    """``key: <stored> there, <current> here`` for the first ``shown`` differing keys, and how many more."""
    before, after = _flatten(stored), _flatten(current)
    keys = sorted(key for key in before.keys() | after.keys() if before.get(key, _ABSENT) != after.get(key, _ABSENT))
    text = ", ".join(f"{key}: {_show(before.get(key, _ABSENT))} there, {_show(after.get(key, _ABSENT))} here"
                     for key in keys[:shown])
    return text + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


_ABSENT = object()


def _show(value) -> str:
    return "absent" if value is _ABSENT else json.dumps(value)


def _flatten(node, prefix: str = "") -> dict:
    if isinstance(node, dict) and node:
        flat = {}
        for key, value in node.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): node}


def _write_atomic(path: Path, document: dict) -> None:
    """Write the fingerprint atomically (each writer through its own temporary file: ranks of
    one job may write at once), or say in one line why the folder cannot take it."""
    try:
        write_json_atomic(path, document, indent=1, sort_keys=True)
    except OSError as error:
        raise ValueError(f"cannot record the configuration in {path} ({error}): make the run folder "
                         "writable, or run into another one (hydra.run.dir=... or hydra.sweep.dir=...)") from error
