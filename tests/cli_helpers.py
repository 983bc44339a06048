"""Helpers of the hostile-input and checkpoint tests: run a command line in this process,
snapshot folders, copy a dataset as links, plant a malicious checkpoint."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import tomllib
import torch
from conftest import DATA_DIR, require_data
from hydra.core.global_hydra import GlobalHydra

#: console entry points by command name, as pyproject.toml installs them (``jointsr-train`` ->
#: ``jointsr.cli.entry:train``): a new command is picked up from its pyproject.toml line
with open(Path(__file__).resolve().parent.parent / "pyproject.toml", "rb") as _pyproject:
    COMMANDS = {script.removeprefix("jointsr-"): target
                for script, target in tomllib.load(_pyproject)["project"]["scripts"].items()}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("jointsr-")]


def run_main(command: str, args: list[str], capsys, monkeypatch) -> Result:
    """``jointsr-<command> ARGS`` in this process (its console script's function); the exit status
    and output."""
    import importlib

    module, function = COMMANDS[command].split(":")
    main: Callable[[], None] = getattr(importlib.import_module(module), function)
    monkeypatch.setattr(sys, "argv", [f"jointsr-{command}", *args])
    capsys.readouterr()
    _streams_to_current_stderr()
    GlobalHydra.instance().clear()
    code = 0
    try:
        main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        GlobalHydra.instance().clear()
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def _streams_to_current_stderr() -> None:
    """Point libraries' console log handlers (Lightning adds one at import) at this test's stderr:
    one created under an earlier test's capture would write to a closed stream."""
    import logging

    loggers = [logging.getLogger()] + [item for item in logging.Logger.manager.loggerDict.values()
                                       if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and handler.stream not in (sys.stdout, sys.stderr):
                handler.stream = sys.stderr  # not setStream(): it would flush the closed stream


def assert_user_error(result: Result, *fragments: str) -> str:
    """Exit status 2, exactly one error line (naming ``fragments``), no traceback; returns the line."""
    assert result.code == 2, (result.code, result.err[-3000:])
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err[-3000:]
    lines = result.error_lines
    assert len(lines) == 1, result.err[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def snapshot(root: Path, skip: Path | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``root`` (``skip``: a folder left out)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if path.is_file() or path.is_symlink():
            content = path.read_bytes() if path.exists() else b"<dangling>"
            found[str(path.relative_to(root))] = hashlib.sha256(content).hexdigest()
    return found


def run_folder_files(run_dir: Path) -> list[str]:
    """What a failed command left in its run folder besides Hydra's own config and log files."""
    if not run_dir.exists():
        return []
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")
                  if p.is_file() and ".hydra" not in p.parts and p.suffix != ".log")


def linked_dataset(destination: Path, name: str) -> Path:
    """A copy of the shared dataset ``name`` as links to its files, with its ``SHA256SUMS`` lines
    (returns the new data folder; replace a link with :func:`corrupt_copy` to damage one file)."""
    source = require_data(name)  # under JOINTSR_DATA_DIR, else the test is skipped
    for path in source.rglob("*"):
        if path.is_file():
            target = destination / name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path, target)
    lines = [line for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines()
             if line.split("  ", 1)[-1].removeprefix("./").startswith(f"{name}/")]
    (destination / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return destination


def corrupt_copy(path: Path, how: str) -> Path:
    """Replace a linked file by a damaged real copy: ``flip`` one bit of the pixel data (the image
    still decodes), ``truncate`` it to half, or ``empty`` it."""
    data = bytearray(path.read_bytes())
    path.unlink()
    if how == "flip":
        data[len(data) - 100] ^= 0x01  # in the pixel data, far from the header
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))
    return path


class Evil:
    """Unpickling this writes a marker file: what a crafted checkpoint can do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


def malicious_checkpoint(path: Path, marker: Path, base: Path | None = None) -> Path:
    """A checkpoint file that runs code when unpickled: a real checkpoint's content (``base``)
    plus one object whose unpickling writes ``marker``."""
    checkpoint = torch.load(base, map_location="cpu", weights_only=True) if base else {"state_dict": {}}
    checkpoint["callbacks"] = {**checkpoint.get("callbacks", {}), "evil": Evil(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def copy_tree(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination
