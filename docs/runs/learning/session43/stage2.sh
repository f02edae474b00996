#!/usr/bin/env bash
# Stage 2 of collapse.sh: does a lead against the fall keep MERLIN's home tasks? Written, with its
# reading, before stage 1 had finished and before any of these runs (2026-12-07 ~13:40 UTC).
#
# Run only for a setting that stage 1 called a LEAD; if both A and P are leads, only the one with
# the higher stage-1 mean final goes on. MERLIN on ColourMatch and RepeatSymbol (the tasks it
# learns; the ninth session's policy-only epochs were chosen on RepeatSymbol), calibration seeds
# 100 and 101, 150k env steps, the lead against D (the defaults), one thread each, two at a time.
#
# Reading, fixed now (score_stage2.py; normalised with each task's declared random and maximum
# return; final = mean of the last 5 log rows, AUC = mean over all rows, as in stage 1):
#   the lead KEEPS the home tasks if, on each of the two tasks, its mean final over the two seeds
#   is at least D's - 0.05 and its mean AUC at least D's - 0.05.
# Keeping them makes it a candidate default; becoming one needs the grid re-run with every agent
# (issue 14's rule), which is for a later session.
set -euo pipefail
setting=$1  # A or P
case "$setting" in
  A) flags=(--advantage-norm off) ;;
  P) flags=(--policy-epochs 4) ;;
  *) echo "stage2.sh: the setting must be A or P, got '$setting'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1
out=docs/runs/learning/session43/stage2
mkdir -p "$out" runs/session43
run() {  # env, seed, name, then train's flags
  local env=$1 seed=$2 name=$3; shift 3
  local tag="${env#merlin_rl/}"; tag="${tag%-v0}_${name}_s${seed}"
  local dir="runs/session43/$tag"
  merlin-rl train --env "$env" --seed "$seed" --total-steps 150000 \
    --checkpoint-interval 150000 --no-progress --run-dir "$dir" "$@" > "$dir.log" 2>&1
  mkdir -p "$out/$tag"
  cp "$dir/metrics.csv" "$dir/config.json" "$out/$tag/"
}
lane() {  # seed
  run merlin_rl/ColourMatch-v0 "$1" D; run merlin_rl/ColourMatch-v0 "$1" "$setting" "${flags[@]}"
  run merlin_rl/RepeatSymbol-v0 "$1" D; run merlin_rl/RepeatSymbol-v0 "$1" "$setting" "${flags[@]}"
}
lane 100 &
lane 101 &
wait
python docs/runs/learning/session43/score_stage2.py "$out" "$setting" | tee docs/runs/learning/session43/stage2_results.md
