"""The start-of-training tables, from the probe's committed outputs: ``before/probe_feathers_x4.json``
(the commit before the change) and ``after/probe_feathers_x4.json`` (``probe.py --json``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_json, table  # noqa: E402

NAME = "probe_feathers_x4.json"


def _probes() -> tuple[dict, dict]:
    return read_json(HERE / "before" / NAME)["networks"], read_json(HERE / "after" / NAME)["networks"]


def _norms(entry: dict | None) -> str | None:
    norms = (entry or {}).get("S_norm") or {}
    guide, target = norms.get("guide_encoder.updates.0.S"), norms.get("target_encoder.updates.0.S")
    return None if guide is None else f"guide {guide:.3f}, target {target:.3f}"


def _density(values: dict) -> str:
    return " ".join(f"{key}={round(100 * value)}%" for key, value in values.items())


def psnr() -> str:
    before, after = _probes()
    rows = []
    for name, entry in after.items():
        old = before.get(name)
        norms = (_norms(old), _norms(entry))
        if norms[1] is None:
            change = "– (factorised)"
        elif norms[0] is None:
            change = f"(new) {norms[1]}"
        else:
            change = f"{norms[0]} -> {norms[1]}"
        rows.append([name, f"{old['psnr']:.2f}" if old else "–", f"{entry['psnr']:.2f}",
                     f"{entry['calibrated']['psnr']:.2f}", change])
    return table(["network", "PSNR before", "PSNR after, ISTA start", "PSNR after, calibrated",
                  "`||S||` before -> after"], rows, "lrrrl")


def density() -> str:
    before, after = _probes()
    rows = [[name, _density(before[name]["density"]) if name in before else "–",
             _density(entry["calibrated"]["density"])] for name, entry in after.items()]
    return table(["network", "before (ISTA start)", "after, calibrated"], rows)


TABLES = {"psnr": psnr, "density": density}
