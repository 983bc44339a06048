#!/usr/bin/env bash
# Issue 12: the paper's CAVE x4 and RGB-NIR x4 tables, with seeds, at an equal CPU budget.
# Rows: "Proposed" = jointsr_paper (the paper's network), the baselines lmcsc, coista, djf,
# srfbn each as published (conf/experiment/paper_protocol.yaml: its own loss, Adam 1e-4
# constant, batch 16, all 20 training images, the final weights tested), "JointSR-fast (ours,
# CPU recipe)" = model=jointsr with its own recipe (Adam 1e-3, 50-step warm-up, cosine over the
# budget) under the same data protocol, and bicubic. Every trained job gets MINUTES of training
# on the clock (trainer.max_time; data preparation and the test are outside it); 3 seeds on
# CAVE x4, 2 on RGB-NIR x4. Jobs: 6 models x 3 seeds + 6 x 2 = 30 trained jobs, about 3.5 hours
# on a 2-core CPU at 5 minutes each (test included: CoISTA's stride-1 test takes ~11 s per
# 512x512 image on one thread).
#
# Resumable: re-running the same command skips finished jobs (skip_done) and continues an
# unfinished one from its last.ckpt, the training clock included; the bicubic runs are skipped
# when their test_metrics.json exists. Then jointsr-report writes experiments/paper_tables/<task>/.
#
# Usage: bash experiments/paper_tables/run.sh [LOGS]        (MINUTES=5 by default)
set -euo pipefail
minutes=${MINUTES:-5}
logs=${1:-logs/issue12/paper_tables}
out=experiments/paper_tables
budget=$(printf "00:00:%02d:00" "$minutes")
# the clock alone ends training; validation (crops of training images: a monitor, not a
# selection) every 1000 steps, so that CoISTA's stride-1 validation does not eat its budget
common=(logger=csv "trainer.max_time=$budget" trainer.max_steps=-1 trainer.val_check_interval=1000)
fast_recipe=(model.optimizer.lr=1e-3
             "model.scheduler={_target_:jointsr.lit.warmup_cosine,_partial_:true,warmup_steps:50}")
for task in cave_x4 nir_x4; do
  case $task in
    cave_x4) data=cave; seeds=1,2,3 ;;
    nir_x4) data=rgbnir; seeds=1,2 ;;
  esac
  if [ ! -f "$logs/$task/bicubic/test_metrics.json" ]; then  # parameter-free: one run stands for every seed
    jointsr-eval model=bicubic data="$data" scale=x4 logger=csv hydra.run.dir="$logs/$task/bicubic"
  fi
  # Proposed and the published baselines, each as published
  jointsr-train -m experiment=paper_$task model=jointsr_paper,lmcsc,coista,djf,srfbn seed=$seeds \
    "${common[@]}" hydra.sweep.dir="$logs/$task/paper"
  # JointSR-fast: our CPU recipe, its own row
  jointsr-train -m experiment=paper_$task model=jointsr seed=$seeds "${common[@]}" "${fast_recipe[@]}" \
    hydra.sweep.dir="$logs/$task/fast"
  jointsr-report "$logs/$task" --out "$out/$task" --max-grids 2 --reference jointsr_paper
done
