#!/usr/bin/env bash
# Issue 25: does training keep the calibrated start? jointsr_paper on CAVE x4 under the paper
# protocol, 3 seeds, fp32 eager (the precision and path do not enter the question), validated
# before the first step and after steps 1..20 (every step) and 50, 100. Variants (VARIANTS=...:
# before, after, raw_ramp100, radam, radam_ramp100 = the shipped jointsr_paper), each an
# optimiser at the paper's rate 1e-4 written out in full in ../rows.sh (proposed_optimiser).
# Two runs per seed and variant (PARTS="first20 to100"): 20 steps validating every step, 100
# steps validating at 50 and 100 (the same batches: a seed draws the same batch at each step).
# PARTS=to250: 250 steps validating every 10 (is the shipped start's step 100 a dip or a trend?
# its steps 20, 50 and 100 repeat the other parts' validations). No checkpoints.
# Resumable: a finished run leaves <run>/done. Then: python experiments/paper_tables/start/collect.py LOGS
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue25/start}
common=(experiment=paper_protocol data=cave scale=x4 model=jointsr_paper model.compile=false logger=csv test=false
        trainer.max_time=null callbacks.last_checkpoint=null callbacks.model_checkpoint=null)
source experiments/paper_tables/rows.sh  # proposed_optimiser: the variants below
for seed in ${SEEDS:-1 2 3}; do
  for variant in ${VARIANTS:-before after radam radam_ramp100}; do
    optimiser=$(proposed_optimiser "$variant")  # an unknown variant: one line, exit 2
    read -r -a extra <<<"$optimiser"
    for part in ${PARTS:-first20 to100}; do
      case $part in
        first20) steps=(trainer.max_steps=20 trainer.val_check_interval=1) ;;
        to100) steps=(trainer.max_steps=100 trainer.val_check_interval=50) ;;
        to250) steps=(trainer.max_steps=250 trainer.val_check_interval=10) ;;
        *) echo "start/run.sh: unknown part '$part' (first20, to100, to250)" >&2; exit 2 ;;
      esac
      run=$logs/$variant/seed_$seed/$part
      [ -f "$run/done" ] && continue
      rm -rf "$run"
      "$BIN/jointsr-train" "${common[@]}" "${extra[@]}" "${steps[@]}" seed="$seed" hydra.run.dir="$run"
      touch "$run/done"
    done
  done
done
