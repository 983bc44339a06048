"""Every generated table of every study README, regenerated from the study's committed files.

A study README (``experiments/**/README.md``) marks each table it shows from data::

    <!-- table NAME -->
    | ... the table ... |
    <!-- /table -->

and the study folder holds ``tables.py`` with ``TABLES = {NAME: function}``: each function
reads the study's committed raw files (runs CSVs, curves, JSON) and returns the table's
Markdown text. ``python experiments/check_studies.py`` regenerates every marked table and
fails (exit 1) naming each study and table that differs, each marker without a generator
and each generator without a marker; ``--write`` rewrites the READMEs instead.
``make check-studies`` runs the check (CI does).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import re
import sys
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parent
BLOCK = re.compile(r"(<!-- table (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def load_tables(study: Path) -> dict:
    """The ``TABLES`` of ``study/tables.py`` (none when the study has no such file)."""
    path = study / "tables.py"
    if not path.is_file():
        return {}
    name = "_".join(study.relative_to(EXPERIMENTS).parts)
    spec = importlib.util.spec_from_file_location(f"study_tables_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.TABLES)


def _name(study: Path) -> str:
    return str(study.relative_to(EXPERIMENTS)) if study.is_relative_to(EXPERIMENTS) else str(study)


def regenerate(readme: Path, tables: dict) -> tuple[str, list[str]]:
    """The README with every marked table regenerated, and the problems found."""
    text = readme.read_text()
    problems: list[str] = []
    seen: set[str] = set()

    def replace(match: re.Match) -> str:
        name = match.group("name")
        seen.add(name)
        if name not in tables:
            problems.append(f"{_name(readme.parent)}: table {name!r} has no generator in tables.py")
            return match.group(0)
        body = tables[name]().rstrip("\n") + "\n"
        return match.group(1) + body + match.group(4)

    new = BLOCK.sub(replace, text)
    problems += [f"{_name(readme.parent)}: generator {name!r} has no <!-- table {name} --> block in README.md"
                 for name in sorted(set(tables) - seen)]
    return new, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the READMEs instead of checking them")
    parser.add_argument("studies", nargs="*", help="study folders (default: every experiments/*/)")
    args = parser.parse_args(argv)
    studies = [Path(s).resolve() for s in args.studies] or sorted(p.parent for p in EXPERIMENTS.glob("**/README.md"))
    failures, checked = [], 0
    for study in studies:
        readme = study / "README.md"
        tables = load_tables(study)
        new, problems = regenerate(readme, tables)
        failures += problems
        checked += len(tables)
        old = readme.read_text()
        if new != old:
            if args.write:
                readme.write_text(new)
                print(f"rewrote {readme.relative_to(EXPERIMENTS.parent)}")
            else:
                diff = "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                    f"{readme} (committed)", f"{readme} (regenerated)", n=1))
                failures.append(f"{_name(study)}: README.md differs from its committed data:\n{diff}")
    for failure in failures:
        print(failure, file=sys.stderr)
    print(f"check-studies: {checked} tables in {len(studies)} studies, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
