"""Parameters and FLOPs per HR pixel of every configuration this study and `experiments/baselines/`
show: ``summary.csv`` beside this file.

For each row, what ``jointsr-summary <overrides> lr_size=16`` reports (the same
:func:`jointsr.cli.summary.summarise` count: the parameters of ``model.net``, and the FLOPs of one
forward pass on a random 16x16 LR input, x4, by ``torch.utils.flop_counter``, per HR pixel),
all in one process.

Usage: python experiments/model_summary/summary.py
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from jointsr import CONFIG_DIR
from jointsr.cli.summary import summarise
from jointsr.files import write_csv_atomic

OUT = Path(__file__).resolve().parent / "summary.csv"
#: the free form of issues 2-5 (k=64, K=7, learned skip), the default of `model=jointsr` then
FREE = "model.net.form=free model.net.k=64 model.net.K=7"
ROWS = [
    ("default (`model=jointsr`: factorised, k=32, K=5)", "model=jointsr"),
    ("free form, k=64, K=7, skip (default of issues 2-5)", FREE),
    ("`model=jointsr_paper` (free form, k=64, K=7, no skip)", "model=jointsr_paper"),
    ("factorised, k=64, K=7", "model.net.form=factorised model.net.k=64 model.net.K=7"),
    ("free form, k=64, K=7, `model.net.tied=false`", f"{FREE} model.net.tied=false"),
    ("free form, k=64, K=7, `model.net.guide_update=false`", f"{FREE} model.net.guide_update=false"),
    *[(f"free form, k=64, K=7, T={t}, R={r}", f"{FREE} model.net.T={t} model.net.R={r}")
      for t in (1, 2, 3, 4) for r in (1, 2, 3, 4, 5)],
    *[(f"`model={name}`", f"model={name}") for name in ("bicubic", "lmcsc", "coista", "djf", "srfbn", "srfbn_s")],
]


def main() -> int:
    rows = []
    for label, overrides in ROWS:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = compose(config_name="summary", overrides=[*overrides.split(), "scale=x4", "lr_size=16"])
        with contextlib.redirect_stdout(io.StringIO()):
            result = summarise(cfg)
        rows.append({"row": label, "overrides": overrides, "model": result["model"], "scale": result["scale"],
                     "params": result["params"], "flops_per_hr_pixel": f"{result['flops_per_hr_pixel']:.1f}"})
        print(f"{label}: {result['params']:,} parameters, {result['flops_per_hr_pixel']:,.0f} FLOPs per HR pixel")
    write_csv_atomic(OUT, rows, ["row", "overrides", "model", "scale", "params", "flops_per_hr_pixel"])
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
