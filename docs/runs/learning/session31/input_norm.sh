#!/usr/bin/env bash
# Thirty-first session, part 2: do layer-normalised inputs to the prior and posterior bring
# MiniGrid's `direction` back into z? Question, arm and reading written and committed before the
# run below, while bound.sh's arm B was running (B at 70k: direction 1.11 nats, no better than
# the defaults so far).
#
# WHY: a second reading of session30/D_MiniGrid_s100's final checkpoint (3 segments of 16
# envs): every tanh unit of the direction posterior's hidden layer sits past |0.99| (100%; the
# image posterior 100%, the mission's 97%, the prior's 86%). The memory reads m_{t-1} carry the
# slices' large means (|mu| up to 17) into the MLPs: their share of the direction posterior's
# pre-activations has std 21.4, the direction code's 0.14, h's 3.1, the prior's 4.1; the image
# code reaches |x| = 632. A saturated tanh layer passes almost no gradient to its first layer,
# so the posterior cannot learn to read the direction code. Elsewhere the posteriors are less
# saturated (ActiveVisualMatch 2-36%, InstructedGoal 1-27%, RepeatSymbol 2%, WaterMaze 36-86%).
#
# ARM N: the defaults + `--latent-input-norm layer` (new: each part of the prior's and
#   posterior's MLP inputs, each kind's encoding, h_{t-1}, m_{t-1} and the prior's parameters,
#   layer-normalised; MERLIN only). MiniGrid-MemoryS7-v0, seed 100, 100k env steps.
# READING, fixed now (as bound.sh's): N brings direction back if the mean of its direction
#   reconstruction over its last three logged rows (80k-100k) is <= 0.35 (the defaults: 0.887 /
#   0.974 / 0.999 at 90k-110k; the joint latent 0.099 / 0.299 / 0.163). If B and N both do, the
#   lower of the two goes on. The one that goes on is put to bound.sh's stage 2 (the same tasks,
#   seeds, budgets and tolerances, with its own flag in place of --logsig-bound-cost 1); it
#   becomes the default only if every part of that holds.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session31
mkdir -p $out
run() { # name env seed steps flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps --run-dir $dir \
      $resume "$@" >> $dir.log 2>&1
}
F=(--latent-input-norm layer)
case "${1:-}" in
  n) run N_MiniGrid_s100 MiniGrid-MemoryS7-v0 100 100000 --env-import minigrid "${F[@]}" ;;
  s2-1) d=$out/N_MiniGrid_s100  # continued from its 100k checkpoint to 200k
        ls $d/checkpoints/step_0000002* > /dev/null 2>&1 || merlin-rl train --no-progress \
            --run-dir $d --resume --total-steps 200000 --env-import minigrid >> $d.log 2>&1
        for s in 101 102 103; do
          run N_RepeatSymbol_s$s merlin_rl/RepeatSymbol-v0 $s 150000 "${F[@]}"
        done ;;
  s2-2) run N_WaterMaze_s100 merlin_rl/WaterMaze-v0 100 200000 "${F[@]}"
        run N_InstructedGoal_s100 merlin_rl/InstructedGoal-v0 100 200000 "${F[@]}"
        run N_ColourMatch_s100 merlin_rl/ColourMatch-v0 100 150000 "${F[@]}"
        run R_ColourMatch_s100 merlin_rl/ColourMatch-v0 100 150000 ;;
esac
#
# Outcome, stage 1 (2026-12-06 03:14-03:29, beside choice2.sh's N16): N's direction
#   reconstruction at 80k / 90k / 100k: 0.034 / 0.020 / 0.020, mean 0.025 <= 0.35: N BRINGS
#   DIRECTION BACK (better than the joint latent's 0.10-0.30 at that budget), and B did not, so
#   N goes on to stage 2 (started at once by a waiting script). On the way: direction 0.090 at
#   50k (the defaults 0.964, the joint latent 0.318); the image's reconstruction 18.5-18.6 from
#   60k (the defaults 21-23); the KL 34-58 (the defaults 35-46); the MBP's gradient norm falls
#   from 630 to 106 (the defaults 540-1,160). At 100k the direction code's share of the
#   posterior's pre-activations has std 0.95 (the defaults 0.14), the memory reads' 2.5 (21.4);
#   86% of its tanh units are still past |0.99|, against 100%.
#
# Outcome, stage 2 (2026-12-06 03:29-04:13, two runs side by side; calibration18/score.py, the
#   last five rows normalised, against session30/scores.jsonl):
#   - WaterMaze s100: N 0.259 (D 0.224): holds (+0.035)
#   - InstructedGoal s100: N 0.031 (D -0.016): holds (+0.047)
#   - MiniGrid-MemoryS7 s100, 200k: N 0.377 (D 0.380): holds (-0.003); direction 0.01-0.02 nats
#   - RepeatSymbol s101 / s102 / s103, last three rows: N 0.826 / 0.742 / 0.777, mean 0.782 (D
#     0.613 / 0.814 / 0.599, mean 0.675): holds (+0.107); 0.9 on no seed
#   - ColourMatch s100, first row >= 0.9: N 50,560, R (the defaults, beside it) 70,400: holds
#   EVERY PART HOLDS: `--latent-input-norm layer` becomes the default (MERLIN only; `--preset
#   paper` keeps none). Every MERLIN grid cell is stale under it; the ablations' stand.
