#!/usr/bin/env bash
# Issue 12: each row's step budget, so that the paper tables compare equal CPU budgets and
# still do not depend on the machine's load while they run. For every model of the tables,
# jointsr-bench times the training step as `jointsr-train` runs it (CAVE x4 patches, batch 16,
# the model's default path: compiled NHWC for jointsr and jointsr_paper, eager for the baselines),
# and the budget is the number of steps that fit in MINUTES (5) of it. Writes
# experiments/paper_tables/budget.json (the rates, the budgets, the command). Run it alone on
# an idle machine: the rates are timings.
#   bash experiments/paper_tables/calibrate.sh              (MINUTES=5 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
minutes=${MINUTES:-5}
out=experiments/paper_tables/budget.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for model in jointsr_paper lmcsc coista djf srfbn jointsr; do
  # the path jointsr-train takes for the model (model.compile, model.channels_last): the budget is
  # the training step as it runs, so a faster path gives more steps in the same CPU minutes
  case $model in jointsr|jointsr_paper) path=compile+channels_last ;; *) path=eager ;; esac
  echo "== $model ($path)" >&2
  "$BIN/jointsr-bench" model=$model data=cave scale=x4 "train.paths=[$path]" train.repeats=20 \
    "infer.sizes=[]" hydra.run.dir="$work/$model" | tail -n 1 > "$work/$model.json"
done
"$BIN/python" - "$work" "$minutes" "$out" <<'PY'
import json, math, platform, sys, time
from pathlib import Path

work, minutes, out = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
rows = {}
for model in ("jointsr_paper", "lmcsc", "coista", "djf", "srfbn", "jointsr"):
    result = json.loads((work / f"{model}.json").read_text())
    measured = list(result["train"]["paths"])
    if measured != [result["train"]["training_path"]]:
        sys.exit(f"calibrate.sh: jointsr-train runs {model} on the {result['train']['training_path']} path, "
                 f"not the measured {measured}: fix the path in calibrate.sh")
    rate = result["train"]["steps_per_s"]
    rows[model] = {"path": result["train"]["default_path"], "steps_per_s": round(rate, 4),
                   "steps": int(50 * math.ceil(rate * minutes * 60 / 50))}
record = {"minutes": minutes, "threads": result["threads"], "machine": platform.processor() or platform.machine(),
          "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
          "command": f"bash experiments/paper_tables/calibrate.sh   (MINUTES={minutes:g})", "models": rows}
out.write_text(json.dumps(record, indent=2) + "\n")
for model, row in rows.items():
    print(f"{model:14s} {row['path']:8s} {row['steps_per_s']:7.3f} steps/s -> {row['steps']:6d} steps in {minutes:g} min")
PY
