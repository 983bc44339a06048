"""The package list: jointsr's packages, and the repository's ``conf/`` shipped inside the
package as ``jointsr.conf`` (with its config-group folders), so that a plain, non-editable
``pip install .`` finds the Hydra configs; the pretrained weights (``jointsr/pretrained``:
checkpoints, their test results and the model card) and the report's reference numbers
(``jointsr/report/*.csv``: the paper's published results, the measured bicubic means) as
package data. pyproject.toml holds everything else."""

from pathlib import Path

from setuptools import find_packages, setup

groups = sorted(".".join(path.relative_to("conf").parts) for path in Path("conf").rglob("*") if path.is_dir())
configs = ["jointsr.conf", *(f"jointsr.conf.{group}" for group in groups)]
setup(packages=[*find_packages(include=["jointsr", "jointsr.*"]), *configs],
      package_dir={"jointsr.conf": "conf"},
      package_data={**{package: ["*.yaml"] for package in configs},
                    "jointsr.pretrained": ["*.ckpt", "*.json", "*.md"],  # the shipped weights and their card
                    "jointsr.report": ["*.csv"]})  # the published and the measured reference numbers
