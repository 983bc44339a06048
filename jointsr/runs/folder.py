"""The run folder: where every file of a run lies, said once.

One ``jointsr-train`` or ``jointsr-eval`` job writes only under its Hydra run directory
(``paths.output_dir``)::

    <run>/
      .hydra/config.yaml, overrides.yaml, hydra.yaml   the composed job (Hydra writes them)
      config_fingerprint.json                          its configuration (jointsr.runs.guard)
      csv/metrics.csv, csv/hparams.yaml                the CSV logger (jointsr.training.loggers.RunLogger)
      csv/grids/epochEEEE_stepSSSSSSS.png              validation grids (bicubic | prediction | truth | error)
      tensorboard/events.out.tfevents.*, hparams.yaml  TensorBoard's logs (``logger=tensorboard`` or ``local``)
      checkpoints/last.ckpt                            the state to resume from (LastCheckpoint)
      checkpoints/stepSSSSSSS-psnrPP.PPP.ckpt          the best checkpoint on ``monitor``
      curve/minutesMMMM.MM-stepSSSSSSS.ckpt            timed weights (train, ``callbacks=curve``)
      curve/<checkpoint>.json, test_curve.csv          their test metrics (eval, ``curve_dir=``)
      test_metrics.json                                the test of the run (train or eval)
      .run.lock                                        its owner while it runs (jointsr.runs.lock)

Every module that writes or reads one of these asks :class:`RunDir` for its path. (The config
groups that place callbacks' and loggers' files, ``conf/callbacks`` and ``conf/logger``, name
the same folders: ``tests/utils/test_rundir.py`` holds them to it.)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: the CSV logger's folder (``save_dir=<run>``, ``name=csv``, ``version=""``)
CSV = "csv"
#: the TensorBoard logger's folder (``save_dir=<run>``, ``name=tensorboard``, ``version=""``)
TENSORBOARD = "tensorboard"
#: the checkpoint callbacks' folder
CHECKPOINTS = "checkpoints"
#: the file :class:`~jointsr.training.callbacks.LastCheckpoint` keeps up to date
LAST_CHECKPOINT = "last.ckpt"
#: timed checkpoints (train, ``callbacks=curve``) and their test metrics (eval, ``curve_dir=``)
CURVE = "curve"

_TIMED = re.compile(r"minutes(\d+\.\d+)-step(\d+)\.ckpt")


@dataclass(frozen=True)
class RunDir:
    """The folder of one run and the path of everything in it (nothing is created here)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(os.fspath(self.root)).expanduser())

    @classmethod
    def of(cls, cfg) -> RunDir:
        """The run folder of a composed config (``paths.output_dir``, Hydra's run directory)."""
        return cls(cfg.paths.output_dir)

    # -- what Hydra records -------------------------------------------------------------
    @property
    def hydra(self) -> Path:
        return self.root / ".hydra"

    @property
    def config(self) -> Path:
        """The composed config (Hydra rewrites it whenever the job is launched again)."""
        return self.hydra / "config.yaml"

    @property
    def overrides(self) -> Path:
        return self.hydra / "overrides.yaml"

    @property
    def hydra_runtime(self) -> Path:
        """Hydra's own config: the choices of the config groups, the job's number in its sweep."""
        return self.hydra / "hydra.yaml"

    @property
    def fingerprint(self) -> Path:
        """The configuration's fingerprint (:mod:`jointsr.runs.guard`)."""
        return self.root / "config_fingerprint.json"

    # -- the CSV logger ------------------------------------------------------------------
    @property
    def csv(self) -> Path:
        return self.root / CSV

    @property
    def metrics_csv(self) -> Path:
        """One row per logged step: losses, rates, validation and test metrics."""
        return self.csv / "metrics.csv"

    @property
    def logged_config(self) -> Path:
        """The resolved config jointsr-train logged (``cfg`` in the CSV logger's hparams)."""
        return self.csv / "hparams.yaml"

    @property
    def grids(self) -> Path:
        return self.csv / "grids"

    def grid(self, epoch: int, step: int) -> Path:
        """The validation grid of ``epoch`` at ``step`` (names sort by time)."""
        return self.grids / f"epoch{epoch:04d}_step{step:07d}.png"

    def grid_images(self) -> list[Path]:
        return sorted(self.grids.glob("*.png"))

    # -- the TensorBoard logger ----------------------------------------------------------
    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD

    def event_files(self) -> list[Path]:
        """TensorBoard's event files (one per process that logged into the run), in order."""
        return sorted(self.tensorboard.glob("events.out.tfevents.*"))

    # -- checkpoints ---------------------------------------------------------------------
    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS

    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST_CHECKPOINT

    def best_checkpoints(self) -> list[Path]:
        """The checkpoints kept for their ``monitor`` value (every file but ``last.ckpt``)."""
        return sorted(path for path in self.checkpoints.glob("*.ckpt") if path.name != LAST_CHECKPOINT)

    @property
    def curve(self) -> Path:
        """Timed checkpoints (a training run with ``callbacks=curve``), or the test metrics of
        each (a ``jointsr-eval curve_dir=`` run)."""
        return self.root / CURVE

    def timed_checkpoints(self) -> list[tuple[float, int, Path]]:
        """``(minutes, step, path)`` of the timed checkpoints under :attr:`curve`, in order."""
        return timed_checkpoints(self.curve)

    def curve_result(self, checkpoint: str | os.PathLike) -> Path:
        """Where an eval run writes the test metrics of one timed checkpoint."""
        return self.curve / f"{Path(checkpoint).stem}.json"

    # -- results -------------------------------------------------------------------------
    @property
    def test_metrics(self) -> Path:
        """The test of the run: per-image metrics, their mean, the training budget."""
        return self.root / "test_metrics.json"

    @property
    def test_curve(self) -> Path:
        """Mean test metrics per timed checkpoint (an eval run with ``curve_dir=``)."""
        return self.root / "test_curve.csv"

    @property
    def lock(self) -> Path:
        """The lock file of the process that writes the run (:mod:`jointsr.runs.lock`)."""
        return self.root / ".run.lock"

    def where(self, best: str | os.PathLike | None = None) -> list[str]:
        """What a finished run leaves for its user, one line each, files that exist only:
        checkpoints, metrics, the test, dashboards, and the command that reports it."""
        rows = [("checkpoint", [best, self.last_checkpoint]), ("metrics", [self.metrics_csv]),
                ("test", [self.test_metrics]), ("grids", [self.grids]), ("tensorboard", [self.tensorboard])]
        lines = [f"run folder: {self.root}"]
        for label, paths in rows:
            found = [Path(path) for path in paths if path is not None and Path(path).exists()]
            if found:
                lines.append(f"  {label + ':':<12} " + ", ".join(str(_relative(path, self.root)) for path in found))
        if self.test_metrics.is_file():
            lines.append(f"  {'report:':<12} jointsr-report {self.root}")
        return lines

    # -- finding runs --------------------------------------------------------------------
    def is_run(self) -> bool:
        """True for a folder a run wrote: a test result or curve, or Hydra's record of a job."""
        return self.test_metrics.is_file() or self.test_curve.is_file() or self.config.is_file()

    @classmethod
    def find(cls, roots: Iterable[str | os.PathLike]) -> list[RunDir]:
        """Every run folder under ``roots`` (themselves included), each once, resolved, sorted.
        A root that is not a folder raises FileNotFoundError."""
        found: set[Path] = set()
        for root in roots:
            root = Path(root).expanduser()
            if not root.is_dir():
                raise FileNotFoundError(f"not a run or sweep directory: {root}")
            probe = cls(root)
            for result in (probe.test_metrics.name, probe.test_curve.name):
                found |= {path.parent for path in root.rglob(result)}
            found |= {path.parent.parent for path in root.rglob(probe.config.name)
                      if path.parent.name == probe.hydra.name}
        return [cls(path) for path in sorted({path.resolve() for path in found}, key=str)]

    @classmethod
    def holding(cls, checkpoint: str | os.PathLike) -> RunDir | None:
        """The training run a checkpoint lies in (its ``checkpoints/`` or ``curve/``), else None."""
        path = Path(checkpoint).expanduser()
        return cls(path.parent.parent) if path.parent.name in (CHECKPOINTS, CURVE) else None


def timed_checkpoint_name(minutes: float, step: int) -> str:
    """``minutesMMMM.MM-stepSSSSSSS.ckpt``: a timed checkpoint's name (minutes of training, step)."""
    return f"minutes{minutes:07.2f}-step{step:07d}.ckpt"


def parse_timed_checkpoint(name: str) -> tuple[float, int] | None:
    """``(minutes, step)`` from a :func:`timed_checkpoint_name`, else None."""
    match = _TIMED.fullmatch(name)
    return (float(match.group(1)), int(match.group(2))) if match else None


def timed_checkpoints(folder: str | os.PathLike) -> list[tuple[float, int, Path]]:
    """``(minutes, step, path)`` of every timed checkpoint in ``folder`` (none when absent), in order."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return []
    found = [(*parsed, path) for path in folder.glob("*.ckpt") if (parsed := parse_timed_checkpoint(path.name))]
    return sorted(found)


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path
