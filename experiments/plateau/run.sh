#!/usr/bin/env bash
# Issue 11: does the default leave the starting plateau early and every time?
#   bash experiments/plateau/run.sh [LOGDIR]      (resumes: finished jobs are skipped)
# 1. The default (T=2 R=3) and the slowest cell (T=3 R=3), 5 seeds each, 600 steps (cosine
#    over the steps), CAVE 640 nm x4, validation every 100 steps, then the test split.
# 2. model=jointsr_paper, 3 seeds, 650 steps at a constant Adam 1e-4 (what 10 CPU minutes
#    give it on this machine at ~1.1 steps/s), validation every 50 steps.
# Step budgets, so the numbers do not depend on what else the machine runs; the minutes are
# logged beside them (train/minutes, val/steps_per_s).
set -euo pipefail
cd "$(dirname "$0")/../.."
LOGDIR=${1:-logs/issue11}
BIN=${BIN:-.venv/bin}
$BIN/jointsr-train -m data=cave scale=x4 logger=csv trainer.max_steps=600 trainer.val_check_interval=100 \
  model.net.T=2,3 model.net.R=3 seed=1,2,3,4,5 hydra.sweep.dir="$LOGDIR/plateau_600_c128"
$BIN/jointsr-report "$LOGDIR/plateau_600_c128" --out experiments/plateau/report_600 \
  --reference model.net.T=2,model.net.R=3 --max-grids 2
$BIN/jointsr-train -m model=jointsr_paper data=cave scale=x4 logger=csv trainer.max_steps=650 \
  trainer.val_check_interval=50 seed=1,2,3 hydra.sweep.dir="$LOGDIR/paper_650_c128"
$BIN/jointsr-report "$LOGDIR/paper_650_c128" --out experiments/plateau/report_paper --max-grids 2
