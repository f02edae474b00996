#!/usr/bin/env bash
# Twenty-first session: does `--policy-bonus log-barrier` stop RL-LSTM's collapse on POPGym's
# RepeatFirst? (a question, no default rides on it; written before these runs)
# The twentieth session's run (docs/runs/popgym, the defaults, seed 0, 200k): RL-LSTM reached 0.88
# at 160k, then fell to chance within 20k env steps (approx KL 0.25 and both gradient norms up
# 2-5x on the update before it; entropy 0.05 before the fall). The same learner, with LB, seed 0;
# MERLIN with LB beside it (the defaults: 0.995). Needs `pip install popgym`.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session21
for agent in rl-lstm merlin; do
  merlin-rl train --no-progress --env-import popgym --env popgym-RepeatFirstEasy-v0 \
      --agent $agent --seed 0 --total-steps 200000 --checkpoint-interval 50000 \
      --policy-bonus log-barrier --run-dir $out/popgym_rf_${agent}_lb \
      > $out/popgym_rf_${agent}_lb.log 2>&1 &
done
wait
