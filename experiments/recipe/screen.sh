#!/usr/bin/env bash
# Issue 7 screen: JointSR recipes at an equal wall-clock budget on CAVE 640 nm x4.
# Each candidate trains for MINUTES (the machine otherwise idle), its cosine schedule spans
# the steps it makes in that time on this 2-core machine (measured steps/s x seconds x 0.92
# for validation), then its best checkpoint is tested on the 7 test scenes.
# Usage: bash experiments/recipe/screen.sh [MINUTES] [OUT]
set -euo pipefail
minutes=${1:-3}
out=${2:-logs/issue7/screen}
budget=$(printf "00:00:%02d:00" "$minutes")
horizon() { python -c "print(int($1 * $minutes * 60 * 0.92))"; }  # steps/s -> steps
common="model.net.form=factorised model.scheduler.warmup_steps=50"
declare -A candidates=(
  [k64K7_const5e-4]="$common model.optimizer.lr=5e-4"
  [k64K7_cos1e-3]="$common model.optimizer.lr=1e-3 trainer.max_steps=$(horizon 1.8)"
  [k64K7_cos2e-3]="$common model.optimizer.lr=2e-3 trainer.max_steps=$(horizon 1.8)"
  [k32K7_cos1e-3]="$common model.net.k=32 model.optimizer.lr=1e-3 trainer.max_steps=$(horizon 3.7)"
  [k32K5_cos1e-3]="$common model.net.k=32 model.net.K=5 model.optimizer.lr=1e-3 trainer.max_steps=$(horizon 4.7)"
)
for name in k64K7_const5e-4 k64K7_cos1e-3 k64K7_cos2e-3 k32K7_cos1e-3 k32K5_cos1e-3; do
  jointsr-train experiment_name=recipe_screen data=cave scale=x4 logger=csv \
    trainer.max_time="$budget" trainer.val_check_interval=50 \
    ${candidates[$name]} hydra.run.dir="$out/$name"
done
