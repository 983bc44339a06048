"""Typed schemas of configs, checked by Hydra when it composes them: a value of the wrong type
(``overwrite=maybe``, ``bits=sixteen``) is refused before any code runs, with the key named.

A schema is a dataclass stored in Hydra's ConfigStore; a YAML that names it first in its
defaults list (``- predict_schema``) is merged onto it, so every key keeps its YAML default and
comment, and the dataclass only says what type each key has. Range and choice checks that a
type cannot express (``bits`` is 8 or 16) stay where the value is used.

The trainer's schema (:class:`TrainerTypes`) is checked at the start of a run instead
(:func:`check_types`, before any folder or file is written): composed in, it would add every
Trainer argument to every run's config and refuse ``+trainer.<argument>=`` for the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class PredictConfig:
    """``conf/predict.yaml``: the inputs, output and device of ``jointsr-predict``."""

    ckpt_path: Optional[str] = None
    pretrained: Optional[str] = None
    target: Optional[str] = None
    simulate: Optional[str] = None
    guide: str = MISSING
    out: Optional[str] = None
    bits: int = 16
    overwrite: bool = False
    device: str = "auto"
    max_memory_gb: Optional[float] = None
    tile: Optional[int] = None
    geometry: str = "auto"
    task_name: str = "predict"
    verbose: bool = False
    paths: Any = field(default_factory=dict)


@dataclass
class TrainerTypes:
    """The types of ``conf/trainer/*.yaml``'s keys (the Lightning Trainer's arguments), checked at the
    start of a run (:func:`check_types`) rather than composed in: a key added with
    ``+trainer.<argument>=`` stays the Trainer's to check, and the run's config stays as written."""

    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: Any = "auto"
    precision: str = "32-true"
    max_epochs: Optional[int] = None
    max_steps: int = -1
    max_time: Optional[str] = None
    val_check_interval: Any = None
    check_val_every_n_epoch: Optional[int] = None
    num_sanity_val_steps: int = 0
    log_every_n_steps: int = 50
    gradient_clip_val: Optional[float] = None
    deterministic: Any = None
    benchmark: Optional[bool] = None
    sync_batchnorm: bool = False
    use_distributed_sampler: bool = True


#: how a one-line error names a schema's type
TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}


def check_types(node: Any, schema: type, prefix: str) -> None:
    """Raise a one-line ``ConfigError`` naming ``<prefix>.<key>=<value>`` when a value of ``node``
    (a config section) does not have the type ``schema`` (a dataclass) gives its key."""
    from omegaconf import OmegaConf, ValidationError

    from jointsr.errors import ConfigError

    typed = OmegaConf.structured(schema)
    OmegaConf.set_struct(typed, False)  # keys the schema does not type pass through
    for key, value in OmegaConf.to_container(node, resolve=True).items():
        if key in typed:
            try:
                typed[key] = value
            except ValidationError:
                kind = str(schema.__dataclass_fields__[key].type)
                wanted = TYPE_WORDS.get(kind.removeprefix("Optional[").removesuffix("]"), kind)
                wanted += " or null" if kind.startswith("Optional[") else ""
                raise ConfigError(f"{prefix}.{key}={value!r}: this setting takes {wanted}") from None


def register() -> None:
    """Store every schema under its name (idempotent)."""
    ConfigStore.instance().store(name="predict_schema", node=PredictConfig)
