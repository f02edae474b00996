#!/bin/bash
# Fourteenth calibration (thirteenth session): more, smaller policy-only steps. RecurrentPPO takes
# ~4.5x as many policy steps per env step as MERLIN's defaults (160 per 1,024 env steps against
# 3 x 2 joint + 8 x 2 policy-only = 22 per 640), and RepeatSymbol's plateau was located in the
# policy gradient (eighth session). New setting --policy-minibatches M' (0 = --minibatches = 2):
# each policy-only epoch in M' minibatches of environments; the joint epochs are unchanged.
# MERLIN alone, calibration seeds 101, 102, 103, today's defaults otherwise, one thread per job,
# two jobs; all arms on the same code (the policy-minibatches branch, d91333a: main + the setting;
# on main as 114585b after a rebase).
#   arms:  def    (the defaults, re-run on this code)
#          pm4    --policy-minibatches 4   (8 x 4 = 32 policy-only steps of 8 envs each)
#          pm8    --policy-minibatches 8   (8 x 8 = 64 policy-only steps of 4 envs each)
# Metrics as in calibration13: RS = RepeatSymbol at 150k, mean of the last three log rows;
# WM = WaterMaze at 200k, mean of the last five log rows; per-run wall time is reported too.
# Rule, written here before any of these ran. An arm is a candidate default only if
#   (a) its RS mean over the three seeds >= the defaults' + 0.10 (RepeatSymbol runs first; an arm
#       that misses (a) is not run on WaterMaze),
#   (b) its WM mean >= the defaults' - 0.50, and
#   (c) none of its WaterMaze runs ends below 2.50.
# If both arms qualify, pm4 (the cheaper) goes on unless pm8's RS mean is higher by > 0.10. A
# candidate becomes the default only after ColourMatch seed 100 first logs 0.9 at or before
# 150,000 env steps and KeyToDoor seed 100's last two log rows average >= 3.96, and its cost in
# env steps/s is reported (measured in alternating rounds against the defaults).
g() { name=$1; seed=$2; env=$3; steps=$4; shift 4; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration14/$name --overwrite --env $env --total-steps $steps "$@" > runs/calibration14/$name.log 2>&1; }
RS=merlin_rl/RepeatSymbol-v0
WM=merlin_rl/WaterMaze-v0
mkdir -p runs/calibration14
export -f g; export RS WM
if [ "$1" = rs ]; then
  for s in 101 102 103; do
    echo "rs_def_$s $s $RS 150000"
    echo "rs_pm4_$s $s $RS 150000 --policy-minibatches 4"
    echo "rs_pm8_$s $s $RS 150000 --policy-minibatches 8"
  done | xargs -P 2 -I{} bash -c 'g {}'
fi
if [ "$1" = wm ]; then  # the arms that passed (a), as "$2" (e.g. "pm4 pm8")
  for s in 101 102 103; do
    echo "wm_def_$s $s $WM 200000"
    for a in $2; do
      case $a in pm4) echo "wm_pm4_$s $s $WM 200000 --policy-minibatches 4";; pm8) echo "wm_pm8_$s $s $WM 200000 --policy-minibatches 8";; esac
    done
  done | xargs -P 2 -I{} bash -c 'g {}'
fi
# RepeatSymbol phase, `PYTHONPATH=<policy-minibatches worktree>/src bash run.sh rs` (d91333a):
#   def 0.55 / 0.78 / 0.57 (seeds 101 / 102 / 103), mean 0.634 (calibration13's defaults on the
#     code before the fused LSTM: 0.631), 172-180 s per run
#   pm4 0.43 / 0.75 / 0.52, mean 0.569: (a) missed; 187-194 s
#   pm8 0.69 / 0.40 / 0.42, mean 0.505: (a) missed; 217-226 s
# Neither passed (a): no WaterMaze phase; --policy-minibatches stays 0 (= --minibatches).
# python docs/runs/learning/calibration13/summary.py docs/runs/learning/calibration14 --arms def,pm4,pm8
