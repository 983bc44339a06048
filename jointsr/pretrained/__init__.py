"""Pretrained weights shipped inside the package: the default recipe (``model=jointsr``,
``experiment=budget_protocol``) trained once per task, each a weights-only checkpoint of a
few tens of kilobytes with the test result it reached.

For every task ``<name>`` this folder holds

- ``<name>.ckpt``: the tested checkpoint of the training run, slimmed to what inference
  needs (the weights, the stored model config, the data record; no optimiser or loop
  state), read like any checkpoint of jointsr-train (tensors and plain values only);
- ``<name>.json``: the run's ``test_metrics.json`` (per-image and mean PSNR/SSIM, depth
  RMSE, bicubic beside it, parameter count, training steps and minutes) plus how it was
  made (``recipe``: the command; ``source``: the run folder, the tested checkpoint, the
  commit, the date);
- ``MODEL_CARD.md``: the table of every task, generated from the JSON files
  (:func:`card`), never written by hand.

``jointsr-eval pretrained=<name>`` and ``jointsr-predict pretrained=<name> ...`` use them
(:func:`checkpoint_path`). ``python -m jointsr.pretrained export ...`` makes a task's
files from a finished run, ``python -m jointsr.pretrained card`` rewrites the card
(``experiments/pretrained/run.sh`` does both after training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
CARD = FOLDER / "MODEL_CARD.md"


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


def metrics(name: str) -> dict:
    """The test document shipped with task ``name`` (``<name>.json``)."""
    import json

    return json.loads((FOLDER / f"{name}.json").read_text())


def this_machine() -> str:
    """The machine in words, for the card: CPU cores and the GPU when there is one."""
    import os

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core CPU, {gpu}"


def export(run_dir: str | Path, name: str, folder: str | Path = FOLDER, commit: str | None = None,
           machine: str | None = None) -> Path:
    """Make task ``name``'s files in ``folder`` from a finished jointsr-train run.

    The run's tested checkpoint (``training.tested`` in its ``test_metrics.json``) is
    slimmed to its weights, model config and data record, and checked to be the task's
    dataset and scale; the JSON is the run's test document with ``recipe`` and ``source``
    added (``machine``: where the run trained, by default this machine). Both files are
    written through temporary names, so a failure leaves the old ones.
    """
    import datetime
    import json

    import torch

    from jointsr.errors import CheckpointError, ConfigError, MissingFileError
    from jointsr.evaluation.results import write_json_atomic
    from jointsr.runs.checkpoint import load_checkpoint, stored_model_config
    from jointsr.runs.folder import RunDir

    if name not in TASKS:
        raise ConfigError(f"task {name!r} is not one of {', '.join(TASKS)}")
    task, run = TASKS[name], RunDir(Path(run_dir))
    if not run.test_metrics.is_file():
        raise MissingFileError(f"{run.test_metrics} not found: {run_dir} is not a finished training run "
                               f"(train with: {task.command})")
    document = json.loads(run.test_metrics.read_text())
    tested = (document.get("training") or {}).get("tested", "")  # "best: <file>" or "last: the final weights"
    checkpoint_file = run.checkpoints / tested[len("best: "):] if tested.startswith("best: ") \
        else run.last_checkpoint
    checkpoint = load_checkpoint(checkpoint_file)
    model_cfg = stored_model_config(checkpoint, checkpoint_file)
    record = (checkpoint.get("jointsr") or {}).get("data")
    if not isinstance(record, dict) or record.get("config") != task.data or int(record.get("scale", 0)) != task.scale:
        raise CheckpointError(f"{checkpoint_file} was trained on {record and record.get('config')} "
                              f"x{record and record.get('scale')}, not on data={task.data} x{task.scale} "
                              f"(task {name})")
    if document.get("scale") != task.scale:
        raise CheckpointError(f"{run.test_metrics} was tested at x{document.get('scale')}, not x{task.scale}")
    slim = {"state_dict": {key: value.contiguous() for key, value in checkpoint["state_dict"].items()},
            "jointsr": {"model_cfg": model_cfg, "name": checkpoint["jointsr"].get("name"), "data": record},
            "global_step": int(checkpoint.get("global_step", 0))}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.ckpt"
    partial = target.with_name(target.name + ".partial")
    torch.save(slim, partial)
    document["recipe"] = {"command": task.command, "task": task.what}
    document["source"] = {"run": Path(run_dir).name, "checkpoint": checkpoint_file.name, "commit": commit,
                          "machine": machine or this_machine(),
                          "exported": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    write_json_atomic(folder / f"{name}.json", document)
    partial.replace(target)
    return target


def _format(value, digits: int) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def card(folder: str | Path = FOLDER) -> str:
    """The model card (Markdown) of the tasks whose files are in ``folder``, from their JSON."""
    import json

    from jointsr.report.published import paper_result

    folder = Path(folder)
    lines = ["# Pretrained JointSR weights: model card", "",
             "Generated by `python -m jointsr.pretrained card` from the `<task>.json` files beside this",
             "card (each is the training run's `test_metrics.json`); do not edit by hand. Every task is",
             "the default recipe (`model=jointsr`: factorised, k=32, K=5, T=2, R=3, Adam 1e-3, 50-step",
             "warm-up, cosine to 1 % over the budget) trained by `experiment=budget_protocol`: the",
             "training split minus two held-out validation scenes, the best validation checkpoint",
             "tested on the whole test images (paper protocol: prediction clipped to [0, 1], PSNR on",
             "[0, 1], SSIM as published). Minutes are wall-clock training time on the machine named,",
             "nothing else running (the budget is the clock); steps are batches of 16 patches. The",
             "paper's column is its fully trained (GPU) proposed network on the same test images, for",
             "scale: these are 20 CPU minutes.", "",
             "| task | test set | scale | steps | minutes | params | PSNR (dB) | SSIM | bicubic PSNR | "
             "bicubic SSIM | gain (dB) | paper's Proposed PSNR | depth RMSE (whole / border crop) | trained on | command |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name in TASKS:
        path = folder / f"{name}.json"
        if not path.is_file():
            continue
        document = json.loads(path.read_text())
        mean, training = document["mean"], document.get("training") or {}
        bicubic = (document.get("bicubic") or {}).get("mean") or {}
        gain = mean["psnr"] - bicubic["psnr"] if "psnr" in bicubic else None
        paper = paper_result(TASKS[name].data, document["scale"], "jointsr_paper")
        depth = document.get("rmse")
        rmse = (f"{mean['rmse']:.2f} / {mean['rmse_crop']:.2f} ({depth['unit']}, crop {depth['border_crop']})"
                if depth else "–")
        lines.append(
            f"| `{name}` | {document['data']} ({len(document['per_image'])} images) | x{document['scale']} | "
            f"{training.get('steps', '–')} | {_format(training.get('minutes'), 1)} | {document.get('params', '–'):,} | "
            f"{_format(mean['psnr'], 2)} | {_format(mean['ssim'], 4)} | {_format(bicubic.get('psnr'), 2)} | "
            f"{_format(bicubic.get('ssim'), 4)} | {_format(gain, 2) if gain is None else f'{gain:+.2f}'} | "
            f"{_format(paper['mean']['psnr'], 2) if paper else '–'} | "
            f"{rmse} | {(document.get('source') or {}).get('machine', '–')} | "
            f"`{document['recipe']['command']}` |")
    lines += ["", "Provenance (run folder, tested checkpoint, commit, export date) is in each JSON's `source`.",
              "Use: `jointsr-predict pretrained=<task> target=LR.png guide=HR.png out=SR.png`, "
              "`jointsr-eval pretrained=<task>`.", ""]
    return "\n".join(lines)
