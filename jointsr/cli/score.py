"""``jointsr-score PRED GT``: the paper protocol's PSNR/SSIM of predictions against ground truths.

``PRED`` and ``GT`` are two image files, or two folders whose images are paired by file
name (without the extension: ``pred/x.png`` with ``gt/x.tiff``). Images are read as
:mod:`jointsr.data.io` documents (8/16-bit, or floats in [0, 1]); both must be grey (a colour
file with three equal channels counts as grey). The metrics are
:func:`jointsr.metrics.protocol.evaluate_pair`: the prediction clipped to [0, 1], PSNR and
the decimated SSIM as published, and the plain SSIM.

A ground truth up to 15 pixels larger than its prediction (per side) is cropped to the
prediction's size from the top-left corner, as ``modcrop`` does before degrading; the
crop is reported. Any other size difference is refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jointsr.cli.command import USER_ERROR_STATUS, report
from jointsr.data.io import IMAGE_SUFFIXES
from jointsr.errors import InputError, MissingFileError, UserError

#: largest ground-truth excess (pixels per side) taken as a modcrop remainder (a scale <= 16)
MODCROP_SLACK = 15


def pairs(prediction: Path, truth: Path) -> list[tuple[str, Path, Path]]:
    """``(name, prediction file, truth file)`` for two files or two folders (paired by stem)."""
    for path in (prediction, truth):
        if not path.exists():
            raise MissingFileError(f"{path}: no such file or folder")
    if prediction.is_file() and truth.is_file():
        return [(prediction.stem, prediction, truth)]
    if prediction.is_dir() != truth.is_dir():
        raise InputError(f"{prediction} and {truth}: give two image files or two folders, not one of each")

    def images(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                if path.stem in found:
                    raise InputError(f"{folder}: two images named {path.stem} ({found[path.stem].name}, "
                                     f"{path.name}); keep one")
                found[path.stem] = path
        return found

    predicted, truths = images(prediction), images(truth)
    unmatched = sorted(set(predicted) ^ set(truths))
    if unmatched:
        where = [f"{name} (only in {prediction if name in predicted else truth})" for name in unmatched[:5]]
        raise InputError(f"images without a partner: {', '.join(where)}" + (" ..." if len(unmatched) > 5 else "")
                         + "; pair every prediction with a ground truth of the same name")
    if not predicted:
        raise InputError(f"{prediction} and {truth} hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return [(name, predicted[name], truths[name]) for name in sorted(predicted)]


def score_pair(prediction_path: Path, truth_path: Path) -> tuple[dict[str, float], str | None]:
    """The protocol's metrics of one pair, and a note when the truth was modcropped."""
    from jointsr.data.io import read_image, single_channel
    from jointsr.metrics.protocol import evaluate_pair

    prediction = single_channel(read_image(prediction_path), str(prediction_path))
    truth = single_channel(read_image(truth_path), str(truth_path))
    (ph, pw), (th, tw) = prediction.shape, truth.shape
    note = None
    if (ph, pw) != (th, tw):
        if not (0 <= th - ph <= MODCROP_SLACK and 0 <= tw - pw <= MODCROP_SLACK):
            raise InputError(f"{prediction_path} is {pw}x{ph} (WxH) but its ground truth {truth_path} is "
                             f"{tw}x{th}: the images must show the same pixels (a ground truth at most "
                             f"{MODCROP_SLACK} pixels larger is modcropped)")
        truth = truth[:ph, :pw]
        note = f"ground truth modcropped from {tw}x{th} to {pw}x{ph}"
    metrics = evaluate_pair(prediction, truth)
    return {key: metrics[key] for key in ("psnr", "ssim", "ssim_plain")}, note


def score(prediction: Path, truth: Path) -> dict:
    """Per-image and mean metrics (PSNR averaged in dB, as the paper's tables)."""
    from jointsr.evaluation.results import mean_metrics

    rows = []
    for name, prediction_path, truth_path in pairs(prediction, truth):
        metrics, note = score_pair(prediction_path, truth_path)
        rows.append({"name": name, **metrics, **({"note": note} if note else {})})
    return {"per_image": rows, "mean": mean_metrics(rows)}


def format_scores(document: dict) -> str:
    """The per-image table, with the mean row when there are several images."""
    from jointsr.evaluation.results import metrics_table

    per_image = document["per_image"]
    return "\n".join(metrics_table(per_image, document["mean"] if len(per_image) > 1 else None))


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="jointsr-score",
        description="The paper protocol's PSNR and SSIM of predictions against ground truths (image files, or "
                    "folders paired by file name). The prediction is clipped to [0, 1]; SSIM is the published "
                    "decimated one, SSIM-plain without decimation.",
        epilog="example: jointsr-score nir_sr.png nir_hr.png;  jointsr-score results/ truths/ --json scores.json")
    parse.add_argument("prediction", type=Path, help="a predicted image, or a folder of them")
    parse.add_argument("truth", type=Path, help="its ground truth, or a folder of them (same file names)")
    parse.add_argument("--json", type=Path, default=None, metavar="PATH",
                       help="also write the per-image and mean metrics as JSON (written atomically)")
    return parse


def main(argv: list[str] | None = None) -> None:
    """``jointsr-score PRED GT [--json PATH]``: user errors are one line, exit status 2."""
    args = parser().parse_args(argv)
    try:
        if args.json is not None and (args.json.resolve() in (args.prediction.resolve(), args.truth.resolve())
                                      or args.json.is_dir()):
            raise InputError(f"--json {args.json}: name a new .json file (never an input or a folder)")
        document = score(args.prediction.expanduser(), args.truth.expanduser())
    except UserError as error:
        report("score", str(error))
        sys.exit(USER_ERROR_STATUS)
    print(format_scores(document))
    if args.json is not None:
        from jointsr.files import write_json_atomic

        print(f"wrote {write_json_atomic(args.json, document)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
