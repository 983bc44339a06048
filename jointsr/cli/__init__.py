"""The console commands: one thin module each, over :mod:`jointsr.cli.command`.

A Hydra command (train, eval, predict, bench, summary, data, inspect) is a module whose ``main``
is ``hydra_command(name, task)``: ``task(cfg)`` does the work through the library below
(``jointsr.training``, ``jointsr.runs``, ``jointsr.inference``, ``jointsr.evaluation``,
``jointsr.report``), and user errors become one line and exit status 2. What it does, its
examples and its primary config (``conf/<config>.yaml``) are its entry in
:data:`jointsr.cli.arguments.COMMANDS`, so ``--help`` (:mod:`jointsr.cli.entry`, the console
scripts) imports neither torch nor Lightning. A new command is one module here, one YAML in
``conf/``, its entry in ``COMMANDS`` and one line in pyproject.toml's ``[project.scripts]``.

``jointsr-score PRED GT`` and ``jointsr-report DIR...`` take paths as positional arguments
(argparse, not ``key=value``): their inputs are lists of files and folders, which Hydra's
override grammar would make users quote, and they compose no configuration.
"""
