"""The model configs (``conf/model/<name>.yaml``) and the network class each one builds.

Everything the framework needs to know about a network it asks the network's class (the
contract, :mod:`jointsr.models.network`); the class is the ``net._target_`` of the model
config, read here without building the network, so adding a network is one file in
:mod:`jointsr.models` and one YAML in ``conf/model/``, and nothing else lists it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from jointsr import CONFIG_DIR
from jointsr.errors import ConfigError
from jointsr.models.network import SRNetwork

#: the model config group
MODEL_DIR = Path(CONFIG_DIR) / "model"
#: the config every model config extends (not a model itself)
BASE = "base"


def model_names() -> list[str]:
    """Every model config of ``conf/model/`` (the shared ``base`` left out), sorted."""
    return sorted(path.stem for path in MODEL_DIR.glob("*.yaml") if path.stem != BASE)


def model_config(name: str) -> DictConfig:
    """``conf/model/<name>.yaml`` merged over the model configs its defaults list names, as
    Hydra composes the group (interpolations such as ``${scale}`` left unresolved)."""
    path = MODEL_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"model={name}: there is no {path} (model configs: {', '.join(model_names())})")
    own = OmegaConf.load(path)
    defaults = list(own.pop("defaults", []))
    if "_self_" not in defaults:
        defaults.append("_self_")
    merged = OmegaConf.create()
    for entry in defaults:
        if not isinstance(entry, str):
            raise ConfigError(f"{path}: defaults entry {entry!r} is not the name of another model config")
        merged = OmegaConf.merge(merged, own if entry == "_self_" else model_config(entry))
    return merged


def network_class(model: str | Mapping) -> type[SRNetwork]:
    """The network class a model config builds (its ``net._target_``), imported but not
    built: ``model`` is a config name (``"lmcsc"``) or a model config (``cfg.model``)."""
    if isinstance(model, str):
        return _class_of_config(model)
    config = model if isinstance(model, DictConfig) else OmegaConf.create(dict(model))
    target = OmegaConf.select(config, "net._target_", default=None)
    if not isinstance(target, str):
        raise ConfigError(f"the model config names no network class (net._target_={target!r})")
    return _class_of_target(target)


@functools.lru_cache(maxsize=None)
def _class_of_config(name: str) -> type[SRNetwork]:
    target = OmegaConf.select(model_config(name), "net._target_", default=None)
    if not isinstance(target, str) or target == "???":
        raise ConfigError(f"{MODEL_DIR / f'{name}.yaml'}: net._target_ must name the network class")
    return _class_of_target(target)


def _class_of_target(target: str) -> type[SRNetwork]:
    module_name, _, class_name = target.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"model.net._target_={target}: not an importable class ({error})") from error
    if not (isinstance(cls, type) and issubclass(cls, SRNetwork)):
        raise ConfigError(f"model.net._target_={target} is not a network class (a subclass of "
                          f"jointsr.models.network.SRNetwork)")
    return cls


def model_title(name: str) -> str:
    """How a report titles the model ``name``: the ``title:`` of its model config, else its
    network class's ``title``; a name without a model config (a run of a network since
    removed) is its own title."""
    if not (MODEL_DIR / f"{name}.yaml").is_file() or name == BASE:
        return name
    own = OmegaConf.select(model_config(name), "title", default=None)
    return own if isinstance(own, str) and own else network_class(name).title


def model_titles() -> dict[str, str]:
    """``{config name: report title}`` of every model config."""
    return {name: model_title(name) for name in model_names()}


def models_with_codes() -> list[str]:
    """The model configs whose network has sparse codes (what ``jointsr-inspect`` reads)."""
    return [name for name in model_names() if network_class(name).has_codes]
