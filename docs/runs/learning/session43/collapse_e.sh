#!/usr/bin/env bash
# A third arm of collapse.sh, for RL-LSTM alone. Written, with its reading, before collapse.sh's
# stage 1 had finished and before any of these runs (2026-12-07 ~13:50 UTC).
#
# RL-LSTM has no MBP losses: its encoder and latent (the "MBP" parameters) are trained by the RL
# loss alone, yet step at the MBP's learning rate (--lr-mbp 3e-3, 6x the policy's 5e-4). Its
# approximate KL per update on POPGym is 0.05-0.85 at its largest, MERLIN's 0.06-0.08, and the
# ninth session's RL-LSTM with 5e-4 for both (and 10 epochs) learned RepeatSymbol without a fall.
#   E: --lr-mbp 5e-4 (the RL-trained encoder at the policy's rate), RL-LSTM, seeds 100 and 101,
#      POPGym RepeatFirstEasy, 200k env steps, one thread each, side by side.
# Reading, fixed now (score_collapse.py, as stage 1): E is a LEAD for the ablations if RL-LSTM's
# mean final over the two seeds is at least its D's + 0.10 and its mean AUC no more than 0.05
# below. A lead would be a rule for every agent ("what the RL loss trains steps at --lr-policy"),
# which changes RL-LSTM's and RL-MEM's cells, not MERLIN's; not a default before a later session
# re-runs those cells.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
export OMP_NUM_THREADS=1
out=docs/runs/learning/session43/collapse
mkdir -p "$out" runs/session43
run() {  # seed
  local dir="runs/session43/rl-lstm_E_s$1"
  merlin-rl train --env popgym-RepeatFirstEasy-v0 --env-import popgym --agent rl-lstm \
    --seed "$1" --total-steps 200000 --checkpoint-interval 200000 --no-progress \
    --run-dir "$dir" --lr-mbp 5e-4 > "$dir.log" 2>&1
  mkdir -p "$out/rl-lstm_E_s$1"
  cp "$dir/metrics.csv" "$dir/config.json" "$out/rl-lstm_E_s$1/"
}
run 100 &
run 101 &
wait
python docs/runs/learning/session43/score_collapse.py "$out" | tee docs/runs/learning/session43/collapse_results.md
