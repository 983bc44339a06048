#!/usr/bin/env bash
# The shipped pretrained weights (jointsr/pretrained). The default recipe trained by
# experiment=budget_protocol (20 minutes on the clock, the best validation checkpoint tested)
# for every task the paper reports and Middlebury depth x4/x8, one run at a time: the budget is
# the clock, so run it on an otherwise idle machine. Then each run's tested checkpoint is slimmed
# into jointsr/pretrained/<task>.ckpt with its test document <task>.json, and MODEL_CARD.md is
# generated from those (experiments/pretrained/export.py).
#
# Resumable: a task whose run folder holds test_metrics.json is not trained again; a killed run
# continues from its last.ckpt (skip_done), with the rest of its budget.
#
# Usage: bash experiments/pretrained/run.sh [LOGS]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/pretrained}
tasks=("cave_x4 cave 4" "nir_x4 rgbnir 4" "cave_x8 cave 8" "nir_x2 rgbnir 2"
       "middlebury_x4 depth_middlebury 4" "middlebury_x8 depth_middlebury 8")
for spec in "${tasks[@]}"; do
  read -r task data scale <<< "$spec"
  if [ ! -f "$logs/$task/test_metrics.json" ]; then
    "$BIN/jointsr-train" experiment=budget_protocol data="$data" scale="x$scale" hydra.run.dir="$logs/$task"
  fi
done
for spec in "${tasks[@]}"; do
  read -r task data scale <<< "$spec"
  "$BIN/python" experiments/pretrained/export.py export "$logs/$task" "$task"
done
"$BIN/python" experiments/pretrained/export.py card
