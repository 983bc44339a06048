#!/usr/bin/env bash
# Issue 25: does training keep the calibrated start? jointsr_paper on CAVE x4 under the paper
# protocol, 3 seeds, fp32 eager (the precision and path do not enter the question), validated
# before the first step and after steps 1..20 (every step) and 50, 100:
#   before: Adam 1e-4 on every raw weight, no warm-up (model.net.equalized_lr=false model.warmup_steps=0)
#   after:  the shipped jointsr_paper (equalized rates, 20-step ramp)
# Two runs per seed and variant: 20 steps validating every step, 100 steps validating at 50
# and 100 (the same batches: a seed draws the same batch at each step). No checkpoints.
# Resumable: a finished run leaves <run>/done. Then: python experiments/paper_tables/start/collect.py LOGS
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue25/start}
common=(experiment=paper_protocol data=cave scale=x4 model=jointsr_paper model.compile=false logger=csv test=false
        trainer.max_time=null callbacks.last_checkpoint=null callbacks.model_checkpoint=null)
for seed in ${SEEDS:-1 2 3}; do
  for variant in before after; do
    extra=()
    [ "$variant" = before ] && extra=(model.net.equalized_lr=false model.warmup_steps=0)
    for part in "first20 trainer.max_steps=20 trainer.val_check_interval=1" "to100 trainer.max_steps=100 trainer.val_check_interval=50"; do
      read -r name max interval <<<"$part"
      run=$logs/$variant/seed_$seed/$name
      [ -f "$run/done" ] && continue
      rm -rf "$run"
      "$BIN/jointsr-train" "${common[@]}" "${extra[@]}" "$max" "$interval" seed="$seed" hydra.run.dir="$run"
      touch "$run/done"
    done
  done
done
