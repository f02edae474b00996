#!/usr/bin/env bash
# Thirty-sixth session: issue 12's wall-time target on RepeatSymbol with `--baseline critic`
# (the setting that met its 0.9-within-150k target on 6 of 6 seeds, session35/critic100.sh):
# MERLIN reaches 0.9 in at most 1/3 of the wall time RecurrentPPO (sb3-contrib defaults, 8 envs)
# needs, side by side in one run (one thread each, the two jobs at the same time), seed 0 as in
# the twelfth and thirteenth sessions' comparisons. A measurement, not a rule: nothing is chosen
# from it. The ratio: MERLIN's wall_time at its first logged row >= 0.9 over RecurrentPPO's.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session36
mkdir -p $out
[ -f $out/rppo_RepeatSymbol_s0/summary.csv ] || python benchmarks/peers/rppo_learning.py \
    --env merlin_rl/RepeatSymbol-v0 --seed 0 --total-steps 150000 \
    --out $out/rppo_RepeatSymbol_s0 > $out/rppo_RepeatSymbol_s0.log 2>&1 &
[ -f $out/C_RepeatSymbol_s0/checkpoints/final.pt ] || merlin-rl train --no-progress \
    --env merlin_rl/RepeatSymbol-v0 --seed 0 --total-steps 150000 --baseline critic \
    --run-dir $out/C_RepeatSymbol_s0 --overwrite > $out/C_RepeatSymbol_s0.log 2>&1
wait
