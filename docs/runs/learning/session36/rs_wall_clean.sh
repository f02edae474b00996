#!/usr/bin/env bash
# rs_wall.sh again with nothing else on the machine (its first try shared the cores with other
# runs and a test run): RecurrentPPO and MERLIN (today's defaults, which include the critic
# baseline since this session) side by side, one thread each, seed 0, 150k env steps.
# The ratio: MERLIN's wall_time at its first logged row >= 0.9 over RecurrentPPO's.
# RecurrentPPO may be stopped once it has logged 0.9 (only that row's wall time is used).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session36
python benchmarks/peers/rppo_learning.py --env merlin_rl/RepeatSymbol-v0 --seed 0 \
    --total-steps 150000 --out $out/rppo_RepeatSymbol_s0_clean > $out/rppo_RepeatSymbol_s0_clean.log 2>&1 &
merlin-rl train --no-progress --env merlin_rl/RepeatSymbol-v0 --seed 0 --total-steps 150000 \
    --run-dir $out/M_RepeatSymbol_s0_clean --overwrite > $out/M_RepeatSymbol_s0_clean.log 2>&1
wait
