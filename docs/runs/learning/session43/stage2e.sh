#!/usr/bin/env bash
# After collapse.sh and collapse_e.sh (results: collapse_results.md; A and P no lead, E a lead):
# two follow-ups, written with their readings before any of these runs (2026-12-07 ~14:07 UTC).
#
# 1. Does E (RL-LSTM's RL-trained encoder at the policy's rate, --lr-mbp 5e-4) hold beyond
#    RepeatFirst? RL-LSTM, D against E, on the two other POPGym tasks where it learned and fell
#    under the defaults (RepeatPreviousEasy, PositionOnlyCartPoleEasy), seeds 100 and 101, 200k.
#    Reading (score_stage2e.py; normalised with the grid files' references; final and AUC as in
#    stage 1): E HOLDS if, over the 4 task-seed pairs, RL-LSTM's mean final under E is at least
#    D's + 0.10 and its mean AUC no more than 0.05 below D's.
# 2. Is the bandit's miss (popgym_more.yaml, seed 0: MERLIN 0.25, RL-LSTM 0.31) more than one
#    seed's noise? MERLIN and RL-LSTM at the defaults on MultiarmedBanditEasy, seeds 1 and 2.
#    Reading: the miss is REAL if MERLIN's mean final normalised score over seeds 0-2 is more than
#    0.05 below RL-LSTM's. These two seeds are extra runs beside the grid's seed 0; the grid's
#    reading stands as it was.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1
out=docs/runs/learning/session43/stage2e
mkdir -p "$out" runs/session43
run() {  # agent, env, seed, name, then train's flags
  local agent=$1 env=$2 seed=$3 name=$4; shift 4
  local tag="${agent}_${env#popgym-}"; tag="${tag%Easy-v0}_${name}_s${seed}"
  local dir="runs/session43/$tag"
  merlin-rl train --env "$env" --env-import popgym --agent "$agent" --seed "$seed" \
    --total-steps 200000 --checkpoint-interval 200000 --no-progress --run-dir "$dir" "$@" \
    > "$dir.log" 2>&1
  mkdir -p "$out/$tag"
  cp "$dir/metrics.csv" "$dir/config.json" "$out/$tag/"
}
lane() {  # seed for part 1, seed for part 2
  for env in popgym-RepeatPreviousEasy-v0 popgym-PositionOnlyCartPoleEasy-v0; do
    run rl-lstm "$env" "$1" D; run rl-lstm "$env" "$1" E --lr-mbp 5e-4
  done
  run merlin popgym-MultiarmedBanditEasy-v0 "$2" D; run rl-lstm popgym-MultiarmedBanditEasy-v0 "$2" D
}
lane 100 1 &
lane 101 2 &
wait
python docs/runs/learning/session43/score_stage2e.py "$out" docs/runs/popgym_more | tee docs/runs/learning/session43/stage2e_results.md
