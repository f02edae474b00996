#!/usr/bin/env bash
# Learned, then lost: a screen on POPGym's RepeatFirst (forty-third session). Written, with its
# reading, before any of these runs (2026-12-07 ~13:05 UTC).
#
# On POPGym RepeatFirstEasy under today's defaults (seed 0, experiments/popgym.yaml) RL-LSTM
# reached 0.92 at 120k env steps and fell to 0.18 at 140k; MERLIN fell from 0.96 to 0.52 at 170k
# and came back; the twentieth session saw RL-LSTM's fall too. The forty-second session showed the
# learner walking the policy on noise at a speed set by its step per update (8 policy-only epochs)
# and, through the per-minibatch advantage normalisation, whatever the noise's size. Near a solved
# task the advantages are mostly noise. Two changes that each slow that walk:
#   A: --advantage-norm off (the advantages keep their small size once the task is solved)
#   P: --policy-epochs 4 (half the policy-only epochs)
# against D, the defaults. RL-LSTM and MERLIN, calibration seeds 100 and 101 (reported nowhere
# else), 200k env steps, one thread each, two at a time.
#
# Reading, fixed now (score_collapse.py; normalised with experiments/popgym.yaml's references,
# random -0.494, max 1; "final" = mean of the last 5 log rows; "AUC" = mean over all rows;
# "drop" = the largest fall below the running peak after the first row >= 0.8):
#   A (or P) is a LEAD against the collapse if, over the 4 agent-seed pairs, its mean final is at
#   least D's + 0.10 and its mean AUC is no more than 0.05 below D's.
# A lead is not a default: that needs the suite check (ColourMatch, RepeatSymbol and the grid's
# tasks), which this session has no time for.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1
out=docs/runs/learning/session43/collapse
mkdir -p "$out" runs/session43
run() {  # agent, seed, name, then train's flags
  local agent=$1 seed=$2 name=$3; shift 3
  local dir="runs/session43/${agent}_${name}_s${seed}"
  merlin-rl train --env popgym-RepeatFirstEasy-v0 --env-import popgym --agent "$agent" \
    --seed "$seed" --total-steps 200000 --checkpoint-interval 200000 --no-progress \
    --run-dir "$dir" "$@" > "$dir.log" 2>&1
  mkdir -p "$out/${agent}_${name}_s${seed}"
  cp "$dir/metrics.csv" "$dir/config.json" "$out/${agent}_${name}_s${seed}/"
}
lane() {  # seed
  run merlin "$1" D; run merlin "$1" A --advantage-norm off; run merlin "$1" P --policy-epochs 4
  run rl-lstm "$1" D; run rl-lstm "$1" A --advantage-norm off; run rl-lstm "$1" P --policy-epochs 4
}
lane 100 &
lane 101 &
wait
python docs/runs/learning/session43/score_collapse.py "$out" | tee docs/runs/learning/session43/collapse_results.md
