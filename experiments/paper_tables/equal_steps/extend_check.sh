#!/usr/bin/env bash
# Issue 25: does carrying a finished run further (run.sh START_FROM=...) give what one
# uninterrupted run of the longer budget gives? CoISTA (the fastest row), seed 1, CAVE x4 under
# the paper protocol: 1,250 steps in one run, against the 1,000-step run of ../equal_steps
# carried to 1,250. Prints both test PSNRs and the largest weight difference (0 = bit-identical).
# Usage: bash experiments/paper_tables/equal_steps/extend_check.sh [LOGS]  (LOGS holds the 1,000-step runs)
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue25/equal_steps}
out=${OUT:-logs/issue25/extend_check}
export STEPS=1250 HORIZONS="[1250]" SEEDS=1 MODELS=coista BIN
bash experiments/paper_tables/equal_steps/run.sh "$out/uninterrupted"
START_FROM=$logs bash experiments/paper_tables/equal_steps/run.sh "$out/carried"
"$BIN/python" - "$out" <<'PY'
import json, sys
from pathlib import Path
import torch
out = Path(sys.argv[1])
runs = {name: out / name / "cave_x4/coista/seed_1" for name in ("uninterrupted", "carried")}
for name, run in runs.items():
    print(f"{name}: test PSNR {json.loads((run / 'test_metrics.json').read_text())['mean']['psnr']:.6f} dB")
weights = {name: torch.load(run / "checkpoints/last.ckpt", map_location="cpu", weights_only=True)["state_dict"]
           for name, run in runs.items()}
a, b = weights.values()
print(f"largest weight difference after 1,250 steps: {max((a[k] - b[k]).abs().max().item() for k in a):.3g}")
PY
