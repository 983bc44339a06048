"""Test results: the per-image metrics, their mean, the ``test_metrics.json`` document and its table."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Mapping

from jointsr.files import write_json_atomic
from jointsr.metrics.protocol import DEPTH_BORDER

#: the paper's metrics, in every document
METRICS = ("psnr", "ssim", "ssim_plain")
#: the guided-depth field's RMSE in the dataset's unit, whole image and without a
#: ``data.rmse_border`` frame (DEPTH_BORDER = 6 by default): in a document only when its data
#: sets ``data.rmse_unit``
DEPTH_METRICS = ("rmse", "rmse_crop")


def mean_metrics(rows: list[dict], keys: tuple[str, ...] = METRICS) -> dict[str, float]:
    """Mean of each metric in ``keys`` over the images (PSNR averaged in dB, as the paper's
    tables); empty for no images."""
    if not rows:
        return {}
    return {key: float(sum(row[key] for row in rows) / len(rows)) for key in keys}


def test_metrics(model: str, data: str, scale: int, rows: list[dict], rmse_unit: str | None = None,
                 rmse_scales: Mapping[str, float] | None = None, training: dict | None = None,
                 params: int | None = None, rmse_border: int = DEPTH_BORDER) -> dict:
    """The ``test_metrics.json`` document for one run.

    ``rows``: per image, ``name`` and the metrics of :func:`~jointsr.metrics.protocol.evaluate_pair`.
    ``rmse_unit`` (depth sets): the RMSE's unit; ``rmse_scales[name]`` turns an image's
    [0, 1] RMSE into it; ``rmse_border``: the frame the rows' ``rmse_crop`` left out (recorded
    as ``rmse.border_crop``). ``training``: the budget the tested weights had (steps, minutes,
    which checkpoint), recorded beside the numbers. ``params``: the tested network's parameter
    count (the report reads it instead of rebuilding the network; 0: the same result for any seed).
    """
    per_image = []
    for row in rows:
        item = {"name": str(row["name"]), **{key: float(row[key]) for key in METRICS}}
        if rmse_unit is not None:
            if rmse_scales is None or item["name"] not in rmse_scales:
                raise ValueError(f"no {rmse_unit} scale for the test image {item['name']!r}")
            item.update({key: float(row[key]) * rmse_scales[item["name"]] for key in DEPTH_METRICS})
        per_image.append(item)
    document = {"model": model, "data": data, "scale": int(scale), "per_image": per_image,
                "mean": mean_metrics(per_image)}
    if rmse_unit is not None:
        document["mean"].update(mean_metrics(per_image, DEPTH_METRICS))
        document["rmse"] = {"unit": rmse_unit, "border_crop": int(rmse_border)}
    if training is not None:
        document["training"] = dict(training)
    if params is not None:
        document["params"] = int(params)
    return document


def parameter_count(net) -> int:
    """The parameters of ``net`` (every tensor the optimiser may train), as reports count them."""
    return int(sum(p.numel() for p in net.parameters()))


def tested_document(model, datamodule, scale: int, cache_dir: str | os.PathLike | None,
                    training: dict | None = None) -> dict:
    """The ``test_metrics.json`` of ``model`` just tested on ``datamodule`` (set up): its
    per-image metrics, its parameter count, the training budget when given, and for a model
    with parameters the bicubic baseline beside it (:func:`bicubic_reference`)."""
    document = test_metrics(model.name, datamodule.name, scale, model.test_results,
                            rmse_unit=datamodule.rmse_unit, rmse_scales=datamodule.rmse_scales(),
                            training=training, params=parameter_count(model.net),
                            rmse_border=getattr(datamodule, "rmse_border", DEPTH_BORDER))
    if document["params"]:
        document["bicubic"] = bicubic_reference(datamodule, cache_dir)
    return document


def bicubic_reference(datamodule, cache_dir: str | os.PathLike | None) -> dict:
    """Bicubic upsampling's per-image PSNR/SSIM on ``datamodule``'s test set (set up), the
    baseline printed beside every result: ``{"per_image": {name: {psnr, ssim}}, "mean": ...}``.

    Cached as JSON under ``cache_dir/bicubic``, keyed by the tested dataset, its test images,
    the scale, the degradation (and its seed when it is random) and the test crop, so each
    dataset and scale is computed once.
    """
    import hashlib

    from jointsr.functional.imresize import imresize
    from jointsr.metrics.protocol import evaluate_pair

    names = list(datamodule.test_dataset.names("test")[: datamodule.max_test_images])
    degradation = datamodule.degradation
    key = {"data": datamodule.name, "scale": int(datamodule.scale), "degradation": degradation.key,
           "seed": datamodule.seed if degradation.stochastic else None, "test_crop": datamodule.test_crop,
           "images": names}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() else "_" for c in datamodule.name)
    path = Path(cache_dir).expanduser() / "bicubic" / f"{safe}_x{datamodule.scale}_{digest}.json" \
        if cache_dir else None
    if path is not None and path.is_file():
        try:
            cached = json.loads(path.read_text())
            if cached.get("key") == key:
                return cached["reference"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # an unreadable cache entry is computed again (and replaced)
    per_image = {}
    for batch in datamodule.test_dataloader():
        hr = batch["hr"]
        prediction = imresize(batch["lr"], out_shape=tuple(hr.shape[-2:]))
        for index in range(hr.shape[0]):
            metrics = evaluate_pair(prediction[index, 0].float().numpy(), hr[index, 0].float().numpy())
            per_image[str(batch["name"][index])] = {"psnr": metrics["psnr"], "ssim": metrics["ssim"]}
    reference = {"per_image": per_image, "mean": mean_metrics(list(per_image.values()), ("psnr", "ssim"))}
    if path is not None:
        try:
            write_json_atomic(path, {"key": key, "reference": reference})
        except OSError:
            pass  # no cache where it cannot be written: computed again next time
    return reference


def format_table(document: dict) -> str:
    """A plain-text per-image table of a ``test_metrics.json`` document, titled by its model,
    data and scale, with the mean as its last row (and bicubic beside it, and the depth RMSE
    in its unit, whole image and cropped, when the document has them)."""
    title = f"{document['model']} on {document['data']} x{document['scale']}"
    depth = document.get("rmse")
    bicubic = document.get("bicubic")
    if depth:
        title += f" (RMSE in {depth['unit']}; crop: {depth['border_crop']} pixels per side)"
    training = document.get("training")
    if training:
        minutes = training.get("minutes")
        title += f"; trained {training.get('steps')} steps" + (f", {minutes:.1f} min" if minutes is not None else "")
    if bicubic:
        title += "; bicubic: MATLAB bicubic upsampling of the same LR inputs, gain = PSNR - bicubic"
    return "\n".join([title, *metrics_table(document["per_image"], document["mean"], bicubic, depth)])


def metrics_table(per_image: list[dict], mean: dict | None, bicubic: dict | None = None,
                  depth: dict | None = None) -> list[str]:
    """The lines of a per-image metrics table: a header, one row per image (PSNR, SSIM,
    SSIM-plain, and the row's ``note`` when it has one), then a rule and the ``mean`` row
    (only the rule for an empty mean; neither for ``None``). With ``bicubic`` (a document's
    ``bicubic`` entry) each row adds bicubic's PSNR, the gain over it and its SSIM; with
    ``depth`` (a document's ``rmse`` entry) the RMSE whole and cropped."""
    header = f"{'image':<28} {'PSNR':>8} {'SSIM':>8} {'SSIM-plain':>11}"
    if bicubic:
        header += f" {'bicubic':>8} {'gain dB':>8} {'bic.SSIM':>8}"
    if depth:
        header += f" {'RMSE':>8} {'RMSE-crop' + str(depth['border_crop']):>11}"

    def row(name: str, values: dict) -> str:
        psnr = values["psnr"]
        psnr_text = "inf" if math.isinf(psnr) else f"{psnr:.2f}"
        text = f"{name:<28} {psnr_text:>8} {values['ssim']:>8.4f} {values['ssim_plain']:>11.4f}"
        if bicubic:
            reference = bicubic["mean"] if name == "mean" else bicubic["per_image"].get(name)
            if reference:
                text += f" {reference['psnr']:>8.2f} {psnr - reference['psnr']:>+8.2f} {reference['ssim']:>8.4f}"
            else:
                text += f" {'-':>8} {'-':>8} {'-':>8}"
        if depth:
            text += f" {values['rmse']:>8.3f} {values['rmse_crop']:>11.3f}"
        return text + (f"   ({values['note']})" if values.get("note") else "")

    lines = [header, "-" * len(header)]
    lines += [row(item["name"], item) for item in per_image]
    if mean is not None:
        lines.append("-" * len(header))
        if mean:
            lines.append(row("mean", mean))
    return lines
