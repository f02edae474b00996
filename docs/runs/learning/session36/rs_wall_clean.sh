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
#
# Outcome (2026-12-06 18:21-18:37; two jobs at a time throughout: MERLIN beside RecurrentPPO, then
# RecurrentPPO beside benchmarks/latent.py): MERLIN (M_RepeatSymbol_s0_clean) first logged 0.9 at
# 110,080 env steps after 194.9 s (0.936 over its last three rows; 266 s for 150k).
# RecurrentPPO (rppo_RepeatSymbol_s0_clean; the eighth session's curve, row for row) first logged
# 0.9 at 105,000 after 909.3 s and was stopped at 110,000. Ratio 194.9 / 909.3 = 0.21: within
# the 1/3 asked, with the defaults.
