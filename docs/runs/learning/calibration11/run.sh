#!/bin/bash
# Eleventh session: why MERLIN's policy learns RepeatSymbol slowly while RL-LSTM (same learner) is
# faster. Hypothesis 1: representational drift, the MBP (lr 3e-3) keeps moving the z the policy reads.
# Calibration seed 100, RepeatSymbol, 150k env steps, the tenth-session defaults (policy epochs 8,
# policy lr 5e-4); baseline = calibration9/merlin_pe8_lr5e4 (0.24). One thread per job.
r() { name=$1; shift; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed 100 --run-dir runs/calibration11/$name --overwrite --env merlin_rl/RepeatSymbol-v0 --total-steps 150000 "$@"; }
r rs_lrmbp1e3 --lr-mbp 1e-3        # 0.10: a slower MBP is worse, not better
r rs_lrmbp3e4 --lr-mbp 3e-4        # -0.03
r rs_lrmbp6e3 --lr-mbp 6e-3        # 0.16: nor is a faster one; not drift
r rs_ph128 --policy-hidden 128     # 0.30
r rs_ph256 --policy-hidden 256     # 0.41, at half the env steps/s
r rs_mean --policy-input mean      # 0.44: the sample's noise on the uninformative units
r rs_lam05 --lam 0.5               # 0.42: a shorter credit tail
r rs_ph128_mean --policy-hidden 128 --policy-input mean    # 0.51
r rs_mean_lam05 --policy-input mean --lam 0.5              # 0.75, still rising
# probe: does z carry the past? (z_lag_probe.py on rs_ph128's final checkpoint -> z_lag_probe.jsonl)
# Checks of the candidates on other seeds and tasks (same defaults otherwise; c = seed, task, steps)
c() { name=$1; seed=$2; env=$3; steps=$4; shift 4; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration11/$name --overwrite --env merlin_rl/$env --total-steps $steps "$@"; }
M="--policy-input mean --policy-hidden 128"
c cm_mean_ph128 100 ColourMatch-v0 150000 $M
c rs_mean_ph128_s101 101 RepeatSymbol-v0 150000 $M
c kd_mean_ph128 100 KeyToDoor-v0 200000 $M
c rs_mean_ph128_lam05 100 RepeatSymbol-v0 150000 $M --lam 0.5
c rs_mean_ph128_lam05_s101 101 RepeatSymbol-v0 150000 $M --lam 0.5
c kd_mean_ph128_lam05 100 KeyToDoor-v0 200000 $M --lam 0.5
c cm_mean_ph128_lam05 100 ColourMatch-v0 150000 $M --lam 0.5
c rs_mean_ph128_lam05_s102 102 RepeatSymbol-v0 150000 $M --lam 0.5
c cm_mean_ph128_lam05_s101 101 ColourMatch-v0 150000 $M --lam 0.5
# delayed rewards: the tenth-session defaults (OLD, written out) against the candidate (NEW)
g() { name=$1; seed=$2; env=$3; steps=$4; shift 4; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration11/$name --overwrite --env $env --total-steps $steps "$@"; }
OLD="--policy-input sample --policy-hidden 64 --lam 0.9"
NEW="--policy-input mean --policy-hidden 128 --lam 0.5"
g wm_def 100 merlin_rl/WaterMaze-v0 200000 $OLD
g wm_mean_ph128_lam05 100 merlin_rl/WaterMaze-v0 200000 $NEW
# wm_mean_ph128_lam05 fell behind wm_def after 70k; which of the changes? (MiniGrid not run)
g wm_lam05 100 merlin_rl/WaterMaze-v0 200000 --policy-input sample --policy-hidden 64 --lam 0.5
g wm_mean_ph128 100 merlin_rl/WaterMaze-v0 200000 --policy-input mean --policy-hidden 128 --lam 0.9
# the README's command from a fresh clone at ab6d6dd (seed 0, 300k): -> readme_s0
#   OMP_NUM_THREADS=1 merlin-rl train --no-progress
