"""``jointsr-data``: fetch datasets, build patch stores, and verify both.

::

    jointsr-data prepare data=cave scale=x4   # download if missing, build the training-patch store
    jointsr-data verify data=cave             # decode and checksum the dataset, check every store
    jointsr-data verify fix=true              # ... and delete stores that fail (rebuilt on next use)
    jointsr-data list                         # the stores in the cache folder and their keys

The first argument is the command; the rest are Hydra overrides of ``conf/data_cli.yaml``
(``data=``, ``scale=``, ``paths.cache_dir=``, ``data.degradation.noise_sigma=`` ...), so a
store prepared here is the one ``jointsr-train`` with the same overrides uses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig

from jointsr.cli.command import hydra_command
from jointsr.data.checksums import find_checksums
from jointsr.data.datasets import GuidedSRDataset
from jointsr.data.download import progress_bar
from jointsr.data.store import check_store, list_stores, read_attrs
from jointsr.errors import ConfigError

log = logging.getLogger("jointsr.cli.data")

COMMANDS = ("prepare", "verify", "list")


def _console():
    from rich.console import Console

    return Console(soft_wrap=True)  # one problem per line, however long its path


def prepare(cfg: DictConfig) -> int:
    """Download the datasets when missing and build (or find) the training-patch store."""
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.prepare_data()  # downloads what is missing, checks the files against their checksums
    console = _console()
    for dataset in datamodule.datasets():
        console.print(f"[green]ok[/] {dataset.name}: {len(dataset.all_names())} images under {dataset.root}")
    if not datamodule.store:
        console.print("data.store=false: no patch store to build")
        return 0
    start = time.perf_counter()
    store, status = datamodule.prepare_store(verify=True)
    attrs = store.attrs()
    console.print(f"[green]{status}[/] {store.path}\n    {attrs['count']} patches, "
                  f"{store.path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s "
                  f"(x{datamodule.scale}, patch {datamodule.patch_size}, {datamodule.degradation.key})")
    return 0


def verify_dataset(dataset: GuidedSRDataset, decode: bool = True, progress: bool = True) -> list[str]:
    """Problems with a dataset's files: missing, checksum mismatch, undecodable, out of [0, 1]."""
    problems = [f"{dataset.name}: missing {path}" for path in dataset.missing()]
    if problems:
        return problems
    names = dataset.all_names()
    problems += [f"{dataset.name}: {problem}" for problem in dataset.checksum_problems(names)]
    if decode:
        with progress_bar(f"verify {dataset.name}", len(names), unit="images", enabled=progress) as advance:
            for name in names:
                try:
                    target, guide = dataset.load(name)
                except (OSError, ValueError) as error:
                    problems.append(f"{dataset.name}/{name}: {error}")
                else:
                    for label, image in (("target", target), ("guide", guide)):
                        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 1:
                            problems.append(f"{dataset.name}/{name}: {label} outside [0, 1]")
                advance()
    sums_file = find_checksums(dataset.root)
    log.info("%s: %d images%s, checksums %s", dataset.name, len(names), " decoded" if decode else "",
             f"from {sums_file}" if sums_file else "not checked (no SHA256SUMS found)")
    return problems


def verify(cfg: DictConfig) -> int:
    """Verify the selected datasets and every store in the cache folder; 1 if a problem remains
    (``fix=true`` deletes failing stores, which then count as fixed; dataset files cannot be)."""
    datamodule = hydra.utils.instantiate(cfg.data)
    console = _console()
    problems, fixed = [], 0
    for dataset in datamodule.datasets():
        found = verify_dataset(dataset, decode=cfg.decode, progress=datamodule.progress)
        problems += found
        if not found:
            console.print(f"[green]ok[/] {dataset.name}: {len(dataset.all_names())} images under {dataset.root}")
    stores = list_stores(datamodule.cache_dir)
    for path in stores:
        problem = ("a leftover partial file of an interrupted build" if path.name.endswith(".partial")
                   else check_store(path, full=True))
        if problem is None:
            console.print(f"[green]ok[/] {path}")
            continue
        problems.append(f"{path}: {problem}")
        if cfg.fix:
            path.unlink(missing_ok=True)
            fixed += 1
            console.print(f"[yellow]deleted[/] {path} ({problem}); the next prepare or training run rebuilds it")
    if not stores:
        console.print(f"no patch stores in {datamodule.cache_dir}")
    for problem in problems:
        console.print(f"[red]FAIL[/] {problem}")
    remaining = len(problems) - fixed
    console.print(f"{'[red]' if remaining else '[green]'}{len(problems)} problem(s)"
                  f"{f', {fixed} fixed' if fixed else ''}[/]")
    return 1 if remaining else 0


def list_stores_command(cfg: DictConfig) -> int:
    from rich.table import Table

    cache_dir = Path(cfg.data.get("cache_dir") or cfg.paths.cache_dir).expanduser()
    table = Table(title=f"patch stores in {cache_dir}")
    for column in ("file", "patches", "MB", "created", "key"):
        table.add_column(column, overflow="fold")
    for path in list_stores(cache_dir):
        try:
            attrs = read_attrs(path)
            key = json.loads(attrs["key"])
            options = {k: v for k, v in key["dataset"].items() if k not in ("class", "name")}
            dataset = key["dataset"]["name"] + "".join(f" {k}={v}" for k, v in options.items())
            summary = (f"{dataset}, x{key['scale']}, patch {key['patch_size']} stride {key['stride']}, "
                       f"rotations {key['rotations']}, guide C={key['guide_channels']}, "
                       f"{key['degradation']}" + (f", seed {key['seed']}" if key.get("seed") is not None else ""))
            table.add_row(path.name, str(attrs["count"]), f"{path.stat().st_size / 1e6:.1f}",
                          str(attrs.get("created", "")), summary)
        except (OSError, KeyError, ValueError) as error:
            table.add_row(path.name, "-", f"{path.stat().st_size / 1e6:.1f}", "-", f"unreadable: {error}")
    _console().print(table)
    return 0


def run(cfg: DictConfig) -> int:
    if cfg.command not in COMMANDS:
        raise ConfigError(f"unknown command {cfg.command!r}: use one of {', '.join(COMMANDS)}")
    return {"prepare": prepare, "verify": verify, "list": list_stores_command}[cfg.command](cfg)


def run_and_exit(cfg: DictConfig) -> None:
    """fetch the datasets, build and verify the training-patch stores."""
    status = run(cfg)
    if status:  # problems were reported: the exit status says so (Hydra drops return values)
        sys.exit(status)


_hydra_command = hydra_command("data", run_and_exit)


def main() -> None:
    """``jointsr-data COMMAND [overrides]``: the command may also be given as ``command=...``.

    Exit status: 0 when all is well, 1 when ``verify`` reported problems, 2 for a user error
    (one line on stderr)."""
    argv = sys.argv[1:]
    if argv and not argv[0].startswith("-") and "=" not in argv[0]:
        sys.argv = [sys.argv[0], f"command={argv[0]}", *argv[1:]]
    _hydra_command()
    sys.exit(0)


if __name__ == "__main__":
    main()
