"""The inspect study's table of PSNR per RNN step, from the committed summaries
(``<case>/<network>/inspect_summary.json``; for RGB-NIR urban/0017 the whole-image one,
``inspect_summary_whole_image.json``): ``psnr.bicubic`` and ``reconstructions``, the PSNR of
``Dx`` applied to each state."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from _tables import read_json, table  # noqa: E402

CASES = [("default", "cave_feathers/default/inspect_summary.json"),
         ("default", "nir_0017/default/inspect_summary_whole_image.json"),
         ("`jointsr_paper`", "cave_feathers/jointsr_paper/inspect_summary.json"),
         ("`jointsr_paper`", "nir_0017/jointsr_paper/inspect_summary_whole_image.json")]
STEPS = {"enc 2": "`Dx u_T`", "rnn 1": "r = 1", "rnn 2": "r = 2", "rnn 3": "r = 3"}


def steps() -> str:
    rows = []
    for network, path in CASES:
        summary = read_json(HERE / path)
        psnr = {item["step"]: item["psnr"] for item in summary["reconstructions"]}
        last = max(psnr, key=list(STEPS).index)
        rows.append([network, summary["input"]["image"], f"{summary['psnr']['bicubic']:.2f}",
                     *[(f"**{psnr[key]:.2f}**" if key == last else f"{psnr[key]:.2f}") for key in STEPS]])
    return table(["network", "image", "bicubic", *STEPS.values()], rows, "llrrrrr")


TABLES = {"steps": steps}
