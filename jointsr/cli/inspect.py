"""``jointsr-inspect``: figures and a JSON summary of what a trained network's sparse codes do.

One checkpoint (``ckpt_path=``), one input (``target=LR guide=RGB``, ``simulate=HR guide=RGB`` or
``data=<dataset> image=<name>``), and into the run folder: the PNG figures of
:mod:`jointsr.inspection.figures`, ``inspect_summary.json`` and ``steps_psnr.csv``; with
``wandb.enabled=true`` the same figures and numbers in a wandb run (offline unless
``WANDB_MODE`` says otherwise). Everything the user gives is checked before the network runs;
a user error is one line and exit status 2 (:mod:`jointsr.errors`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from jointsr.cli.command import hydra_command
from jointsr.data.io import read_image
from jointsr.errors import (
    ConfigError,
    InputError,
    MissingFileError,
    check_writable_folder,
)
from jointsr.files import write_csv_atomic, write_json_atomic
from jointsr.inference.inputs import prepare_inputs, select_device, set_threads, simulate_target
from jointsr.inspection.analysis import Inspection, analyse
from jointsr.inspection.figures import write_figures
from jointsr.inspection.trace import check_inspectable, trace_network
from jointsr.runs.folder import RunDir
from jointsr.training.build import load_checkpoint_model

log = logging.getLogger("jointsr")

USAGE = ("jointsr-inspect ckpt_path=<checkpoint> and one input: target=<LR image> guide=<HR guide>, "
         "simulate=<HR target> guide=<HR guide>, or data=<dataset> image=<name>")
SUMMARY = "inspect_summary.json"


@dataclass
class Inputs:
    """One image pair on the network's grids, with what it came from."""

    name: str
    lr_target: torch.Tensor             # (1, 1, h, w)
    hr_guide: torch.Tensor              # (1, C, s h, s w)
    truth: torch.Tensor | None          # (1, 1, s h, s w)
    display_guide: np.ndarray           # (s h, s w) or (s h, s w, 3): the guide as the user sees it
    source: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- inputs
def input_mode(cfg: DictConfig) -> str:
    """``target``, ``simulate`` or ``image``: the one input the config names (else a ConfigError)."""
    given = [key for key in ("target", "simulate", "image") if cfg.get(key) not in (None, "")]
    if len(given) != 1:
        found = "none" if not given else " and ".join(f"{key}=" for key in given)
        raise ConfigError(f"give exactly one input ({found} given): {USAGE}")
    mode = given[0]
    if mode in ("target", "simulate") and cfg.get("guide") in (None, ""):
        raise ConfigError(f"{mode}= needs guide=<HR guide image>: {USAGE}")
    if mode == "image":
        if cfg.get("data") is None:
            raise ConfigError(f"image={cfg.image} needs data=<dataset> (cave, rgbnir, depth_middlebury, ...): "
                              f"{USAGE}")
        if cfg.get("guide") not in (None, ""):
            raise ConfigError("image= takes the dataset's own guide: leave out guide=")
    return mode


def _display(guide: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.clip(guide[:height, :width], 0.0, 1.0)


def load_inputs(cfg: DictConfig, scale: int, guide_channels: int) -> Inputs:
    """The image pair (and truth, where there is one) that ``cfg`` names, on the network's grids."""
    mode = input_mode(cfg)
    if mode == "image":
        return _dataset_inputs(cfg, scale, guide_channels)
    guide_path = str(Path(cfg.guide).expanduser())
    guide = read_image(guide_path)
    if mode == "target":
        target_path = str(Path(cfg.target).expanduser())
        lr_target, hr_guide, pair = prepare_inputs(read_image(target_path), guide, scale, guide_channels,
                                                   target_path, guide_path)
        return Inputs(Path(target_path).stem, lr_target, hr_guide, None,
                      _display(pair.guide_on_grid(guide), *pair.grid_size),
                      {"mode": "target", "target": target_path, "guide": guide_path, "geometry": pair.mode})
    hr_path = str(Path(cfg.simulate).expanduser())
    lr, hr = simulate_target(read_image(hr_path), scale, hr_path)  # grey, modcropped, MATLAB bicubic
    guide = guide[:guide.shape[0] // scale * scale, :guide.shape[1] // scale * scale]
    if guide.shape[:2] != hr.shape:
        raise InputError(f"{guide_path} is {guide.shape[1]}x{guide.shape[0]} (WxH) but the HR target {hr_path} is "
                         f"{hr.shape[1]}x{hr.shape[0]} (after cropping both to a multiple of x{scale}): the guide "
                         f"must be the HR target's size")
    lr_target, hr_guide, _ = prepare_inputs(lr, guide, scale, guide_channels, hr_path, guide_path)
    truth = torch.from_numpy(np.ascontiguousarray(hr, dtype=np.float32))[None, None]
    return Inputs(Path(hr_path).stem, lr_target, hr_guide, truth, _display(guide, *hr.shape),
                  {"mode": "simulate", "hr": hr_path, "guide": guide_path, "degradation": "bicubic"})


def _dataset_inputs(cfg: DictConfig, scale: int, guide_channels: int) -> Inputs:
    from jointsr.data.scenes import load_scene

    dataset = hydra.utils.instantiate(cfg.data.dataset)
    name = str(cfg.image)
    if name not in dataset.all_names():
        raise ConfigError(f"image={name} is not an image of {dataset.name}; its test images: "
                          f"{', '.join(dataset.names('test'))}")
    missing = dataset.missing([name])
    if missing:
        raise MissingFileError(f"{dataset.name}/{name}: {missing[0]} not found; set JOINTSR_DATA_DIR (or "
                               f"paths.data_dir=...) to the folder that holds '{dataset.root.name}/'")
    degradation = hydra.utils.instantiate(cfg.data.degradation)
    scene = load_scene(dataset, name, scale, degradation, guide_channels, seed=int(cfg.seed))
    height, width = scene.hr.shape[-2:]
    rgb = dataset.load(name)[1][:height, :width]  # modcropped as the scene
    split = next((split for split, names in dataset.splits.items() if name in names), None)
    if split != "test":
        log.warning("%s/%s is a %s image: the network may have been trained on it", dataset.name, name, split)
    return Inputs(name.replace("/", "_"), torch.from_numpy(scene.lr)[None], torch.from_numpy(scene.guide)[None],
                  torch.from_numpy(scene.hr)[None], rgb,
                  {"mode": "image", "dataset": dataset.name, "image": name, "split": split,
                   "degradation": degradation.key})


def crop_inputs(inputs: Inputs, size: int | None, origin, scale: int) -> Inputs:
    """An HR ``size`` x ``size`` crop (a multiple of the scale) at ``origin`` ([top, left] in HR
    pixels, rounded down to the scale; ``None``: centred), clipped to the image."""
    if size is None:
        return inputs
    if isinstance(size, bool) or not isinstance(size, int) or size < scale or size % scale:
        raise ConfigError(f"crop={size!r} must be a positive multiple of the scale x{scale} (HR pixels), or null")
    height, width = inputs.hr_guide.shape[-2:]
    size_h, size_w = min(size, height), min(size, width)
    if origin is None:
        top, left = (height - size_h) // 2, (width - size_w) // 2
    else:
        if len(origin) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in origin):
            raise ConfigError(f"crop_origin={list(origin)} must be [top, left] in HR pixels (integers >= 0)")
        top, left = min(origin[0], height - size_h), min(origin[1], width - size_w)
    top, left = top // scale * scale, left // scale * scale
    rows, cols = slice(top, top + size_h), slice(left, left + size_w)
    lr_rows, lr_cols = slice(top // scale, (top + size_h) // scale), slice(left // scale, (left + size_w) // scale)
    return Inputs(inputs.name, inputs.lr_target[..., lr_rows, lr_cols], inputs.hr_guide[..., rows, cols],
                  None if inputs.truth is None else inputs.truth[..., rows, cols],
                  inputs.display_guide[rows, cols], {**inputs.source, "crop": [top, left, size_h, size_w]})


# --------------------------------------------------------------------------- outputs
def format_summary(inspection: Inspection) -> str:
    """The console summary: PSNR per step, density per state and step, coupling per LeSITA step."""
    lines = []
    if inspection.bicubic_psnr is not None:
        lines.append(f"{'step':<12}{'PSNR (dB)':>10}")
        lines.append(f"{'bicubic':<12}{inspection.bicubic_psnr:>10.2f}")
        lines += [f"{r.label:<12}{r.psnr:>10.2f}" for r in inspection.reconstructions]
    for name, steps in inspection.states.items():
        lines.append(f"{name:<8} density " + " ".join(f"{s.label}={s.density:.0%}" for s in steps))
    for regime in inspection.regimes:
        f = regime.fractions
        lines.append(f"{regime.label:<10} zero {f['zero']:.0%}  shrink {f['shrink']:.0%}  pass {f['pass']:.0%}  "
                     f"clamp {f['clamp']:.0%}  (coupled {regime.coupled_share:.0%} of non-zero)")
    return "\n".join(lines)


def _flat_numbers(node, prefix: str = "") -> dict[str, float]:
    """The summary's scalar numbers as ``a/b/c`` keys (lists of dicts keyed by their ``step``/``layer``)."""
    found: dict[str, float] = {}
    if isinstance(node, dict):
        for key, value in node.items():
            found.update(_flat_numbers(value, f"{prefix}{key}/"))
    elif isinstance(node, list) and all(isinstance(item, dict) for item in node):
        for index, item in enumerate(node):
            name = str(item.get("step", item.get("layer", index)))
            found.update(_flat_numbers({k: v for k, v in item.items() if k not in ("step", "layer")},
                                       f"{prefix}{name}/"))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        found[prefix.rstrip("/")] = float(node)
    return found


def log_to_wandb(cfg: DictConfig, figures: dict[str, Path], summary: dict, name: str) -> None:
    """The figures and the summary's numbers in a new wandb run in this run folder."""
    import wandb

    run = wandb.init(project=cfg.wandb.project, dir=str(cfg.paths.output_dir), mode=cfg.wandb.mode,
                     job_type="inspect", name=name, group=summary.get("training_run"),
                     config={"ckpt_path": summary["checkpoint"], "input": summary["input"]}, reinit=True)
    try:
        run.log({f"inspect/{key}": wandb.Image(str(path)) for key, path in figures.items()})
        run.summary.update({f"inspect/{k}": v for k, v in _flat_numbers(
            {key: summary[key] for key in ("psnr", "states", "coupling", "distance")}).items()})
    finally:
        run.finish()


def inspect_checkpoint(cfg: DictConfig) -> dict:
    """Inspect one checkpoint on one input; returns the summary written to ``inspect_summary.json``."""
    if cfg.get("pretrained") not in (None, ""):
        raise ConfigError(f"pretrained={cfg.pretrained}: no pretrained weights are shipped yet; pass "
                          f"ckpt_path=<a checkpoint of jointsr-train>")
    if cfg.get("ckpt_path") in (None, ""):
        raise ConfigError(f"no ckpt_path= given: {USAGE}")
    input_mode(cfg)
    output = check_writable_folder(cfg.paths.output_dir, "the run folder", "hydra.run.dir=... (or paths.log_dir=...)")
    device = select_device(cfg.device)
    set_threads()
    model = load_checkpoint_model(cfg.ckpt_path)
    net = model.net.eval()
    check_inspectable(net, model.name)
    inputs = crop_inputs(load_inputs(cfg, net.scale, net.guide_channels), cfg.get("crop"),
                         cfg.get("crop_origin"), net.scale)
    start = time.perf_counter()
    log.info("inspecting %s (%s) on %s: LR %dx%d -> HR %dx%d", model.name, cfg.ckpt_path, inputs.name,
             inputs.lr_target.shape[-1], inputs.lr_target.shape[-2], inputs.hr_guide.shape[-1],
             inputs.hr_guide.shape[-2])
    net = net.to(device)
    trace = trace_network(net, inputs.lr_target.to(device), inputs.hr_guide.to(device), model.name)
    inspection = analyse(trace, inputs.lr_target.to(device), inputs.hr_guide.to(device),
                         None if inputs.truth is None else inputs.truth.to(device), model=model.name,
                         display_guide=inputs.display_guide, window=int(cfg.agreement.window),
                         flat=float(cfg.agreement.flat))
    del trace
    figures = write_figures(inspection, output, dpi=int(cfg.dpi))
    ckpt = Path(cfg.ckpt_path).expanduser()
    summary = {"checkpoint": str(ckpt),
               "training_run": trained.root.name if (trained := RunDir.holding(ckpt)) else None,
               "input": {"name": inputs.name, **inputs.source},
               **inspection.summary(), "figures": {key: path.name for key, path in figures.items()}}
    write_json_atomic(output / SUMMARY, summary)
    write_csv_atomic(output / "steps_psnr.csv", [{"step": r["step"], "psnr": r["psnr"]}
                                                  for r in summary["reconstructions"]], ["step", "psnr"])
    if cfg.wandb.enabled:
        log_to_wandb(cfg, figures, summary, f"inspect-{model.name}-{inputs.name}")
    print(format_summary(inspection))
    print(f"wrote {len(figures)} figures and {SUMMARY} to {output} in {time.perf_counter() - start:.1f} s")
    return summary


main = hydra_command("inspect", inspect_checkpoint)


if __name__ == "__main__":
    main()
