"""Typed schemas of configs, checked by Hydra when it composes them: a value of the wrong type
(``overwrite=maybe``, ``bits=sixteen``) is refused before any code runs, with the key named.

A schema is a dataclass stored in Hydra's ConfigStore; a YAML that names it first in its
defaults list (``- predict_schema``) is merged onto it, so every key keeps its YAML default and
comment, and the dataclass only says what type each key has. Range and choice checks that a
type cannot express (``bits`` is 8 or 16) stay where the value is used.
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


def register() -> None:
    """Store every schema under its name (idempotent)."""
    ConfigStore.instance().store(name="predict_schema", node=PredictConfig)
