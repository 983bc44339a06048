"""jointsr: guided image super-resolution with coupled sparse priors (Marivani et al., ICIP 2020)."""

from pathlib import Path

#: the Hydra configuration folder (``conf/`` at the repository root; editable installs)
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "conf")

__version__ = "0.1.0"
