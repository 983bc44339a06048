"""Reading run folders: what each run of ``jointsr-train`` / ``jointsr-eval`` left behind.

A *run* is a directory holding ``test_metrics.json`` (a finished run) or ``.hydra/`` without
it (failed, killed or still running: listed, never dropped); where each file lies in it is
:class:`~jointsr.runs.folder.RunDir`'s. A run whose files cannot be read
is kept too, with the reason (``Run.error``).
"""

from __future__ import annotations

import csv
import functools
import itertools
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml
from hydra.errors import InstantiationException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from jointsr.evaluation.results import METRICS
from jointsr.runs.folder import RunDir

log = logging.getLogger("jointsr")

#: what a file that cannot be read raises (malformed YAML/JSON, missing keys, permissions)
UNREADABLE = (OSError, ValueError, KeyError, TypeError, yaml.YAMLError, OmegaConfBaseException)

_PARAM_CACHE: dict[str, int | None] = {}


@dataclass
class Run:
    """One run directory and what it left behind."""

    path: Path
    config: DictConfig | None = None
    overrides: list[str] = field(default_factory=list)
    choices: dict = field(default_factory=dict)
    document: dict | None = None          # test_metrics.json
    curve: list[dict] = field(default_factory=list)  # {"step", "minutes", "psnr"} per validation
    test_curve: list[dict] = field(default_factory=list)  # {"minutes", "step", "psnr"} per timed checkpoint
    grid: Path | None = None
    params: int | None = None             # what test_metrics.json records, else counted from the config
    error: str | None = None              # why the folder could not be read
    job: int | None = None                # hydra.job.num: the job's place in its sweep
    budget: dict | None = None            # {"steps", "minutes"} of training behind the tested weights

    @property
    def finished(self) -> bool:
        return self.error is None and bool(self.document and self.document.get("per_image"))

    @property
    def model(self) -> str:
        if self.document:
            return str(self.document["model"])
        return str(self.select("model.name") or self.choices.get("model") or "?")

    @property
    def data(self) -> str:
        if self.document:
            return str(self.document["data"])
        return str(self.choices.get("data") or "?")

    @property
    def scale(self) -> int | None:
        if self.document:
            return int(self.document["scale"])
        value = self.select("scale")
        return None if value is None else int(value)

    @property
    def seed(self) -> str | None:
        """The seed it ran with: its ``seed=`` override, else its config's ``seed``."""
        overridden = self.overridden.get("seed")
        if overridden is not None:
            return overridden
        value = self.select("seed")
        return None if value is None else format_value(value)

    @property
    def full_protocol(self) -> bool:
        """False when the test used a subset or crops of the test images (quick runs)."""
        if self.config is None:
            return True
        return self.select("data.test_crop") is None and self.select("data.max_test_images") is None \
            and not self.select("trainer.fast_dev_run")

    def select(self, key: str):
        """A config value, None when absent or not resolvable outside Hydra."""
        if self.config is None:
            return None
        try:
            return OmegaConf.select(self.config, key, default=None, throw_on_resolution_failure=False)
        except OmegaConfBaseException:  # e.g. a key path through a list
            return None

    @functools.cached_property
    def overridden(self) -> dict[str, str]:
        """``key -> value`` of its Hydra overrides, values as plain text (no escapes or quotes)."""
        try:
            return parse_overrides(self.overrides)
        except OverrideParseException:
            return {}

    def status(self) -> str:
        if self.error is not None:
            return f"unreadable: {self.error}"
        if self.finished:
            return "finished"
        if self.document is not None:
            return "test_metrics.json holds no images"
        if self.config is not None and self.select("test") is False:
            return "fit only (test=false): no test_metrics.json"
        last = f"; last validation at step {self.curve[-1]['step']} (val/psnr {self.curve[-1]['psnr']:.2f})" \
            if self.curve else ""
        last_checkpoint = RunDir(self.path).last_checkpoint
        ckpt = f"; {last_checkpoint.relative_to(self.path)} present" if last_checkpoint.is_file() else ""
        return f"unfinished: no test_metrics.json{last}{ckpt}"


# ---------------------------------------------------------------------------- overrides
def format_value(value) -> str:
    """A config or override value as a label shows it: ``2``, ``0.0001``, ``true``, ``[1,2]``;
    floats with at most 4 significant digits (an Optuna trial's 0.0007580393296846865)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.4g}"
    if isinstance(value, (list, tuple)) or OmegaConf.is_list(value):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict) or OmegaConf.is_dict(value):
        return "{" + ",".join(f"{k}:{format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def parse_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """``key -> value`` of Hydra overrides as typed (``+``/``++`` dropped, a deletion ``~key``
    as ``deleted``), values parsed by Hydra's grammar so escapes and quotes are gone."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    items: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        if override.is_delete():
            items[override.key_or_group] = "deleted"
        elif override.is_sweep_override():
            items[override.key_or_group] = ",".join(override.sweep_string_iterator())
        else:
            items[override.key_or_group] = format_value(override.value())
    return items


def _override_items(overrides: Iterable[str]) -> dict[str, list[str]]:
    """``key -> values`` of Hydra overrides as written (a sweep ``a=1,2`` gives two values)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    items: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.get_key_element()
        items[key] = [str(v) for v in override.sweep_string_iterator()] if override.is_sweep_override() \
            else [override.get_value_element_as_str()]
    return items


# ---------------------------------------------------------------------------- collecting
def find_runs(roots: Iterable[str | Path]) -> list[Run]:
    """Every run under ``roots`` (themselves included), each read once; a folder that cannot
    be read is a run with ``error`` set. A ``jointsr-eval curve_dir=`` run is not a run of its
    own: its ``test_curve.csv`` becomes the ``test_curve`` of the training run it tested
    (:func:`attach_test_curves`)."""
    found: dict[Path, Run] = {}
    evaluations: list[tuple[RunDir, Path]] = []
    for folder in RunDir.find(roots):
        try:
            trained = curve_owner(folder)
            if trained is not None and trained != folder.root:
                evaluations.append((folder, trained))
                continue
            found[folder.root] = read_run(folder.root)
        except UNREADABLE as error:
            found[folder.root] = Run(path=folder.root, error=f"{type(error).__name__}: {error}".replace("\n", " "))
    attach_test_curves(found, evaluations)
    return sorted(found.values(), key=lambda run: str(run.path))


def curve_owner(folder: RunDir) -> Path | None:
    """The training run whose timed checkpoints ``folder``'s ``test_curve.csv`` tested (the
    folder of the first one's path), or None when the folder holds no such table or is a
    training run itself (an older jointsr-eval wrote the table there; the folder may have
    been moved since, so the recorded paths need not be its own)."""
    if not folder.test_curve.is_file() or folder.test_metrics.is_file() or folder.metrics_csv.is_file() \
            or folder.checkpoints.is_dir() or folder.timed_checkpoints():
        return None
    with folder.test_curve.open(newline="") as stream:
        first = next(csv.DictReader(stream), None)
    owner = RunDir.holding(first["checkpoint"]) if first and first.get("checkpoint") else None
    return None if owner is None else owner.root.resolve()


def attach_test_curves(runs: dict[Path, Run], evaluations: list[tuple[RunDir, Path]]) -> None:
    """Give each training run the ``test_curve.csv`` of the latest eval run that tested its
    timed checkpoints (over one an older jointsr-eval wrote into the training run itself).
    The training run is the one at the recorded path, else the only one found whose last two
    folder names match it (a run folder copied elsewhere); a table whose run is not among
    ``runs`` is reported in the log."""
    latest: dict[Path, RunDir] = {}
    for folder, trained in evaluations:
        target = trained if trained in runs else _same_tail(trained, runs)
        if target is None:
            log.warning("%s tested the timed checkpoints of %s, which is not among the runs: pass that run's "
                        "folder too to see its test curve", folder.test_curve, trained)
            continue
        if target not in latest or folder.test_curve.stat().st_mtime > latest[target].test_curve.stat().st_mtime:
            latest[target] = folder
    for target, folder in latest.items():
        runs[target].test_curve = read_test_curve(folder.test_curve)


def _same_tail(path: Path, runs: dict[Path, Run]) -> Path | None:
    matches = [run for run in runs if run.parts[-2:] == path.parts[-2:]]
    return matches[0] if len(matches) == 1 else None


def read_run(path: Path) -> Run:
    """Everything a run folder holds; raises one of ``UNREADABLE`` for a malformed file."""
    run = Run(path=path)
    folder = RunDir(path)
    run.config = _trained_config(folder.logged_config)
    if run.config is None and folder.config.is_file():
        run.config = OmegaConf.load(folder.config)
    if folder.overrides.is_file():
        run.overrides = [str(o) for o in OmegaConf.load(folder.overrides)]
    if folder.hydra_runtime.is_file():
        runtime = OmegaConf.load(folder.hydra_runtime)
        choices = OmegaConf.select(runtime, "hydra.runtime.choices", default=None)
        run.choices = OmegaConf.to_container(choices) if choices is not None else {}
        job = OmegaConf.select(runtime, "hydra.job.num", default=None)
        run.job = int(job) if isinstance(job, int) and not isinstance(job, bool) else None
    if folder.test_metrics.is_file():
        run.document = _checked_document(json.loads(folder.test_metrics.read_text()), folder.test_metrics)
        if run.document.get("params") is not None:  # the run's own count, where its document records one
            run.params = int(run.document["params"])
    run.curve = read_curve(folder.metrics_csv)
    run.budget = read_budget(run.document, folder.metrics_csv)
    run.test_curve = read_test_curve(folder.test_curve)  # written here by jointsr-eval before it kept to its own folder
    grids = folder.grid_images()
    run.grid = grids[-1] if grids else None
    return run


def _checked_document(document: dict, source: Path) -> dict:
    """``test_metrics.json`` as jointsr writes it, else a ValueError naming what is missing."""
    if not isinstance(document, dict):
        raise ValueError(f"{source.name} is not a JSON object")
    missing = [key for key in ("model", "data", "scale", "per_image", "mean") if key not in document]
    if missing:
        raise ValueError(f"{source.name} lacks {', '.join(missing)}")
    for row in document["per_image"]:
        absent = [key for key in ("name", *METRICS) if key not in row]
        if absent:
            raise ValueError(f"{source.name}: an image row lacks {', '.join(absent)}")
    return document


def _trained_config(hparams_yaml: Path) -> DictConfig | None:
    """The resolved config the run trained with, as jointsr-train logged it (``cfg`` in the CSV
    logger's hparams.yaml). Preferred to ``.hydra/config.yaml``, which Hydra rewrites whenever
    the job is launched again, e.g. when a resumed sweep skips it."""
    if not hparams_yaml.is_file():
        return None
    try:
        logged = OmegaConf.load(hparams_yaml)
    except yaml.YAMLError:  # not plain YAML (a tag OmegaConf cannot load): use .hydra/config.yaml
        return None
    cfg = logged.get("cfg") if isinstance(logged, DictConfig) else None
    return cfg if isinstance(cfg, DictConfig) else None


def read_curve(metrics_csv: Path) -> list[dict]:
    """val/psnr per validation (step, and val/minutes when the StepTimer logged it)."""
    if not metrics_csv.is_file():
        return []
    by_step: dict[int, dict] = defaultdict(dict)
    with metrics_csv.open(newline="") as stream:
        for row in csv.DictReader(stream):
            for key, name in (("val/psnr", "psnr"), ("val/minutes", "minutes")):
                if row.get(key):
                    by_step[int(row["step"])][name] = float(row[key])
    return [{"step": step, "minutes": values.get("minutes"), "psnr": values["psnr"]}
            for step, values in sorted(by_step.items()) if "psnr" in values]


def read_budget(document: dict | None, metrics_csv: Path) -> dict | None:
    """The training budget of a run: ``training`` of its ``test_metrics.json`` (steps and
    minutes when the test began, and the step of the tested weights), else the last step and minutes its ``metrics.csv`` logged
    (runs written before the document recorded it); None when neither says (no training)."""
    training = (document or {}).get("training")
    if isinstance(training, dict) and training.get("steps") is not None:
        minutes, tested = training.get("minutes"), training.get("tested_step")
        return {"steps": int(training["steps"]), "minutes": None if minutes is None else float(minutes),
                "tested_step": None if tested is None else int(tested)}
    if not metrics_csv.is_file():
        return None
    steps, minutes = None, None
    with metrics_csv.open(newline="") as stream:
        for row in csv.DictReader(stream):
            if row.get("train/loss") and row.get("step"):
                steps = max(steps or 0, int(row["step"]) + 1)  # logged before the step counter moves on
            for key in ("train/minutes", "val/minutes"):
                if row.get(key):
                    minutes = max(minutes or 0.0, float(row[key]))
    return None if steps is None else {"steps": steps, "minutes": minutes}


def read_test_curve(table: Path) -> list[dict]:
    """Mean test PSNR of the timed checkpoints (the ``test_curve.csv`` of ``jointsr-eval
    curve_dir=<run>/curve``)."""
    if not table.is_file():
        return []
    with table.open(newline="") as stream:
        return [{"minutes": float(row["minutes"]), "step": int(row["step"]), "psnr": float(row["psnr"])}
                for row in csv.DictReader(stream)]


def count_parameters(run: Run) -> int | None:
    """Parameters of the run's network, built from its ``model.net`` config (cached)."""
    net_cfg = run.select("model.net")
    if net_cfg is None:
        return None
    try:
        resolved = OmegaConf.to_container(net_cfg, resolve=True)
    except OmegaConfBaseException as error:
        log.warning("%s: cannot resolve model.net (%s): parameters unknown", run.path, error)
        return None
    key = json.dumps(resolved, sort_keys=True, default=str)
    if key not in _PARAM_CACHE:
        import hydra
        import torch

        try:
            with torch.device("meta"):  # shapes only: no memory, no initialisation cost
                net = hydra.utils.instantiate(resolved)
            _PARAM_CACHE[key] = int(sum(p.numel() for p in net.parameters()))
        except (InstantiationException, RuntimeError, NotImplementedError):
            try:  # a constructor that computes on its weights needs real tensors
                net = hydra.utils.instantiate(resolved)
                _PARAM_CACHE[key] = int(sum(p.numel() for p in net.parameters()))
            except (InstantiationException, RuntimeError, NotImplementedError) as error:
                log.warning("%s: cannot build model.net (%s): parameters unknown", run.path, error)
                _PARAM_CACHE[key] = None
    return _PARAM_CACHE[key]


def not_started(sweep_dir: Path, runs: list[Run]) -> list[str]:
    """The jobs a sweep's ``multirun.yaml`` asked for that left no folder (a sweep killed
    before reaching them), each as its overrides ``a=1,b=2``."""
    launched = OmegaConf.load(sweep_dir / "multirun.yaml")
    task = OmegaConf.select(launched, "hydra.overrides.task", default=None) or []
    params = OmegaConf.select(launched, "hydra.sweeper.params", default=None) or {}
    try:  # the sweeper's grid first, the command line wins for a key in both (as BasicSweeper)
        grid = {**_override_items(f"{key}={value}" for key, value in params.items()), **_override_items(task)}
    except OverrideParseException as error:
        log.warning("%s: cannot expand the sweep (%s); jobs that never started are not listed", sweep_dir, error)
        return []
    seen = []
    for run in runs:
        if sweep_dir.resolve() in run.path.resolve().parents and run.overrides:
            try:
                seen.append({key: values[0] for key, values in _override_items(run.overrides).items()})
            except OverrideParseException:
                continue
    keys = sorted(grid)
    missing = []
    for values in itertools.product(*(grid[key] for key in keys)):
        job = dict(zip(keys, values))
        if job not in seen:
            missing.append(",".join(f"{key}={value}" for key, value in job.items()))
    return missing
