#!/usr/bin/env bash
# Issue 6: the unfolding-depth ablation (T encoder iterations x R RNN steps) of the default
# JointSR on CAVE 640 nm x4 at a fixed CPU budget per job, then the report.
# Usage: bash experiments/ablation_depth_cpu/run.sh [MINUTES] [LOGS]
set -euo pipefail
minutes=${1:-2}
sweep=${2:-logs/issue6}/ablation_depth_${minutes}min
jointsr-train -m experiment=ablation_depth logger=csv \
  trainer.max_time="$(printf "00:00:%02d:00" "$minutes")" trainer.val_check_interval=50 \
  hydra.sweep.dir="$sweep"
jointsr-report "$sweep" --out experiments/ablation_depth_cpu/report --max-grids 2
