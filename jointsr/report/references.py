"""The bicubic reference line of the plots: a bicubic run among the inputs, else our measured
bicubic means (``experiments/bicubic/README.md``, ``jointsr-eval model=bicubic``) when the
runs used the protocol those were measured with."""

from __future__ import annotations

from dataclasses import dataclass

from jointsr.report.aggregation import Configuration

#: mean test PSNR (dB) of MATLAB-bicubic upsampling, paper protocol (whole test images,
#: bicubic degradation without noise, CAVE band 25), per (dataset name, scale)
MEASURED_BICUBIC_PSNR = {
    ("cave", 4): 30.33, ("cave", 8): 26.60,
    ("rgbnir", 2): 32.20, ("rgbnir", 4): 27.50,
    ("middlebury2005", 4): 41.95, ("middlebury2005", 8): 38.79, ("middlebury2005", 16): 35.47,
    ("lu6", 4): 40.80, ("lu6", 8): 35.38, ("lu6", 16): 31.15,
    ("nyuv2", 4): 49.62, ("nyuv2", 8): 45.31, ("nyuv2", 16): 40.81,
    ("sintel", 4): 29.58, ("sintel", 8): 26.58, ("sintel", 16): 23.56,
}
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
