#!/usr/bin/env bash
# Issue 25: the paper's question at equal steps. Proposed (jointsr_paper), LMCSC, DJF, CoISTA
# and JointSR-fast on CAVE x4 under the paper protocol (conf/experiment/paper_protocol.yaml),
# the same number of optimiser steps for every model (STEPS, 3000 = 10 epochs), 3 seeds, the
# weights kept at every horizon (callbacks=horizons: <run>/curve) and each tested on the whole
# test set (jointsr-eval curve_dir=... -> <run>.curve/test_curve.csv); then collect.py writes
# runs.csv, the report and the plot into this folder.
#
# Each model on its fastest path that keeps its numbers: Proposed in bf16 mixed precision
# (trainer.precision=bf16-mixed, its fused compile+NHWC step; the equal-step accuracy check
# against fp32 is the model jointsr_paper_fp32, STEPS=250 HORIZONS=[250]); the baselines in
# fp32 in the NHWC layout (model.channels_last=true: the same numbers up to rounding); JointSR-fast
# with its own recipe (Adam 1e-3, 50-step warm-up, cosine over STEPS), as in ../run.sh.
# The Proposed rows differ only in the optimiser, each set in full here (the shipped
# jointsr_paper changed from the first to the second fix while the study ran):
#   jointsr_paper:       Adam, equalized rates (lr / sqrt(fan_in)) and a 20-step ramp: the first
#                        start fix (../start/ "after"); jointsr_paper_fp32: the same in fp32
#   jointsr_paper_raw:   Adam on the raw weights, no ramp: the paper's optimiser (../start/ "before")
#   jointsr_paper_radam: RAdam on the raw weights, no ramp (../start/ "radam")
#   jointsr_paper_radam_ramp: RAdam on the raw weights, a 100-step ramp: the shipped jointsr_paper
#                        since 2026-12-07 (../start/ "radam_ramp100")
# A step budget: the results do not depend on what else the machine does meanwhile.
#
# Resumable: a finished job (test_metrics.json) is skipped, an unfinished one continues from its
# last.ckpt, a curve already tested is not tested again. SEEDS="1", MODELS="djf coista" pick.
#
# Carrying finished runs further: START_FROM=<LOGS of shorter runs> starts each job that has not
# begun from that run's final last.ckpt (its weights, Adam state, step, epoch position and random
# state), so STEPS=3000 HORIZONS="[2000,3000]" START_FROM=logs/issue25/equal_steps adds the
# horizons past 1,000 steps without training the first 1,000 again. Exact only for a rate that
# does not depend on STEPS (the paper's constant rate; not JointSR-fast's cosine, which is run
# from step 0 instead); extend_check.sh shows it equals one uninterrupted run.
# Usage: bash experiments/paper_tables/equal_steps/run.sh [LOGS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue25/equal_steps}/cave_x4
steps=${STEPS:-3000}
horizons=${HORIZONS:-[250,500,1000,2000,3000]}
common=(experiment=paper_protocol data=cave scale=x4 logger=csv trainer.max_time=null trainer.max_steps="$steps"
        trainer.val_check_interval=250 callbacks=horizons "callbacks.horizon_checkpoints.steps=$horizons")
source experiments/paper_tables/rows.sh  # equal_step_row: the rows, shared with ../gpu.sh
for seed in ${SEEDS:-1 2 3}; do
  for model in ${MODELS:-jointsr_paper jointsr_paper_raw jointsr_paper_radam jointsr_paper_radam_ramp lmcsc djf coista jointsr}; do
    run=$logs/$model/seed_$seed
    args=$(equal_step_row "$model")
    if [ -n "${START_FROM:-}" ] && [ ! -e "$run/checkpoints/last.ckpt" ] && [ ! -f "$run/test_metrics.json" ]; then
      mkdir -p "$run/checkpoints"
      cp "$START_FROM/cave_x4/$model/seed_$seed/checkpoints/last.ckpt" "$run/checkpoints/last.ckpt.part"
      mv "$run/checkpoints/last.ckpt.part" "$run/checkpoints/last.ckpt"
    fi
    # shellcheck disable=SC2086  # equal_step_row gives a list of overrides
    "$BIN/jointsr-train" "${common[@]}" $args seed="$seed" hydra.run.dir="$run"
    if [ ! -f "$run.curve/test_curve.csv" ]; then
      "$BIN/jointsr-eval" curve_dir="$run/curve" data=cave scale=x4 logger=csv hydra.run.dir="$run.curve"
    fi
  done
done
