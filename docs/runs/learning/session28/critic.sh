#!/usr/bin/env bash
# Twenty-eighth session, part 2: the candidate `--baseline critic` (C). Written and committed
# before any run of seeds 101-103 or of stage 2 (the seed-100 RepeatSymbol run and probes that
# led to it are calibration, not part of the rule).
#
# WHY: part 1 (future_cv.sh) found that RepeatSymbol's long credit trace is noisy not because of
# the later actions' luck but because the baseline cannot foresee the later rewards: the
# policy's errors come in streaks, and V(z_t, log pi_t) does not know the remembered symbols. On
# the calibration checkpoints (seed 100, 150k, 6 segments of 32 envs) the variance of the
# policy's lambda-0.9 advantages is 0.20 with the MBP's V (0.084 at lambda 0.5, which meets the
# target), and with C's critic 0.083 against 0.169 for the MBP's V on the same steps: the noise of
# lambda 0.5 at lambda 0.9. C: the advantages' baseline is a value head on [z_t, c~_t], c~_t the
# state of a critic LSTM of its own on z_t (RecurrentPPO's separate critic; trained in the policy's
# optimiser with weight policy_value_cost on its own lambda-returns, as --baseline policy; no
# gradient to the policy's or the MBP's parameters). The MBP's return heads are trained as
# before. Calibration seed 100, RepeatSymbol 150k: C 0.728 (last three rows 0.666) against the
# defaults' 0.643 (0.592).
#
# RULE. Stage 1 (seeds 101-103; E = the defaults' existing runs on the same seeds, which
# reproduce: future_cv.sh's repro):
#   (1) RepeatSymbol, 150k: C's mean of the last three log rows, averaged over the seeds, >= E's
#       + 0.10 (E: 0.554 / 0.776 / 0.571, mean 0.634). (Whether C meets issue 12's target, 0.9
#       within 150k, is reported as well; it is not the rule.) AND
#   (2) WaterMaze, 200k: C's mean normalised score (last five rows, calibration18/score.py) >=
#       E's mean - 0.05 (E: 0.240 / 0.171 / 0.202, mean 0.204).
# Stage 2 (only if stage 1 holds): ColourMatch fresh seeds 13-16 at 150k, C reaches 0.9 on at
# least as many seeds as E (3 of 4); seed 100 at 200k on KeyToDoor, MemoryGame,
# ActiveVisualMatch, VisuomotorMapping, InstructedGoal and MiniGrid-MemoryS7 >= E - 0.05 each
# (E: 0.376, 0.101, 0.384, 0.019, -0.019, 0.378); MERLIN on POPGym RepeatFirstEasy (seed 0, 200k)
# >= 0.95. C becomes the default only if both stages hold; then the grid's cells are re-run
# (every agent's advantages change).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session28
mkdir -p $out
run() { # dir name, env, seed, steps, extra args...: skipped when finished, resumed when cut off
  local dir=$out/$1 env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps \
      --run-dir $dir $resume "$@" >> $dir.log 2>&1
}
rs() { run RepeatSymbol_C_s$1 merlin_rl/RepeatSymbol-v0 $1 150000 --baseline critic; }
wm() { run WaterMaze_C_s$1 merlin_rl/WaterMaze-v0 $1 200000 --baseline critic; }
cm() { run ColourMatch_C_s$1 merlin_rl/ColourMatch-v0 $1 150000 --baseline critic; }
s2() { run s2_$1_C_s100 $2 100 200000 --baseline critic "${@:3}"; }
case "${1:-}" in
  stage1-1) wm 101; rs 101; rs 102 ;;
  stage1-2) wm 102; wm 103; rs 103 ;;
  stage2-1) cm 13; cm 14; for t in KeyToDoor MemoryGame ActiveVisualMatch; do s2 $t merlin_rl/$t-v0; done ;;
  stage2-2)
    cm 15; cm 16
    s2 MiniGrid MiniGrid-MemoryS7-v0 --env-import minigrid
    for t in VisuomotorMapping InstructedGoal; do s2 $t merlin_rl/$t-v0; done
    run popgym_rf_merlin_C popgym-RepeatFirstEasy-v0 0 200000 --env-import popgym \
        --checkpoint-interval 50000 --baseline critic ;;
  *) echo "usage: critic.sh stage1-1|stage1-2|stage2-1|stage2-2" >&2; exit 2 ;;
esac
#
# Outcome of stage 1 (2026-12-05 18:59-19:17, two runs side by side):
#   (1) RepeatSymbol, mean of the last three rows: C 0.682 / 0.666 / 0.823 (mean 0.724) against
#       E 0.554 / 0.776 / 0.571 (mean 0.634): +0.090, the rule asked for +0.10. FAILS (by 0.010).
#       Ahead on seeds 101 and 103, behind on 102. 0.9 within 150k on no seed (seed 103's last row
#       0.891; E: none either).
#   (2) WaterMaze, normalised: C 0.199 / 0.146 / 0.188 (mean 0.178) against E 0.240 / 0.171 /
#       0.202 (mean 0.204): -0.026, within the -0.05 allowed. HOLDS (behind on all three seeds).
# Stage 1 fails, stage 2 is not run: C stays an option (`--baseline critic`).
