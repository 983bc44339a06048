"""``python -m jointsr.pretrained``: make a task's shipped weights from a finished training
run (``export``), rewrite the model card from the shipped JSON files (``card``), or check
that the card is what the JSON files say (``card --check``)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from jointsr.errors import UserError
from jointsr.pretrained import CARD, FOLDER, TASKS, card, export


def _commit() -> str | None:
    """The commit of the source tree this package runs from, when it is a git checkout."""
    try:
        found = subprocess.run(["git", "-C", str(FOLDER), "rev-parse", "--short", "HEAD"], capture_output=True,
                               text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None if found.returncode == 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jointsr.pretrained", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("export", help="slim a finished run's tested checkpoint into <folder>/<task>.ckpt "
                                              "and its test_metrics.json into <task>.json")
    made.add_argument("run", help="the training run's folder (it holds test_metrics.json and checkpoints/)")
    made.add_argument("task", choices=list(TASKS), help="the task the run trained")
    made.add_argument("--folder", default=str(FOLDER), help=f"where to write (default: the package's, {FOLDER})")
    made.add_argument("--commit", default=None, help="the commit the run trained with (default: this checkout's)")
    made.add_argument("--machine", default=None, help="where the run trained, in words (default: this machine)")
    written = commands.add_parser("card", help="write MODEL_CARD.md from the JSON files in --folder")
    written.add_argument("--folder", default=str(FOLDER), help="the folder of the JSON files (and the card)")
    written.add_argument("--check", action="store_true", help="only compare: exit 1 when the card is stale")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            path = export(args.run, args.task, args.folder, commit=args.commit or _commit(), machine=args.machine)
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} kB) and {path.with_suffix('.json').name}")
            return 0
        folder = Path(args.folder)
        text, target = card(folder), folder / CARD.name
        if args.check:
            current = target.read_text() if target.is_file() else ""
            if current != text:
                print(f"{target} is stale: run python -m jointsr.pretrained card", file=sys.stderr)
                return 1
            print(f"{target} matches the JSON files")
            return 0
        partial = target.with_name(target.name + ".partial")
        partial.write_text(text)
        partial.replace(target)
        print(f"wrote {target}")
        return 0
    except (UserError, OSError) as error:
        print(f"python -m jointsr.pretrained: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
