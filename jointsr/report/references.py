"""The bicubic reference line of the plots: a bicubic run among the inputs, else our measured
bicubic means (``bicubic_reference.csv`` beside this module, from ``experiments/bicubic/``,
``jointsr-eval model=bicubic``) when the runs used the protocol those were measured with. A
task with neither has no reference line."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from jointsr.report.aggregation import Configuration

#: mean test PSNR (dB) of MATLAB-bicubic upsampling, paper protocol (whole test images, bicubic
#: degradation without noise, CAVE band 25), per test dataset name and scale (package data)
MEASURED_BICUBIC_CSV = Path(__file__).with_name("bicubic_reference.csv")


def read_measured_bicubic(path: str | Path = MEASURED_BICUBIC_CSV) -> dict[tuple[str, int], float]:
    """``{(dataset, scale): mean PSNR}`` from the measured bicubic CSV (``dataset,scale,psnr``)."""
    with Path(path).open(newline="") as stream:
        return {(row["dataset"], int(row["scale"])): float(row["psnr"]) for row in csv.DictReader(stream)}


MEASURED_BICUBIC_PSNR = read_measured_bicubic()
_BICUBIC_DEGRADATION = "jointsr.data.degradation.Bicubic"


@dataclass(frozen=True)
class Reference:
    psnr: float
    source: str   # for the legend


def bicubic_reference(data: str, scale: int, configs: list[Configuration]) -> Reference | None:
    """Bicubic's mean PSNR for this task: its run here, else the measured one when every run
    tested whole images with the default degradation; None when neither applies."""
    for config in configs:
        if config.model == "bicubic":
            return Reference(config.summary()["psnr"].mean, "bicubic (run)")
    measured = MEASURED_BICUBIC_PSNR.get((data, scale))
    runs = [run for config in configs for run in config.runs]
    if measured is None or not runs or not all(_protocol_of_the_measurement(run) for run in runs):
        return None
    return Reference(measured, "bicubic (experiments/bicubic)")


def _protocol_of_the_measurement(run) -> bool:
    return run.config is not None and run.full_protocol \
        and run.select("data.degradation._target_") == _BICUBIC_DEGRADATION \
        and not run.select("data.degradation.noise_sigma") \
        and run.select("data.dataset.band") in (None, 25)
