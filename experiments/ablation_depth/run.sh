#!/usr/bin/env bash
# Issue 11: the unfolding depth of the default JointSR, re-run so it means something.
#   bash experiments/ablation_depth/run.sh [LOGDIR]     (resumes: finished jobs are skipped,
#                                                         a killed job continues from last.ckpt)
# Six cells, T in {1,2,3} at R=3 and R in {1,2,3,4} at T=2, 3 seeds each, CAVE 640 nm x4,
# the same step budget per job: 1,250 steps, what the default (T=2 R=3) makes in 5 CPU minutes
# on this 2-core machine (5,004 steps in 20 minutes, experiments/recipe). A step budget, so a
# deeper cell is not penalised for being slower and the result does not depend on the load.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOGDIR=${1:-logs/issue11}
BIN=${BIN:-.venv/bin}
SWEEP="$LOGDIR/ablation_depth_1250"
COMMON=(experiment=ablation_depth logger=csv trainer.max_time=null trainer.max_steps=1250
        trainer.val_check_interval=125 seed=1,2,3 hydra.sweep.dir="$SWEEP")
$BIN/jointsr-train -m "${COMMON[@]}" model.net.T=2,1,3 model.net.R=3
$BIN/jointsr-train -m "${COMMON[@]}" model.net.T=2 model.net.R=1,2,4
$BIN/jointsr-report "$SWEEP" --out experiments/ablation_depth/report --reference model.net.T=2,model.net.R=3 --max-grids 2
