#!/usr/bin/env bash
# Issue 25: the bf16 mixed-precision training step (trainer.precision=bf16-mixed) beside the fp32
# paths, for the paper network and the baselines, on CAVE x4 training batches (16 x 44 x 44).
# One jointsr-bench process per model, its paths interleaved (ratios within one process are the
# result; absolute times vary between idle windows). Run on an idle machine:
#   bash experiments/performance/bf16.sh experiments/performance/bf16_<date>
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
out=${1:?usage: bf16.sh OUT_FOLDER}
mkdir -p "$out"
common=(data=cave scale=x4 "infer.sizes=[]")
run() {  # model, repeats, paths, overrides...
  local model=$1 repeats=$2 paths=$3; shift 3
  "$BIN/jointsr-bench" "${common[@]}" model="$model" train.repeats="$repeats" "train.paths=$paths" "$@" \
    hydra.run.dir="$out/runs/$model" > "$out/$model.txt"
  tail -n 1 "$out/$model.txt" > "$out/$model.json"
  echo "bf16.sh: $model done"
}
run jointsr_paper 12 "[eager,bf16,compile+channels_last,compile+channels_last+bf16]" precision=bf16-mixed
run lmcsc 20 "[eager,channels_last,bf16,channels_last+bf16]"
run djf 40 "[eager,channels_last,bf16,channels_last+bf16]"
run srfbn 12 "[eager,channels_last,bf16,channels_last+bf16]"
run jointsr 30 "[compile+channels_last,compile+channels_last+bf16]"
