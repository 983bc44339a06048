#!/usr/bin/env bash
# Issue 6: the paper's CAVE x4 and NIR x4 rows at an equal CPU budget for every model, then
# the reports. Each job trains MINUTES on the 2-core machine (nothing else running), with the
# paper's protocol (MSE, Adam 1e-4 constant, batch 16), then tests its best checkpoint on the
# whole test images. A killed sweep is resumed by running the same command again.
# Usage: bash experiments/paper_tables_cpu/run.sh [MINUTES] [LOGS]
set -euo pipefail
minutes=${1:-4}
logs=${2:-logs/issue6}
models=jointsr,jointsr_paper,lmcsc,coista,djf,srfbn
for task in cave_x4 nir_x4; do
  data=$([ "$task" = cave_x4 ] && echo cave || echo rgbnir)
  jointsr-eval model=bicubic data="$data" scale=x4 logger=csv hydra.run.dir="$logs/bicubic_$task"
  jointsr-train -m experiment=paper_$task model=$models logger=csv \
    trainer.max_time="$(printf "00:00:%02d:00" "$minutes")" trainer.val_check_interval=100 \
    hydra.sweep.dir="$logs/paper_${task}_${minutes}min"
  jointsr-report "$logs/paper_${task}_${minutes}min" "$logs/bicubic_$task" \
    --out "experiments/paper_tables_cpu/$task" --max-grids 2
done
