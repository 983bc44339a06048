"""What every Hydra command shares on its command line: ``--help`` text, and overrides
corrected or refused before Hydra sees them.

- ``--help`` of each command starts with what the command does and examples, lists only the
  config groups that command reads, without the internal ``base`` configs, shows its primary
  config file with every key's comment, and ends with how to turn on tab completion. It is
  written from :data:`COMMANDS` and the config files alone, so it needs neither torch nor
  Lightning (:mod:`jointsr.cli.entry`).
- ``scale=4`` (and ``scale=2,4`` in a sweep) means ``scale=x4``; ``model=base`` and
  ``data=base`` are refused with the options that exist.
- A value as users type paths (``target=my images/Bände/lr.png``, ``out=~/sr.png``, a ``#``,
  ``&``, quote or bracket in a name), which Hydra's override grammar cannot read unquoted, is
  quoted for it, and a leading ``~`` is the home folder; a value that still cannot be read is
  refused in one line that says how to quote it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from jointsr import CONFIG_DIR
from jointsr.errors import ConfigError

@dataclass(frozen=True)
class Command:
    """A Hydra command: its primary config (``conf/<config>.yaml``), what it does, how it is called."""

    config: str
    description: str
    examples: tuple[str, ...]


#: every Hydra command (its module is ``jointsr.cli.<name>``): the help and the entry point read
#: this table without importing the command (no torch, no Lightning for ``--help``)
COMMANDS: dict[str, Command] = {
    "train": Command(
        "train",
        "fit a guided super-resolution model on a dataset's training patches, validate it as it trains, "
        "then test its best checkpoint with the paper's protocol (PSNR/SSIM beside bicubic).",
        ("jointsr-train data=cave scale=x4 trainer.max_steps=2000",
         "jointsr-train experiment=budget_protocol            # the 20-minute CPU recipe (RGB-NIR x4)",
         "jointsr-train -m model=jointsr,djf data=cave     # a sweep, one folder per job")),
    "eval": Command(
        "eval",
        "test a checkpoint of jointsr-train (ckpt_path=) on the dataset it was trained on, or a "
        "parameter-free model (model=bicubic); prints the per-image table beside bicubic and writes "
        "test_metrics.json.",
        ("jointsr-eval ckpt_path=<run>/checkpoints/last.ckpt      # its own dataset and scale",
         "jointsr-eval ckpt_path=... data=rgbnir                 # another dataset, explicitly",
         "jointsr-eval model=bicubic data=cave scale=x8")),
    "predict": Command(
        "predict",
        "super-resolve your own LR image with a trained checkpoint and an HR guide, or (simulate=) "
        "degrade an HR image as the protocol does, super-resolve it and print PSNR/SSIM; or every "
        "pair of two folders (matched by file name). Writes out= and nothing else.",
        ("jointsr-predict pretrained=nir_x4 target=nir_lr.png guide=rgb_hr.png out=nir_sr.png   # shipped weights",
         "jointsr-predict ckpt_path=<ckpt> simulate=nir_hr.png guide=rgb_hr.png",
         "jointsr-predict pretrained=nir_x4 target=lr/ guide=rgb/ out=sr/")),
    "bench": Command(
        "bench",
        "time a model's training step and inference on this machine (one process, medians of "
        "interleaved repeats); prints a table and one JSON line. Timings are results only on an "
        "idle machine.",
        ("jointsr-bench model=jointsr_paper scale=x8",
         "jointsr-bench train.repeats=3 infer.sizes=[[64,64]] train.paths=[eager]   # a smoke run")),
    "summary": Command(
        "summary",
        "count a model's parameters and FLOPs per HR pixel from a real forward pass.",
        ("jointsr-summary model=djf scale=x8",)),
    "data": Command(
        "data_cli",
        "fetch the datasets, build and verify the training-patch stores.",
        ("jointsr-data prepare data=cave scale=x4", "jointsr-data verify data=cave", "jointsr-data list")),
    "inspect": Command(
        "inspect",
        "figures of what the sparse codes of a trained JointSR or LMCSC do.",
        ("jointsr-inspect ckpt_path=<ckpt> data=cave image=feathers",)),
}

#: what asks a command for its help (Hydra's own options stay behind --hydra-help)
HELP_FLAGS = ("--help", "-h")

#: config options that only other configs build on (``defaults: [base]``): never a choice
INTERNAL = {"base"}
SCALES = re.compile(r"^(scale)=(\d+(?:,\d+)*)$")


def group_options(group: str) -> list[str]:
    """The options of a config group a user may choose (internal bases left out)."""
    folder = Path(CONFIG_DIR) / group
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in INTERNAL)


def command_groups(config_name: str) -> list[str]:
    """The config groups a primary config composes (its defaults list), Hydra's own left out."""
    document = yaml.safe_load((Path(CONFIG_DIR) / f"{config_name}.yaml").read_text()) or {}
    groups = []
    for entry in document.get("defaults", []):
        if isinstance(entry, dict):
            for key in entry:
                group = key.split(" ")[-1].split("@")[0].lstrip("/")
                if not key.startswith("override") and not group.startswith("hydra") and group != "paths":
                    groups.append(group)
    return groups


def asks_for_help(args: list[str]) -> bool:
    return any(arg in HELP_FLAGS for arg in args)


def help_text(command: str) -> str:
    """The ``--help`` page of ``jointsr-<command>``: what it does, examples, the config groups
    it reads, and its primary config file as written (every key with its comment)."""
    spec = COMMANDS[command]
    lines = [f"jointsr-{command}: {spec.description}", "", "Examples:"]
    lines += [f"  {example}" for example in spec.examples]
    groups = command_groups(spec.config)
    if groups:
        lines += ["", "== Configuration groups (group=option) =="]
        lines += [f"{group}: {', '.join(group_options(group))}" for group in groups]
    lines += ["", f"== Settings (conf/{spec.config}.yaml; override any: key=value; --cfg job prints the "
                  f"composed config) ==", settings_text(spec.config), "",
              f"Tab completion (bash): eval \"$(jointsr-{command} -sc install=bash)\"  "
              "(zsh: the same under bashcompinit; fish: -sc install=fish | source)",
              "Hydra's own options: --hydra-help"]
    return "\n".join(lines)


def settings_text(config_name: str) -> str:
    """The primary config file as written, comments included, without its ``defaults`` list
    and ``hydra`` block (the groups are listed apart; Hydra's settings are not the user's)."""
    kept, skipping = [], False
    for line in (Path(CONFIG_DIR) / f"{config_name}.yaml").read_text().splitlines():
        if line[:1] not in ("", " ", "-", "#"):  # a top-level key starts or ends a block
            skipping = line.split(":")[0] in ("defaults", "hydra")
        if not skipping:
            kept.append(line)
    return "\n".join(kept).strip("\n")


def normalise(args: list[str]) -> list[str]:
    """Command-line overrides with ``scale=4`` read as ``scale=x4``; internal configs refused."""
    result = []
    for arg in args:
        found = SCALES.match(arg)
        if found:
            arg = "scale=" + ",".join(f"x{value}" for value in found.group(2).split(","))
        key, _, value = arg.partition("=")
        group = key.lstrip("+~")
        if value in INTERNAL and (Path(CONFIG_DIR) / group / f"{value}.yaml").is_file():
            raise ConfigError(f"{group}={value} is the internal base of every {group} config, not one to "
                              f"choose: use one of {', '.join(group_options(group))}")
        result.append(readable_override(arg))
    return result


def readable_override(arg: str) -> str:
    """``arg`` as Hydra's override grammar reads it to the value the user typed: unchanged when
    it already does (sweeps ``a,b``, lists, interpolations, quoted values included), else with
    the value quoted (a path with spaces at its ends, non-ASCII letters, ``#&()[]'"``), and a
    leading ``~`` expanded to the home folder."""
    key, equals, value = arg.partition("=")
    if arg.startswith("-") or not equals or not value or value[0] in "'\"[{":
        return arg
    if value.startswith("~"):
        value = os.path.expanduser(value)
    typed = f"{key}={value}"
    if _parses_to(typed, value, exact=False):
        return typed
    quoted = f"{key}={quote_value(value)}"
    if "${" in value or not _parses_to(quoted, value, exact=True):  # quoted, ${...} would still be resolved
        raise ConfigError(f"cannot read the value of {arg!r}: put the value in quotes that reach the "
                          f"command, e.g. \"{key}='...'\" (the shell removes one pair)")
    return quoted


def quote_value(value: str) -> str:
    """``value`` in single quotes as Hydra's grammar reads them back: each ``'`` escaped, and
    the backslashes before a quote or at the end doubled."""
    escaped = re.sub(r"(\\+)(?='|$)", lambda found: found.group(1) * 2, value)
    return "'" + escaped.replace("'", "\\'") + "'"


def _parses_to(override: str, value: str, exact: bool) -> bool:
    """Whether Hydra reads ``override`` without an error (``exact``: and to the string ``value``;
    otherwise a plain string that lost spaces at its ends does not count)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_override(override).value()
    except HydraException:
        return False
    if exact or isinstance(parsed, str):
        return parsed == value
    return True
