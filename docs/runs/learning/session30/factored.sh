#!/usr/bin/env bash
# Thirtieth session, part 2: the factored latent with a tenfold Discrete weight as a default
# (issue 12: a Discrete input beside an image stays out of z at the defaults). Rule written and
# committed before any run below.
#
# WHY: the twenty-ninth session narrowed the gap to the joint posterior. On ActiveVisualMatch
# with the colour shown at every step (a Discrete(8) input beside the image), the cue stays out
# of z (its reconstruction near ln 8 = 2.08 nats) under the joint latent at --discrete-weight 1
# or 10, with or without the MBP's clip; under `--latent factored --discrete-weight 10` it is in
# z with the clip kept (K: 0.03 nats at 300k, session29/choice_K_s100). The factored latent with
# weight 1 and no clip (F, the twenty-eighth session) left it out, so both changes are needed.
#
# CANDIDATE D = `--latent factored --discrete-weight 10` (the MBP's global clip kept). It
# changes MERLIN alone, and only where the observation has two or more kinds (the factored
# latent: WaterMaze, InstructedGoal, MiniGrid-MemoryS7) or a Discrete part (the weight:
# RepeatSymbol, POPGym's Discrete tasks, MiniGrid's direction). ColourMatch, MemoryGame,
# VisuomotorMapping, KeyToDoor, ActiveVisualMatch and MemoryChain have one kind and no Discrete
# input, so their runs are unchanged (mbp.MBP: factored only with kinds > 1).
# RULE, fixed now (MERLIN alone; final = the mean of the last five logged rows, normalised by
# docs/runs/learning/calibration18/score.py, unless named):
#   (1) seed 100, 200k: WaterMaze, InstructedGoal and MiniGrid-MemoryS7 each >= the defaults'
#       seed-100 run - 0.05 (the twentieth session's s2_*_bernoulli_s100, the same settings:
#       0.222, -0.019, 0.378);
#   (2) RepeatSymbol, seeds 101-103, 150k, the mean of the last three rows: the mean over the
#       seeds >= the defaults' - 0.05 (session22/rs.sh: 0.554 / 0.776 / 0.571, mean 0.634);
#   (3) POPGym RepeatFirstEasy, seed 0, 200k: the last five rows >= 0.95 (the defaults 0.998).
#   D becomes the default if (1)-(3) all hold: it closes the gap (K) and costs no task more than
#   the tolerance. Then MERLIN's grid cells on WaterMaze, InstructedGoal and MiniGrid-MemoryS7
#   are stale and are re-run. If any fails, D stays a documented setting for inputs like these.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session30
mkdir -p $out
run() { # name env seed steps flags...: skipped when finished, resumed when cut off
  local dir=$out/$1 env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps --run-dir $dir \
      --latent factored --discrete-weight 10 $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  d-1) run D_WaterMaze_s100 merlin_rl/WaterMaze-v0 100 200000
       run D_InstructedGoal_s100 merlin_rl/InstructedGoal-v0 100 200000
       for s in 101 102 103; do run D_RepeatSymbol_s$s merlin_rl/RepeatSymbol-v0 $s 150000; done ;;
  d-2) run D_MiniGrid_s100 MiniGrid-MemoryS7-v0 100 200000 --env-import minigrid
       run D_popgym_rf_s0 popgym-RepeatFirstEasy-v0 0 200000 --env-import popgym \
           --checkpoint-interval 50000 ;;
  *) echo "usage: factored.sh d-1|d-2" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-05 23:45 - 2026-12-06 00:18, two runs side by side, each beside a screen run
# of choice2.sh; scores: scores.jsonl beside this file):
#   (1) seed 100, 200k, normalised (the defaults' reference): WaterMaze 0.224 (0.222),
#       InstructedGoal -0.016 (-0.019), MiniGrid-MemoryS7 0.380 (0.378): HOLDS on all three.
#   (2) RepeatSymbol, mean of the last three rows: 0.613 / 0.814 / 0.599 (seeds 101 / 102 / 103;
#       mean 0.675) against 0.554 / 0.776 / 0.571 (mean 0.634): +0.041, HOLDS (0.9 within 150k
#       on no seed, as with the defaults).
#   (3) POPGym RepeatFirstEasy, seed 0: 0.984 over the last five rows: HOLDS.
#   D BECOMES THE DEFAULT (`--latent factored --discrete-weight 10`; --preset paper keeps the
#   paper's joint latent and weight 1). MERLIN's grid cells on WaterMaze, InstructedGoal and
#   MiniGrid-MemoryS7 are stale and re-run.
#   A caveat found beside it: the references are the twentieth session's runs, and today's code
#   does not reproduce them bit for bit. The defaults on WaterMaze seed 100 for 20k env steps
#   (runs/session30/repro_WaterMaze_s100) log 0.500 / 1.094 at 10k / 20k against 0.531 / 1.641,
#   KL 75.86 against 76.62 at the first row: some commit since changed the numerics. The
#   comparisons above are therefore level within seed-like noise, not exact; the -0.05 tolerance
#   is what they were judged by.
# Correction to the caveat (00:35, a bisect by a helper session): no commit changed the numerics.
#   The twentieth session's commit 0c249ab gives today's first row on this machine too (KL
#   75.86475546533863, return 0.5), with the reference's exact command. This machine is an Intel
#   Xeon (AVX-512); docs/performance.md names an AMD EPYC for the development machine, and
#   forcing other instruction paths here (MKL / oneDNN / ATen at AVX2) moves the first row's KL
#   between 73.5 and 77.1. Runs are reproducible on one machine, not across CPUs; the references
#   were made on another CPU.
