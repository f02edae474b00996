#!/bin/bash
# Ninth session: RecurrentPPO's learner taken apart on RepeatSymbol, then policy-only epochs.
# Calibration seeds 100 and 101 (not grid seeds), one thread per job, two jobs side by side
# (often beside a suite-grid job). A record of the commands; run from the repository root.
# Question: RecurrentPPO (sb3-contrib defaults) learns RepeatSymbol by ~100k env steps; our learner
# does not, with RL-LSTM or MERLIN. Which of RecurrentPPO's learner settings matters?
r() { name=$1; agent=$2; shift 2; OMP_NUM_THREADS=1 merlin-rl train --agent $agent --no-progress --seed 100 --run-dir runs/calibration9/$name --overwrite --env merlin_rl/RepeatSymbol-v0 --total-steps 150000 "$@"; }
RPPO="--num-envs 8 --tau 128 --epochs 10 --minibatches 8 --lr-policy 3e-4 --lr-mbp 3e-4 --grad-clip 0.5 --gamma 0.99 --lam 0.95 --entropy-cost 0 --reward-norm off"
HP="--lr-policy 3e-4 --lr-mbp 3e-4 --grad-clip 0.5 --gamma 0.99 --lam 0.95 --entropy-cost 0 --reward-norm off"
E10="--epochs 10 --minibatches 4 --lr-policy 5e-4 --lr-mbp 5e-4 --grad-clip 0.5"
r lstm_rppo rl-lstm $RPPO          # stopped at 70k (45 env steps/s)
r lstm_def rl-lstm
r lstm_hp rl-lstm $HP
# lstm_def learns (0.79 at 120k) and collapses (approx KL 0.73 per update); lstm_hp does not move.
# Our approx KL per update is 0.07-0.18 on RepeatSymbol, 0.005-0.01 on ColourMatch while it learns.
r merlin_tkl02 merlin --target-kl 0.02
r lstm_tkl02 rl-lstm --target-kl 0.02
r lstm_e10 rl-lstm $E10
r merlin_e10 merlin $E10           # stopped at 60k: behind the default, 10x slower
# (cm_e10, ColourMatch with E10, was stopped at 30k in favour of the policy-only epochs below)
r rlmem_def rl-mem
r merlin_def merlin                # stopped at 100k: the same run as calibration8's rs_def
# new: --policy-epochs P (policy-only epochs on the acted z_t and memory)
r merlin_pe17_lr5e4 merlin --policy-epochs 17 --lr-policy 5e-4
r merlin_pe17_lr1e3 merlin --policy-epochs 17 --lr-policy 1e-3
r merlin_pe17_lr5e4_advoff merlin --policy-epochs 17 --lr-policy 5e-4 --advantage-norm off
r lstm_pe17_lr5e4 rl-lstm --policy-epochs 17 --lr-policy 5e-4   # stopped at 120k (collapsed)
r merlin_pe8_lr5e4 merlin --policy-epochs 8 --lr-policy 5e-4
c() { name=$1; seed=$2; env=$3; steps=$4; shift 4; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration9/$name --overwrite --env merlin_rl/$env --total-steps $steps "$@"; }
c cm_pe17_lr5e4 100 ColourMatch-v0 150000 --policy-epochs 17 --lr-policy 5e-4
c avm_pe17_lr5e4 100 ActiveVisualMatch-v0 200000 --policy-epochs 17 --lr-policy 5e-4
# second calibration seed
c cm_pe8_lr5e4_s101 101 ColourMatch-v0 150000 --policy-epochs 8 --lr-policy 5e-4
c merlin_def_s101 101 RepeatSymbol-v0 150000
c merlin_pe8_lr5e4_s101 101 RepeatSymbol-v0 150000 --policy-epochs 8 --lr-policy 5e-4
# throughput (nothing else running): 3 alternating rounds of
#   OMP_NUM_THREADS=1 python benchmarks/throughput.py --env merlin_rl/RepeatSymbol-v0 --updates 15 \
#     --breakdown-updates 0 --env-seconds 0 --threads 1 --set policy_epochs=P    (P = 0, 8, 17)
# -> throughput_policy_epochs.json
# third calibration seed
c merlin_def_s102 102 RepeatSymbol-v0 150000
c merlin_pe8_lr5e4_s102 102 RepeatSymbol-v0 150000 --policy-epochs 8 --lr-policy 5e-4
c cm_pe8_lr5e4_s102 102 ColourMatch-v0 150000 --policy-epochs 8 --lr-policy 5e-4
