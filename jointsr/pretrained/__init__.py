"""Pretrained weights shipped inside the package: the default recipe (``model=jointsr``,
``experiment=budget_protocol``) trained once per task, each a weights-only checkpoint of a
few tens of kilobytes with the test result it reached.

For every task ``<name>`` this folder holds ``<name>.ckpt`` (the tested checkpoint of the
training run, slimmed to the weights, the stored model config and the data record, read like
any checkpoint of jointsr-train), ``<name>.json`` (the run's ``test_metrics.json`` and how it
was made) and ``MODEL_CARD.md``, the table of every task. ``experiments/pretrained/export.py``
makes the files from finished runs and writes the card.

``jointsr-eval pretrained=<name>`` and ``jointsr-predict pretrained=<name> ...`` use them
(:func:`checkpoint_path`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Task:
    """One pretrained task: the ``data=`` config and the scale it was trained and tested on."""

    name: str
    data: str
    scale: int
    what: str

    @property
    def command(self) -> str:
        """The training command of the task (the budget protocol's default recipe)."""
        return f"jointsr-train experiment=budget_protocol data={self.data} scale=x{self.scale}"


#: every task the paper reports (CAVE x4, x8; RGB-NIR x2, x4) and Middlebury depth x4, x8
TASKS = {task.name: task for task in (
    Task("cave_x4", "cave", 4, "CAVE 640 nm band, guided by RGB"),
    Task("cave_x8", "cave", 8, "CAVE 640 nm band, guided by RGB"),
    Task("nir_x2", "rgbnir", 2, "RGB-NIR near-infrared, guided by RGB"),
    Task("nir_x4", "rgbnir", 4, "RGB-NIR near-infrared, guided by RGB"),
    Task("middlebury_x4", "depth_middlebury", 4, "Middlebury 2005 disparity, guided by RGB"),
    Task("middlebury_x8", "depth_middlebury", 8, "Middlebury 2005 disparity, guided by RGB"),
)}


def shipped() -> list[str]:
    """The tasks whose weights this installation holds, in :data:`TASKS` order."""
    return [name for name in TASKS if (FOLDER / f"{name}.ckpt").is_file()]


def checkpoint_path(name) -> Path:
    """The shipped checkpoint of task ``name`` (``pretrained=<name>``), or a
    :class:`~jointsr.errors.ConfigError` listing the tasks there are."""
    from jointsr.errors import ConfigError

    available = shipped()
    listed = ", ".join(available) if available else "none are installed"
    if not isinstance(name, str) or name not in TASKS:
        missing = "" if available == list(TASKS) else f" (shipped here: {listed})"
        raise ConfigError(f"pretrained={name!r} is not a pretrained task: use one of {', '.join(TASKS)}{missing}")
    path = FOLDER / f"{name}.ckpt"
    if not path.is_file():
        raise ConfigError(f"pretrained={name}: its weights are not shipped in this installation "
                          f"({path} is missing); shipped: {listed}")
    return path


def resolve_checkpoint(cfg) -> str | None:
    """The checkpoint a command's config names: ``ckpt_path=`` or ``pretrained=`` (not both)."""
    from jointsr.errors import ConfigError

    name, ckpt_path = cfg.get("pretrained"), cfg.get("ckpt_path")
    if name in (None, ""):
        return ckpt_path
    if ckpt_path not in (None, ""):
        raise ConfigError(f"pretrained={name} and ckpt_path={ckpt_path}: give one of them")
    return str(checkpoint_path(name))
