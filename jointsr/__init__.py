"""jointsr: guided image super-resolution with coupled sparse priors (Marivani et al., ICIP 2020)."""

from pathlib import Path

from omegaconf import OmegaConf

_HERE = Path(__file__).resolve().parent
#: the Hydra configuration folder: ``jointsr/conf`` in an installed wheel (pyproject.toml ships
#: the repository's ``conf/`` there), ``conf/`` at the repository root in a source checkout
CONFIG_DIR = str(_HERE / "conf" if (_HERE / "conf" / "train.yaml").is_file() else _HERE.parent / "conf")

__version__ = "0.1.0"


def patch_side(scale: int, minimum: int, lr_minimum: int) -> int:
    """The HR training patch side at ``scale``: the smallest multiple of the scale that is at
    least ``minimum`` pixels and whose LR patch is at least ``lr_minimum`` pixels."""
    scale, minimum, lr_minimum = int(scale), int(minimum), int(lr_minimum)
    return scale * max(-(-minimum // scale), lr_minimum)


if not OmegaConf.has_resolver("patch_side"):
    OmegaConf.register_new_resolver("patch_side", patch_side)


def _register_schemas() -> None:
    from jointsr.configs import register

    register()


_register_schemas()
