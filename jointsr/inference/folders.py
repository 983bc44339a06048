"""Folders of image pairs for ``jointsr-predict``: a folder of targets (LR images, or HR truths
with ``simulate=``) and a folder of guides, paired by file name, run through one loaded
:class:`~jointsr.inference.predictor.Predictor`.

Pairing: every image file (:data:`~jointsr.data.io.IMAGE_SUFFIXES`) directly inside the target
folder is a target; its guide is the image of the same stem in the guide folder, whatever its
format (``lr/0004.png`` with ``rgb/0004.tiff``). Subfolders and hidden files are not read.

- a target without a guide, or a stem that two targets (or two guides) share: a failed pair;
- a guide without a target, and a file that is not an image: ignored, named in one note each;
- the result of target ``<name>`` is ``<out>/<name>.png``. An existing one is kept, and its
  pair fails, unless ``overwrite=true``; an input is never written over.

A pair that cannot be used (unreadable, wrong geometry, a colour target ...) fails with one line
and the others go on: :func:`predict_pairs` yields a :class:`PairOutcome` per pair, and
:class:`FolderSummary` counts them.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from jointsr.data.io import IMAGE_SUFFIXES, OUTPUT_BITS, read_image, write_image
from jointsr.errors import InputError, UnwritableError, UserError
from jointsr.inference.predictor import Predictor, simulation_line

#: names listed in one line before it says how many more there are
LISTED = 5


@dataclass(frozen=True)
class FolderPair:
    """A target and its guide (None: there is none); ``problem`` says why the pair cannot run."""

    name: str
    target: Path
    guide: Path | None
    problem: str | None = None


@dataclass(frozen=True)
class Listing:
    """The pairs of two folders, sorted by name, and one note per kind of file left out."""

    pairs: list[FolderPair]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FolderJob:
    """What to do with each pair: degrade the target first (``simulate``), write ``out/<name>.png``
    (``out`` None: nothing written), the geometry, the output's bits, and whether an existing
    output may be replaced."""

    simulate: bool
    out: Path | None
    geometry: str = "auto"
    bits: int = 16
    overwrite: bool = False

    def output(self, name: str) -> Path | None:
        return None if self.out is None else self.out / f"{name}.png"


@dataclass(frozen=True)
class PairOutcome:
    """One pair's result: the file written, the scores (``simulate``) and their line, or why it failed."""

    name: str
    written: Path | None = None
    scores: dict | None = None
    line: str | None = None
    error: str | None = None


# --------------------------------------------------------------------------- finding the pairs
def is_folder_run(source: Path, guide: Path, source_key: str) -> bool:
    """Whether the inputs are two folders (True) or two files (False); one of each is an
    :class:`InputError`."""
    if source.is_dir() and guide.is_dir():
        return True
    if source.is_dir() or guide.is_dir():
        folder, file = (f"{source_key}={source}", f"guide={guide}") if source.is_dir() else \
            (f"guide={guide}", f"{source_key}={source}")
        raise InputError(f"{folder} is a folder but {file} is not: give two folders (pairs matched by file "
                         f"name) or two image files")
    return False


def find_pairs(targets: Path, guides: Path, source_key: str = "target") -> Listing:
    """The pairs of ``targets`` and ``guides`` matched by stem (the module docstring's rules).
    A target folder without images is an :class:`InputError`."""
    found_targets, others = _images(targets)
    found_guides, _ = _images(guides)
    if not found_targets:
        raise InputError(f"{source_key}={targets} holds no images ({' '.join(IMAGE_SUFFIXES)}): put the "
                         f"{'HR truths' if source_key == 'simulate' else 'LR targets'} directly in it")
    pairs = [_pair(name, files, found_guides.get(name, []), source_key, guides)
             for name, files in sorted(found_targets.items())]
    notes = []
    extra = sorted(set(found_guides) - set(found_targets))
    if extra:
        notes.append(f"ignored {len(extra)} guide(s) in {guides} without a {source_key} of the same name: "
                     f"{_listed([found_guides[name][0].name for name in extra])}")
    if others:
        notes.append(f"ignored {len(others)} file(s) in {targets} that are not images: {_listed(others)}")
    return Listing(pairs, notes)


def _images(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    """The image files directly in ``folder`` by stem, and the names of its other files."""
    images: dict[str, list[Path]] = {}
    others = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            images.setdefault(path.stem, []).append(path)
        else:
            others.append(path.name)
    return images, others


def _pair(name: str, targets: list[Path], guides: list[Path], source_key: str, guide_folder: Path) -> FolderPair:
    problem = None
    if len(targets) > 1:
        problem = f"two {source_key} images named {name} ({_listed([p.name for p in targets])}): keep one"
    elif not guides:
        problem = f"no guide named {name}.<{'|'.join(s.lstrip('.') for s in IMAGE_SUFFIXES)}> in {guide_folder}"
    elif len(guides) > 1:
        problem = f"two guides named {name} in {guide_folder} ({_listed([p.name for p in guides])}): keep one"
    return FolderPair(name, targets[0], guides[0] if len(guides) == 1 else None, problem)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")


def check_out_folder(out: Path, bits: int, inputs: dict[str, Path]) -> Path:
    """``out=`` for a folder of targets: a folder (created when the first result is written),
    never one of the input folders (``inputs``: key -> folder), under a writable folder."""
    out = Path(out).expanduser()
    if bits not in OUTPUT_BITS:
        raise InputError(f"bits={bits}: the output PNGs have 8 or 16 bits (bits=8 or bits=16)")
    if (out.exists() and not out.is_dir()) or (not out.exists() and out.suffix.lower() == ".png"):
        raise InputError(f"out={out} names a file: with folders of inputs, out= names the folder the results "
                         f"go to (<out>/<name>.png)")
    for key, folder in inputs.items():
        if same_file(out, folder):
            raise InputError(f"out={out} is the {key} folder: the results would be mixed with the inputs; "
                             f"choose another folder")
    parent = next((p for p in [out, *out.parents] if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UnwritableError(f"cannot write into out={out}: {parent} is not a writable folder; choose another "
                              f"output folder")
    return out


def same_file(first: Path, second: Path) -> bool:
    """Whether two paths name one file or folder (another spelling, or a link to it)."""
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


# --------------------------------------------------------------------------- running the pairs
def predict_pairs(predictor: Predictor, pairs: list[FolderPair], job: FolderJob,
                  progress: bool = True) -> Iterator[PairOutcome]:
    """Each pair's :class:`PairOutcome`, in order, under a progress bar on stderr."""
    with _progress_bar(len(pairs), progress) as update:
        for pair in pairs:
            update(pair.name, 0)
            outcome = predict_pair(predictor, pair, job)
            update(pair.name, 1)
            yield outcome
        update("done", 0)


def predict_pair(predictor: Predictor, pair: FolderPair, job: FolderJob) -> PairOutcome:
    """One pair super-resolved (and scored, and written, as ``job`` says); a user error of this
    pair (unreadable file, wrong geometry, an existing output ...) is its outcome's ``error``."""
    try:
        if pair.problem is not None:
            raise InputError(pair.problem)
        out = job.output(pair.name)
        if out is not None:
            _check_output(out, pair, job.overwrite)
        result = predictor.run(read_image(pair.target), read_image(pair.guide), str(pair.target), str(pair.guide),
                               job.simulate, job.geometry)
        line = None if result.scores is None else simulation_line(pair.name, predictor.scale, result.scores,
                                                                  result.size)
        written = None if out is None else write_image(out, result.image, bits=job.bits)
        return PairOutcome(pair.name, written, result.scores, line)
    except UserError as error:
        return PairOutcome(pair.name, error="; ".join(str(error).splitlines()))
    except MemoryError:
        return PairOutcome(pair.name, error="out of memory: the machine could not allocate this pair's images "
                                            "or forward pass; give tile= a smaller side")


def _check_output(out: Path, pair: FolderPair, overwrite: bool) -> None:
    """Refuse an output that is an input, or that exists (without ``overwrite``), before any work."""
    for key, source in (("target", pair.target), ("guide", pair.guide)):
        if same_file(out, source):
            raise InputError(f"{out} is the {key} file: writing it would destroy the input")
    if out.exists() and not out.is_file():
        raise InputError(f"{out} exists and is not a file: move it away")
    if out.exists() and not overwrite:
        raise InputError(f"{out} exists: pass overwrite=true to replace it, or choose another out= folder")


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator:
    """A rich bar over the pairs on stderr, yielding ``update(name, advance)``: the pair now
    running, and how many more are done. While it is live, what the command prints and logs on a
    terminal goes above it."""
    if not enabled:
        yield lambda name, advance: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True, soft_wrap=True), redirect_stdout=sys.stdout.isatty())
    task = bar.add_task("pairs", total=total)
    streams = (sys.stdout, sys.stderr)
    with bar:
        moved = _point_log_handlers(dict(zip(streams, (sys.stdout, sys.stderr))))
        try:
            yield lambda name, advance: bar.update(task, description=name[:24], advance=advance)
        finally:
            _point_log_handlers({new: old for old, new in moved.items()})


def _point_log_handlers(moves: dict) -> dict:
    """Point the console log handlers writing to a stream in ``moves`` at its new stream (the bar's
    proxies of stdout and stderr); returns what was moved, old stream -> new."""
    moved = {old: new for old, new in moves.items() if old is not new}
    loggers = [logging.getLogger()] + [item for item in logging.Logger.manager.loggerDict.values()
                                       if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler and handler.stream in moved:
                handler.stream = moved[handler.stream]  # not setStream(): it flushes the old stream
    return moved


# --------------------------------------------------------------------------- the summary
@dataclass
class FolderSummary:
    """How many pairs were written, scored and failed, and where the results went."""

    outcomes: list[PairOutcome]
    out: Path | None

    @property
    def failed(self) -> list[str]:
        return [outcome.name for outcome in self.outcomes if outcome.error is not None]

    @property
    def succeeded(self) -> list[PairOutcome]:
        return [outcome for outcome in self.outcomes if outcome.error is None]

    def mean_line(self, scale: int) -> str | None:
        """The scores' means over the scored pairs (PSNR averaged in dB, as the paper's tables)."""
        from jointsr.evaluation.results import mean_metrics

        scored = [outcome.scores for outcome in self.outcomes if outcome.scores is not None]
        if not scored:
            return None
        means = {which: mean_metrics([scores[which] for scores in scored], ("psnr", "ssim"))
                 for which in ("ours", "bicubic")}
        return simulation_line(f"mean of {len(scored)} image(s)", scale, means)

    def line(self) -> str:
        """``done: 4 of 5 written to <out>; 1 failed: <names>``."""
        done, total = len(self.succeeded), len(self.outcomes)
        what = f"written to {self.out}" if self.out is not None else "super-resolved (nothing written: no out=)"
        text = f"done: {done} of {total} {what}"
        if self.failed:
            text += f"; {len(self.failed)} failed: {_listed(self.failed)}"
        return text
