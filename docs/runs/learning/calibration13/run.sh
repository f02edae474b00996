#!/bin/bash
# Thirteenth session: a pre-registered three-seed test of the twelfth session's two near-misses
# against today's defaults (lambda 0.9, --value-input sample). MERLIN alone, calibration seeds
# 101, 102, 103 (outside the grid's 0-2), today's defaults otherwise. One thread per job, two jobs.
#   arms:  def     (the defaults)
#          lam08   --lam 0.8            (twelfth session, seed 100: RS 0.83, WM 3.43; defaults 0.51 / 4.25)
#          vmean   --value-input mean   (twelfth session, seed 100: RS 0.64, WM 4.22)
# Metrics (per run, then the mean over the three seeds):
#   RS = RepeatSymbol-v0 (k = 4, 4 symbols, 51 steps) at 150k env steps: mean of the last three log rows
#   WM = WaterMaze-v0 at 200k env steps: mean of the last five log rows
# Rule, written here before any of these ran. An arm is a candidate default only if
#   (a) its RS mean >= the defaults' RS mean + 0.10 (RepeatSymbol runs go first; an arm that
#       misses (a) is not run on WaterMaze),
#   (b) its WM mean >= the defaults' WM mean - 0.50 (grid seeds 0-2 spread by 0.61 under the
#       defaults), and
#   (c) none of its three WaterMaze runs has a last-five mean below 2.50 (lambda 0.5 collapsed
#       to 0.2-1.4).
# If both arms qualify, the one with the higher RS mean goes on. A candidate becomes the default
# only after ColourMatch seed 100 reaches 0.9 within 150k and KeyToDoor seed 100's last two log
# rows average >= 3.96 (4.71 with the defaults, calibration11, less 0.75).
g() { name=$1; seed=$2; env=$3; steps=$4; shift 4; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration13/$name --overwrite --env $env --total-steps $steps "$@" > runs/calibration13/$name.log 2>&1; }
RS=merlin_rl/RepeatSymbol-v0
WM=merlin_rl/WaterMaze-v0
if [ "$1" = rs ]; then
  mkdir -p runs/calibration13
  export -f g; export RS WM
  printf '%s\n' \
    "rs_def_101 101 $RS 150000" "rs_lam08_101 101 $RS 150000 --lam 0.8" "rs_vmean_101 101 $RS 150000 --value-input mean" \
    "rs_def_102 102 $RS 150000" "rs_lam08_102 102 $RS 150000 --lam 0.8" "rs_vmean_102 102 $RS 150000 --value-input mean" \
    "rs_def_103 103 $RS 150000" "rs_lam08_103 103 $RS 150000 --lam 0.8" "rs_vmean_103 103 $RS 150000 --value-input mean" \
  | xargs -P 2 -I{} bash -c 'g {}'
fi
if [ "$1" = wm ]; then  # the arms that passed (a), passed in as "$2" (e.g. "lam08 vmean")
  mkdir -p runs/calibration13
  export -f g; export RS WM
  for s in 101 102 103; do
    echo "wm_def_$s $s $WM 200000"
    for a in $2; do
      case $a in lam08) echo "wm_lam08_$s $s $WM 200000 --lam 0.8";; vmean) echo "wm_vmean_$s $s $WM 200000 --value-input mean";; esac
    done
  done | xargs -P 2 -I{} bash -c 'g {}'
fi
# RepeatSymbol phase (main at 0e1eb0b): `bash run.sh rs`; python summary.py runs/calibration13 ->
#   def   0.69 / 0.71 / 0.49 (seeds 101 / 102 / 103), mean 0.631
#   lam08 0.90 / 0.79 / 0.78, mean 0.826 (0.9 first at 140,160 on seed 101): (a) passes
#   vmean 0.48 / -0.05 / 0.49, mean 0.307: (a) missed, not run on WaterMaze
# WaterMaze phase: `bash run.sh wm lam08`, run with main at 8834e0a (the policy LSTM fused in the
# replays: the same numbers to float rounding, ~1.5x faster); both arms on the same code.
# WaterMaze phase -> def 3.08 / 4.93 / 3.29 (mean 3.771); lam08 3.02 / 3.56 / 3.33 (mean 3.305).
#   (b) 3.305 >= 3.771 - 0.50 = 3.271: passes (by 0.03); (c) lowest 3.02 >= 2.50: passes.
#   So lambda 0.8 is a candidate default; the checks set above follow (seed 100, --lam 0.8):
#   ColourMatch must reach 0.9 within 150k; KeyToDoor's last two log rows must average >= 3.96.
# They run beside RecurrentPPO on RepeatSymbol seed 0 (the wall-time ratio, side by side:
# RecurrentPPO on one core, MERLIN seed 0 with --lam 0.5 and --lam 0.8, then the checks, on the
# other), main at 8834e0a:
#   OMP_NUM_THREADS=1 python benchmarks/peers/rppo_learning.py --env merlin_rl/RepeatSymbol-v0 --total-steps 150000 --seed 0 --out runs/calibration13/rppo_rs_s0
#   g rs_s0_lam05 0 $RS 150000 --lam 0.5; g rs_s0_lam08 0 $RS 150000 --lam 0.8
#   g cm_lam08_100 100 merlin_rl/ColourMatch-v0 150000 --lam 0.8; g kd_lam08_100 100 merlin_rl/KeyToDoor-v0 200000 --lam 0.8
# results: rppo_rs_s0 0.9 first at 95,000 after 652 s (the same curve as calibration12's: it is
#   deterministic here); rs_s0_lam05 0.9 first at 150,400 after 195 s (0.30 of RecurrentPPO's);
#   rs_s0_lam08 0.898 at 150,400 (202 s).
#   cm_lam08_100: 0.72-0.78 from 80k to 140k, first >= 0.9 at 150,400 (0.96), the row that ends
#   the 150k budget, 400 env steps past the 150k the check asks (the defaults on this seed: 0.9 at
#   100k, calibration11 cm_mean_ph128): read as written, the check is MISSED.
#   kd_lam08_100: last two rows 5.75 / 4.74, mean 5.25 >= 3.96: passes (the defaults: 4.71).
# Verdict: lambda stays 0.9 (the ColourMatch check, read as written; see docs/learning.md).
# the README's command from a fresh clone and venv at 81e227c (seed 0, 300k, beside .ci/run):
#   -> readme_s0: 0.9 first at 60,160 (113 s), final 0.99, 491 s for 300,160 env steps
