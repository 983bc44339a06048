"""What every Hydra command shares on its command line: ``--help`` text, and overrides
corrected or refused before Hydra sees them.

- ``--help`` of each command starts with what the command does, lists only the config groups
  that command reads, without the internal ``base`` configs, and ends with how to turn on
  tab completion. Hydra renders the template; :func:`register` provides it through the
  ``jointsr_help`` resolver (``hydra.help.template: ${jointsr_help:}`` in the configs).
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
from pathlib import Path

import yaml

from jointsr import CONFIG_DIR
from jointsr.errors import ConfigError

#: command -> (primary config, what it does, examples): each command module adds its own entry
#: when it builds its entry point (:func:`jointsr.cli.command.hydra_command`)
COMMANDS: dict[str, tuple[str, str, list[str]]] = {}

#: config options that only other configs build on (``defaults: [base]``): never a choice
INTERNAL = {"base"}
SCALES = re.compile(r"^(scale)=(\d+(?:,\d+)*)$")

_command = {"name": None}


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


def describe(command: str, config_name: str, description: str, examples: list[str]) -> None:
    """Record what ``jointsr-<command>`` does and how it is called, for its ``--help``."""
    COMMANDS[command] = (config_name, description, list(examples))


def help_text(command: str) -> str:
    """The ``--help`` template of ``jointsr-<command>`` (``$CONFIG``: the composed config)."""
    config_name, description, examples = COMMANDS[command]
    lines = [f"jointsr-{command}: {description}", "", "Examples:"]
    lines += [f"  {example}" for example in examples]
    groups = command_groups(config_name)
    if groups:
        lines += ["", "== Configuration groups (group=option) =="]
        lines += [f"{group}: {', '.join(group_options(group))}" for group in groups]
    lines += ["", "== Config (override any key: key=value; add --cfg job to print it resolved) ==", "$CONFIG",
              "Tab completion (bash): eval \"$$(jointsr-" + command + " -sc install=bash)\"  "
              "(zsh: the same under bashcompinit; fish: -sc install=fish | source)",
              "Hydra's own options: --hydra-help"]
    return "\n".join(lines)


def register(command: str) -> None:
    """Make ``${jointsr_help:}`` render ``command``'s help (called before Hydra parses)."""
    from omegaconf import OmegaConf

    _command["name"] = command
    if not OmegaConf.has_resolver("jointsr_help"):
        OmegaConf.register_new_resolver("jointsr_help", lambda: help_text(_command["name"] or "train"))


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
