#!/usr/bin/env bash
# Issue 25: the paper's budget on one GPU. Proposed (jointsr_paper), LMCSC, DJF, CoISTA and
# JointSR-fast on CAVE x4 under the paper protocol (Adam 1e-4, batch 16; Proposed twice, in bf16
# mixed precision as on the CPU: as shipped, RAdam at that rate after a 100-step ramp
# (jointsr_paper_radam_ramp), and under
# the paper's Adam (jointsr_paper_raw); the rows of ../equal_steps/run.sh), seed 1, every model trained to the
# same number of steps with its weights kept at the horizons 250 ... 3000, 10000, 30000 (the
# paper's ~30,000 steps), each tested on the whole test set; then the equal-step report
# (runs.csv, plot.png, README tables: experiments/paper_tables/gpu/).
#
# Sized to BUDGET_S seconds of device time (default 660 of an H100's ~12 minutes): it first
# measures each model's steps/s here (PROBE_STEPS steps each, the rate between the logged
# training clocks, compilation excluded), then keeps the largest horizon whose runs and tests
# fit what is left, and says which horizons it dropped and why.
#
# Usage (one GPU):  bash experiments/paper_tables/gpu.sh [LOGS]
# On a CPU, for a test:  ACCEL=cpu BUDGET_S=400 PROBE_STEPS=4 CANDIDATES="2 4 8" \
#                        EXTRA="data.max_test_images=1" bash experiments/paper_tables/gpu.sh LOGS
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
logs=${1:-logs/issue25/gpu}
accel=${ACCEL:-gpu}
budget=${BUDGET_S:-660}
probe_steps=${PROBE_STEPS:-60}
candidates=(${CANDIDATES:-250 500 1000 2000 3000 10000 30000})
models=(${MODELS:-jointsr_paper_radam_ramp jointsr_paper_raw lmcsc djf coista jointsr})
extra=(${EXTRA:-})
out=${OUT:-experiments/paper_tables/gpu}
start=$(date +%s)
common=(experiment=paper_protocol data=cave scale=x4 logger=csv seed=1 trainer.max_time=null
        trainer.accelerator="$accel" trainer.log_every_n_steps=$(( probe_steps >= 12 ? probe_steps / 6 : 1 ))
        "${extra[@]}")
source experiments/paper_tables/rows.sh  # equal_step_row: the rows of equal_steps/run.sh
for model in "${models[@]}"; do equal_step_row "$model" >/dev/null || exit 2; done

# 1. steps/s of every model on this machine (the rate between the first and last training-clock rows)
declare -A rate
mkdir -p "$logs/probe"
for model in "${models[@]}"; do
  run=$logs/probe/$model
  # shellcheck disable=SC2046
  "$BIN/jointsr-train" "${common[@]}" $(equal_step_row "$model") trainer.max_steps="$probe_steps" \
    trainer.val_check_interval="$probe_steps" test=false callbacks.last_checkpoint=null \
    callbacks.model_checkpoint=null skip_done=false hydra.run.dir="$run" > "$run.log" 2>&1 \
    || { echo "gpu.sh: the probe of $model failed; its log: $run.log" >&2; exit 1; }
  rate[$model]=$("$BIN/python" - "$run/csv/metrics.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r.get("train/minutes")]
(a, b) = (rows[0], rows[-1]) if len(rows) > 1 else (None, rows[-1])
steps = int(b["step"]) - (int(a["step"]) if a else 0)
minutes = float(b["train/minutes"]) - (float(a["train/minutes"]) if a else 0.0)
print(f"{steps / (60 * minutes):.3f}")
PY
)
  echo "gpu.sh: $model ${rate[$model]} steps/s"
done

# 2. the largest horizon that fits: the runs' steps at 1.25x (validation, checkpoints) plus a
#    test per horizon of each model, at the probe's test-free rate
spent=$(( $(date +%s) - start ))
left=$(( budget - spent ))
horizons=()
for h in "${candidates[@]}"; do
  need=$("$BIN/python" -c "
import sys; h, n = int(sys.argv[1]), int(sys.argv[2]); rates = [float(r) for r in sys.argv[3:]]
print(int(sum(1.25 * h / r + 20 * (n + 1) for r in rates)))" "$h" "$(( ${#horizons[@]} + 1 ))" "${rate[@]}")
  if (( need <= left )); then horizons+=("$h"); else
    echo "gpu.sh: horizon $h dropped: it needs about ${need} s, ${left} s of the budget are left"; fi
done
(( ${#horizons[@]} )) || { echo "gpu.sh: no horizon fits in ${left} s; raise BUDGET_S" >&2; exit 1; }
last=${horizons[-1]}
list=$(IFS=,; echo "[${horizons[*]}]")
echo "gpu.sh: training every model to $last steps, tested at $list"

# 3. the runs and their tests, then the report
for model in "${models[@]}"; do
  run=$logs/cave_x4/$model/seed_1
  # shellcheck disable=SC2046
  "$BIN/jointsr-train" "${common[@]}" $(equal_step_row "$model") trainer.max_steps="$last" \
    trainer.val_check_interval="$last" callbacks=horizons "callbacks.horizon_checkpoints.steps=$list" \
    test=false hydra.run.dir="$run"
  [ -f "$run.curve/test_curve.csv" ] || "$BIN/jointsr-eval" curve_dir="$run/curve" data=cave scale=x4 \
    logger=csv trainer.accelerator="$accel" "${extra[@]}" hydra.run.dir="$run.curve"
done
mkdir -p "$out"
"$BIN/python" experiments/paper_tables/equal_steps/collect.py "$logs/cave_x4" --out "$out"
echo "gpu.sh: $(( $(date +%s) - start )) s in all; report in $out"
