"""Typed schemas of configs, checked by Hydra when it composes them: a value of the wrong type
(``overwrite=maybe``, ``bits=sixteen``) is refused before any code runs, with the key named.

A schema is a dataclass stored in Hydra's ConfigStore; a YAML that names it first in its
defaults list (``- predict_schema``) is merged onto it, so every key keeps its YAML default and
comment, and the dataclass only says what type each key has. Range and choice checks that a
type cannot express (``bits`` is 8 or 16) stay where the value is used.

The schemas of ``jointsr-train`` and ``jointsr-eval`` (:class:`RunTypes`, :class:`ModelTypes`,
:class:`DataTypes`, :class:`TrainerTypes`) are checked against the composed config at the start
of a run instead (:func:`check_run_types`, before anything is built or written): composed in,
they would add every key to every run's config (changing its fingerprint) and refuse
``+trainer.<argument>=`` for the Lightning arguments they do not list. Only their types count;
their defaults are never used (the YAML files hold those).
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
    max_time: Any = None  # DD:HH:MM:SS or {minutes: 20}: the budget parser checks it (training/callbacks.py)
    val_check_interval: Any = None
    check_val_every_n_epoch: Optional[int] = None
    num_sanity_val_steps: int = 0
    log_every_n_steps: int = 50
    gradient_clip_val: Optional[float] = None
    deterministic: Any = None
    benchmark: Optional[bool] = None
    sync_batchnorm: bool = False
    use_distributed_sampler: bool = True


@dataclass
class RunTypes:
    """The types of the top-level keys of ``conf/train.yaml`` and ``conf/eval.yaml``."""

    seed: int = 12345
    verbose: bool = False
    ckpt_path: Optional[str] = None
    pretrained: Optional[str] = None
    curve_dir: Optional[str] = None
    test: bool = True
    test_checkpoint: str = "best"
    skip_done: bool = True
    monitor: str = "val/psnr"
    scale: int = 4
    tile: Optional[int] = None


@dataclass
class ModelTypes:
    """The types of the keys every model config shares (``conf/model/base.yaml``); the network's
    own (``model.net.*``) are checked by its constructor."""

    name: str = MISSING
    title: Optional[str] = None
    loss: str = "mse"
    step_weights: Any = None
    scheduler_interval: str = "step"
    warmup_steps: int = 0
    compile: bool = False
    channels_last: bool = False
    tile: Optional[int] = None
    grid_index: int = 0
    calibration_patches: int = 128


@dataclass
class DataTypes:
    """The types of the keys every data config shares (``conf/data/base.yaml``)."""

    batch_size: int = 16
    patch_size: int = 44
    patch_stride: Optional[int] = None
    rotations: Any = None
    val_names: Any = None
    val_holdout: bool = True
    val_crop: Optional[int] = None
    guide_channels: int = 1
    num_workers: int = 0
    max_train_patches: Optional[int] = None
    max_test_images: Optional[int] = None
    test_crop: Optional[int] = None
    seed: int = 0
    store: bool = True
    cache_dir: Optional[str] = None
    in_memory: bool = True
    verify_store: bool = True
    progress: bool = True
    rmse_unit: Optional[str] = None
    rmse_border: int = 6


def check_run_types(cfg: Any) -> None:
    """Every typed section of a train or eval config (:func:`check_types`): the top-level keys, the
    shared model and data keys and the trainer's, before anything is built or written."""
    check_types(cfg, RunTypes, "")
    for key, schema in (("model", ModelTypes), ("data", DataTypes), ("trainer", TrainerTypes)):
        if cfg.get(key) is not None:
            check_types(cfg[key], schema, key)


#: how a one-line error names a schema's type
TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}


def check_types(node: Any, schema: type, prefix: str) -> None:
    """Raise a one-line ``ConfigError`` naming ``<prefix>.<key>=<value>`` when a value of ``node``
    (a config section) does not have the type ``schema`` (a dataclass) gives its key."""
    from omegaconf import OmegaConf, ValidationError

    from jointsr.errors import ConfigError

    typed = OmegaConf.structured(schema)  # each value is assigned to it: OmegaConf converts or refuses
    for key in schema.__dataclass_fields__:
        if key not in node:
            continue
        value = OmegaConf.select(node, key, throw_on_resolution_failure=False)  # one key resolved at a time
        value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        try:
            typed[key] = value
        except ValidationError:
            kind = str(schema.__dataclass_fields__[key].type)
            wanted = TYPE_WORDS.get(kind.removeprefix("Optional[").removesuffix("]"), kind)
            wanted += " or null" if kind.startswith("Optional[") else ""
            name = f"{prefix}.{key}" if prefix else key
            raise ConfigError(f"{name}={value!r}: this setting takes {wanted}") from None


def register() -> None:
    """Store every schema under its name (idempotent)."""
    ConfigStore.instance().store(name="predict_schema", node=PredictConfig)
