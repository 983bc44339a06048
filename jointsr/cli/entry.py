"""The console scripts of the Hydra commands: ``jointsr-<name>`` is ``jointsr.cli.entry:<name>``.

``--help`` is answered here from :data:`~jointsr.cli.arguments.COMMANDS` and the config files
alone, before the command's module (and with it torch and Lightning) is imported; anything else
runs the module's ``main``.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Callable

from jointsr.cli.arguments import COMMANDS, asks_for_help, help_text


def _entry(command: str) -> Callable[[], None]:
    def main() -> None:
        if asks_for_help(sys.argv[1:]):
            print(help_text(command))
            return
        import_module(f"jointsr.cli.{command}").main()

    main.__name__ = main.__qualname__ = command
    main.__doc__ = f"``jointsr-{command}``: {COMMANDS[command].description}"
    return main


def __getattr__(name: str) -> Callable[[], None]:
    """``from jointsr.cli.entry import train`` (what a console script does): the entry of that command."""
    if name in COMMANDS:
        return _entry(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
