#!/usr/bin/env bash
# Equal-budget CPU comparison of JointSR variants on RGB-NIR x4 (issue 3).
# Each variant trains for the same wall-clock minutes, then its best checkpoint is tested
# on the 8 whole test images. Usage: bash experiments/jointsr_variants/run.sh [MINUTES] [OUT]
set -euo pipefail
minutes=${1:-5}
out=${2:-logs/jointsr_variants}
budget=$(printf "00:00:%02d:00" "$minutes")
declare -A variants=(
  [default]=""
  [guide_update_off]="model.net.guide_update=false"
  [untied]="model.net.tied=false"
  [factorised]="model.net.form=factorised"
)
for name in default guide_update_off untied factorised; do
  jointsr-train experiment_name=jointsr_variants data=rgbnir scale=x4 logger=csv \
    trainer.max_time="$budget" trainer.val_check_interval=100 \
    ${variants[$name]} hydra.run.dir="$out/$name"
done
