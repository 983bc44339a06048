"""The model and data configs the contract tests run over: every ``conf/model/*.yaml`` and
``conf/data/*.yaml``, found in the config folder (nothing listed by hand), and the overrides
that make a network small enough for a test."""

from __future__ import annotations

from pathlib import Path

from conftest import compose_config

from jointsr import CONFIG_DIR
from jointsr.models.catalog import model_config, model_names

#: every model config (conf/model/base.yaml is the shared part, not a model)
MODELS = model_names()
#: data configs whose files are the user's own (tests/data/test_pairs.py makes them)
USER_FOLDERS = ("pairs",)
#: every data config on the shared data (conf/data/base.yaml is the shared part)
DATA = sorted(path.stem for path in (Path(CONFIG_DIR) / "data").glob("*.yaml")
              if path.stem not in ("base", *USER_FOLDERS))
#: widths a test may shrink, wherever a network's config has the key: the depth, kernels and
#: scale that shape its output and receptive field stay the config's own
NARROW = {"k": "4", "atoms": "16", "num_features": "4", "branch_widths": "[6,4]", "fusion_widths": "[6,4]"}


def narrow(model: str) -> list[str]:
    """Overrides shrinking the widths of ``model``'s network (:data:`NARROW`, where it has them)."""
    keys = model_config(model).net
    return [f"model.net.{key}={value}" for key, value in NARROW.items() if key in keys]


def data_config(data: str, output_dir: Path, scale: str = "x4"):
    """The composed training config with ``data=<data>`` (data folder: ``$JOINTSR_DATA_DIR``)."""
    return compose_config("train", [f"data={data}", f"scale={scale}"], output_dir)
