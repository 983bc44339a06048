#!/usr/bin/env bash
# Issue 12: the paper's CAVE x4 and RGB-NIR x4 tables, with seeds, at an equal CPU budget.
# Rows: "Proposed" = jointsr_paper (the paper's network), the baselines lmcsc, coista, djf,
# srfbn each as published (conf/experiment/paper_protocol.yaml: its own loss, Adam 1e-4
# constant, batch 16, all 20 training images, the final weights tested), "JointSR-fast (ours,
# CPU recipe)" = model=jointsr with its own recipe (Adam 1e-3, 50-step warm-up, cosine over the
# budget) under the same data protocol, and bicubic.
#
# The budget: every trained job gets the number of training steps its model makes in 5 minutes
# of training-step time on this machine (experiments/paper_tables/budget.json, measured idle by
# calibrate.sh). A step budget, not the clock: the jobs then give the same result whatever else
# the machine does while they run, and each model still gets the same CPU time. Validation
# (crops of training images: a monitor, not a selection) every 1000 steps; data preparation
# and the test are outside the budget (CoISTA's stride-1 test takes ~11 s per 512x512 image).
# 3 seeds on CAVE x4, 2 on RGB-NIR x4: 6 models x 5 seeds = 30 trained jobs, about 3 hours.
#
# Resumable: re-running the same command skips finished jobs (skip_done) and continues an
# unfinished one from its last.ckpt; the bicubic runs are skipped when their
# test_metrics.json exists. Then jointsr-report writes experiments/paper_tables/<task>/.
#
# Usage: bash experiments/paper_tables/run.sh [LOGS]
# TASKS="cave_x4 nir_x4" and MODELS="jointsr_paper lmcsc coista djf srfbn jointsr" (the defaults)
# pick and order the tasks and models, e.g. to run the rows a question needs first. (Two copies
# of one thread each, one per task, made no more jobs per hour than one copy on two threads.)
# SEEDS="3" runs those seeds instead of the task's own (e.g. a third RGB-NIR seed for the rows
# whose comparison two seeds left open).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue12/paper_tables}
out=experiments/paper_tables
budget=$out/budget.json
[ -f "$budget" ] || { echo "run.sh: $budget is missing: run bash $out/calibrate.sh first (idle machine)" >&2; exit 2; }
steps() { "$BIN/python" -c "import json, sys; print(json.load(open(sys.argv[1]))['models'][sys.argv[2]]['steps'])" "$budget" "$1"; }
common=(logger=csv trainer.max_time=null trainer.val_check_interval=1000)
fast_recipe=(model.optimizer.lr=1e-3
             "model.scheduler={_target_:jointsr.training.module.warmup_cosine,_partial_:true,warmup_steps:50}")
for task in ${TASKS:-cave_x4 nir_x4}; do
  case $task in
    cave_x4) data=cave; seeds=1,2,3 ;;
    nir_x4) data=rgbnir; seeds=1,2 ;;
  esac
  seeds=${SEEDS:-$seeds}
  protocol=(experiment=paper_protocol data=$data scale=x4)
  if [ ! -f "$logs/$task/bicubic/test_metrics.json" ]; then  # parameter-free: one run stands for every seed
    "$BIN/jointsr-eval" model=bicubic data="$data" scale=x4 logger=csv hydra.run.dir="$logs/$task/bicubic"
  fi
  # Proposed and the published baselines, each as published, each with its own step budget;
  # then JointSR-fast (model=jointsr): our CPU recipe, its own row, in fast/seed_N (its overrides
  # make a job name longer than a file name may be). MODELS picks and orders them.
  for model in ${MODELS:-jointsr_paper lmcsc coista djf srfbn jointsr}; do
    if [ "$model" = jointsr ]; then
      "$BIN/jointsr-train" -m "${protocol[@]}" model=jointsr seed=$seeds trainer.max_steps="$(steps jointsr)" \
        "${common[@]}" "${fast_recipe[@]}" hydra.sweep.dir="$logs/$task/fast" 'hydra.sweep.subdir=seed_${seed}'
    else
      # these tables ran Proposed under the paper's Adam, before start/ (jointsr_paper now ships
      # RAdam and a 100-step ramp); PROPOSED_AS_SHIPPED=1 runs it as shipped instead
      paper_adam=()
      [ "$model" = jointsr_paper ] && [ "${PROPOSED_AS_SHIPPED:-0}" != 1 ] && \
        paper_adam=(model.optimizer._target_=torch.optim.Adam model.warmup_steps=0)
      "$BIN/jointsr-train" -m "${protocol[@]}" model=$model seed=$seeds trainer.max_steps="$(steps $model)" \
        "${common[@]}" "${paper_adam[@]}" hydra.sweep.dir="$logs/$task/paper"
    fi
  done
  "$BIN/jointsr-report" "$logs/$task" --out "$out/$task" --max-grids 2 --reference jointsr_paper
done
