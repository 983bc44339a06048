"""Reading checkpoints safely: tensors and plain values only, never code.

A PyTorch checkpoint is a pickle, and unpickling can call any function the file names.
Every checkpoint this project reads goes through :func:`load_checkpoint`, which loads with
``torch.load(weights_only=True)``: the unpickler accepts tensors, containers and plain
values and refuses anything else *before* calling it. The checkpoints jointsr-train writes
(Lightning's training state, our model config as a plain dict) need nothing more.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from jointsr.errors import CheckpointError, MissingFileError

#: keys a checkpoint of jointsr-train holds to resume training (weights-only files lack them)
TRAINING_STATE = ("optimizer_states", "loops", "global_step")


def _not_a_checkpoint(path: Path, detail: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a checkpoint of jointsr-train ({detail}); pass the "
                           f"checkpoints/last.ckpt or best checkpoint of a training run")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint at ``path`` as a dict, loaded without executing anything it holds.

    Raises :class:`~jointsr.errors.MissingFileError` when there is no such file and
    :class:`~jointsr.errors.CheckpointError` when the file is empty, truncated, not a
    PyTorch file, or not a *trusted* checkpoint (it names code to run when loaded).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise MissingFileError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise _not_a_checkpoint(path, "it is a folder")
    if path.stat().st_size == 0:
        raise _not_a_checkpoint(path, "the file is empty")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        what = f"it would call `{found.group(1)}` when loaded" if found else \
            "it holds pickled objects other than tensors and plain values"
        raise CheckpointError(
            f"{path} is not a trusted checkpoint: {what}. It was not loaded, since unpickling it could "
            f"run code on this machine; a checkpoint of jointsr-train holds only tensors and plain "
            f"values. Use a checkpoint written by jointsr-train from a source you trust") from None
    except (EOFError, RuntimeError, OSError, KeyError, ValueError, zipfile.BadZipFile,
            UnicodeDecodeError, AttributeError, IndexError) as error:
        # the loaders' own words help only when they are words (a KeyError says "101")
        reason = str(error).splitlines()[0][:120] if isinstance(error, (RuntimeError, OSError)) and str(error) else ""
        raise _not_a_checkpoint(path, "not a PyTorch file, or truncated" + (f": {reason}" if reason else "")) \
            from None
    if not isinstance(checkpoint, dict):
        raise _not_a_checkpoint(path, f"it holds a {type(checkpoint).__name__}, not a dict")
    return checkpoint


def stored_model_config(checkpoint: dict, path: str | Path, part: str | None = None) -> dict:
    """The model config jointsr-train stored in ``checkpoint`` (required: no guessing), every
    ``_target_`` in it checked (``part="net"``: only the network's, for inference)."""
    stored = checkpoint.get("jointsr", {}).get("model_cfg") if isinstance(checkpoint.get("jointsr"), dict) \
        else None
    if not isinstance(stored, dict) or "_target_" not in stored:
        raise CheckpointError(f"{path} holds no jointsr model config (it was not written by jointsr-train), so "
                              f"the network it holds is unknown; pass a checkpoint of jointsr-train")
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise _not_a_checkpoint(Path(path), "it holds no state_dict of weights")
    checked = stored if part is None else stored.get(part)
    for key, target in _targets(checked, "model" if part is None else f"model.{part}"):
        if not _buildable(target):
            raise CheckpointError(
                f"{path} is not a trusted checkpoint: its model config names {key}._target_={target!r}, "
                f"which is not a network, optimiser or schedule of jointsr or torch, and would be called "
                f"to rebuild the model. It was not built; use a checkpoint written by jointsr-train")
    return stored


#: callables a stored model config may name besides classes (checked by :func:`_buildable`)
_ALLOWED_FUNCTIONS = {"jointsr.training.module.warmup_cosine"}


def _targets(node: Any, key: str):
    """Every ``(key, _target_)`` in a nested config."""
    if isinstance(node, dict):
        if "_target_" in node:
            yield key, node["_target_"]
        for name, value in node.items():
            yield from _targets(value, f"{key}.{name}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, f"{key}[{index}]")


def _buildable(target: Any) -> bool:
    """Whether a stored ``_target_`` may be instantiated: a network (``nn.Module``), an optimiser
    or learning-rate schedule of torch or jointsr, or an allowed function. A crafted config
    can name any callable (``os.system``), and instantiating is calling: the module is only
    imported when it belongs to jointsr or torch."""
    if not isinstance(target, str) or not target.startswith(("jointsr.", "torch.")):
        return False
    if target in _ALLOWED_FUNCTIONS:
        return True
    from hydra.utils import get_object

    try:
        obj = get_object(target)
    except Exception:  # unknown name: refused (Hydra would fail on it anyway)
        return False
    return isinstance(obj, type) and issubclass(
        obj, (torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler))


def check_training_checkpoint(path: str | Path, model_cfg: dict | None = None) -> dict:
    """Check, before Lightning reads it, that ``path`` can resume training; returns it.

    Safe to read (see :func:`load_checkpoint`), written by jointsr-train, holding the
    optimiser and loop state (not weights only), and, given ``model_cfg`` (the composed
    model config, resolved), for the same network.
    """
    checkpoint = load_checkpoint(path)
    stored = stored_model_config(checkpoint, path)
    missing = [key for key in TRAINING_STATE if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} holds weights only (no {', '.join(missing)}), so training cannot "
                              f"resume from it; resume from a run's checkpoints/last.ckpt, or evaluate it "
                              f"with jointsr-eval ckpt_path={path}")
    if model_cfg is not None:
        differences = _differences(stored.get("net", {}), model_cfg.get("net", {}), "model.net")
        if stored.get("_target_") != model_cfg.get("_target_") or stored.get("name") != model_cfg.get("name"):
            differences.insert(0, f"model={stored.get('name')} in the checkpoint, model={model_cfg.get('name')} "
                                  f"composed")
        if differences:
            shown = "; ".join(differences[:4]) + (" ..." if len(differences) > 4 else "")
            raise CheckpointError(f"{path} was trained with another network than the one composed ({shown}); "
                                  f"resume with the run's own overrides")
    return checkpoint


def _differences(stored: Any, composed: Any, key: str) -> list[str]:
    """Values that differ between two configs (keys only one of them has are not compared:
    a key added to the configs since the checkpoint was written keeps its old meaning)."""
    if isinstance(stored, dict) and isinstance(composed, dict):
        found = []
        for name in sorted(set(stored) & set(composed)):
            found += _differences(stored[name], composed[name], f"{key}.{name}")
        return found
    return [] if stored == composed else [f"{key}={stored} in the checkpoint, {composed} composed"]


def load_checkpoint_network(ckpt_path: str | Path, expected_scale: int | None = None) -> torch.nn.Module:
    """The network of a checkpoint of jointsr-train, rebuilt from its stored config with its
    weights: what inference needs, without the training module (so without Lightning). Read
    safely; ``expected_scale`` (the composed ``scale``) must match the network's."""
    from hydra.utils import instantiate

    checkpoint = load_checkpoint(ckpt_path)
    net_cfg = stored_model_config(checkpoint, ckpt_path, part="net").get("net")
    if not isinstance(net_cfg, dict) or "_target_" not in net_cfg:
        raise CheckpointError(f"{ckpt_path} holds no network config (model.net); pass a checkpoint of jointsr-train")
    net = instantiate(net_cfg)
    weights = {key.removeprefix("net."): value for key, value in checkpoint["state_dict"].items()
               if key.startswith("net.")}
    load_weights(net, weights, ckpt_path)
    check_scale(net.scale, expected_scale, ckpt_path)
    return net.eval()


def load_weights(module: torch.nn.Module, weights: dict, ckpt_path: str | Path) -> None:
    """``module.load_state_dict(weights)``, a mismatch refused as the checkpoint's fault, in one line."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as error:  # weights of another shape than the stored config builds
        detail = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise CheckpointError(f"{ckpt_path}: its weights do not fit the network its config describes "
                              f"({detail[:200]}); the file was altered or written by another version") from None


def check_scale(scale: int, expected_scale: int | None, ckpt_path: str | Path) -> None:
    """Refuse a checkpoint of another scale than the composed ``scale`` (None: any)."""
    from jointsr.errors import ConfigError

    if expected_scale is not None and scale != int(expected_scale):
        raise ConfigError(f"{ckpt_path} holds a x{scale} model but scale=x{expected_scale}: pass scale=x{scale}")
