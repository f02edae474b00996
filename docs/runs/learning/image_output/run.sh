#!/usr/bin/env bash
# Nineteenth session: the image decoder's sigmoid saturates (docs/learning.md, nineteenth session).
#
# Finding, before any run below (the eighteenth session's one-object InstructedGoal checkpoint,
# seed 100, 200k; /tmp probe on 64 episodes x 12 steps): MERLIN's reconstruction from mu_q draws
# the agent (squared error 0.2 on its pixels) and the floor (0.02) but not the object (7.14: all
# of the image loss's 7.5); the decoder's logits on the object's bright channels are -52 on
# average (10% / 50% / 90%: -95 / -47 / -20), where sigmoid' is 4e-6: the squared error of
# sigmoid(logit) gives those pixels no gradient, so the object, never drawn early, is never drawn.
# The same encoder and MLP decoder trained offline as a plain VAE on random-policy frames do
# draw it (test loss 0.82 after 1,500 steps). Candidate L = `--image-output linear`: the squared
# error of the decoder's output itself (a Gaussian of fixed scale, as DESIGN.md says), whose
# gradient 2 (y - x) never vanishes.
#
# STEP 1, diagnostic (seed 100, 200k; the eighteenth session's runs are the reference):
# one-object InstructedGoal (defaults: image loss 7.55, return 0.608; RL-LSTM 0.873) and
# KeyToDoor (defaults 0.389 normalised, image loss 0.3).
#
# RULE for the default, written before any run below. MERLIN alone, the grid's settings (200k
# env steps; 150k on ColourMatch), calibration seed 100 (outside the grid; CPU runs are
# reproducible, so an earlier seed-100 run under identical settings stands). L becomes the
# default if all hold:
#  1. ColourMatch: L reaches 0.9 within 150k.
#  2. Every other suite task with an image (MemoryGame, WaterMaze, VisuomotorMapping, KeyToDoor,
#     ActiveVisualMatch, InstructedGoal, MiniGrid-MemoryS7): L's final normalised score (mean of
#     the last five logged rows; docs/runs/learning/calibration18/score.py) >= the defaults' on
#     the same seed - 0.05. A miss on one task only, by less than 0.15, gets seed 101 for both
#     settings there, and the two-seed mean decides for it.
#  3. And L is ahead (+0.05 or more) on at least one task: a change that moves nothing is not
#     worth re-running the grid's 24 MERLIN cells for.
# (MemoryChain and RepeatSymbol have no image: L changes nothing there.) If it holds, MERLIN's
# grid cells are re-run under the new default; the ablations have no decoders, so theirs stand.
# Order: KeyToDoor first (the task where the sigmoid decoder draws well: the risk), then the
# tasks by how much of their image loss is left.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/image_output
mkdir -p $out
tr() { merlin-rl train --seed 100 --total-steps 200000 --no-progress "$@"; }
# step 1 (and rule 2's KeyToDoor; its defaults run: calibration18/kd_def)
[ -n "$step2" ] || { tr --env merlin_rl/InstructedGoal-v0 --env-kwargs '{"num_objects": 1}' --image-output linear \
    --run-dir $out/ig1_lin > $out/ig1_lin.log 2>&1 &
tr --env merlin_rl/KeyToDoor-v0 --image-output linear --run-dir $out/kd_lin > $out/kd_lin.log 2>&1; }
wait
# STEP 2: the rest of the rule. Defaults' seed-100 runs that stand (identical settings):
# KeyToDoor calibration18/kd_def, InstructedGoal calibration16/ig_def_100, WaterMaze
# vector_sigma/wm_learned_s100. The others are run here beside the candidate.
pair() { # task, short name, extra args... : the candidate, and the defaults unless $nodef
  local env=$1 name=$2; shift 2
  if [ -z "$nodef" ]; then
    tr --env "$env" "$@" --run-dir $out/${name}_def > $out/${name}_def.log 2>&1 &
  fi
  tr --env "$env" "$@" --image-output linear --run-dir $out/${name}_lin > $out/${name}_lin.log 2>&1
  wait
}
[ -n "$c3pair" ] && c3_pair
two() { # two candidates side by side (their defaults stand)
  tr --env "$1" --image-output linear --run-dir $out/${2}_lin > $out/${2}_lin.log 2>&1 &
  tr --env "$3" --image-output linear --run-dir $out/${4}_lin > $out/${4}_lin.log 2>&1
  wait
}
[ -n "$c3pair" ] && c3_pair
two merlin_rl/InstructedGoal-v0 ig merlin_rl/WaterMaze-v0 wm
pair merlin_rl/ActiveVisualMatch-v0 avm
pair merlin_rl/VisuomotorMapping-v0 vm
pair merlin_rl/MemoryGame-v0 mg
tr --env merlin_rl/ColourMatch-v0 --total-steps 150000 --image-output linear \
    --run-dir $out/cm_lin > $out/cm_lin.log 2>&1 &
tr --env MiniGrid-MemoryS7-v0 --env-import minigrid --run-dir $out/mgrid_def > $out/mgrid_def.log 2>&1
wait
nodef=1 pair MiniGrid-MemoryS7-v0 mgrid --env-import minigrid
# (As run: the script was stopped once cm_lin and mgrid_def were going, and mgrid_lin, then the
# C3 pair below, were started by a two-slot queue as cores came free; the same commands.)
#
# OUTCOME of the first rule (scores.jsonl, normalised, mean of the last five logged rows;
# defaults -> L): ColourMatch 0.9 at 80,000 (rule 1 met); KeyToDoor 0.389 -> 0.356 (-0.033),
# InstructedGoal -0.009 -> 0.015, WaterMaze 0.152 -> 0.188, ActiveVisualMatch 0.357 -> 0.413
# (+0.056: rule 3 met), VisuomotorMapping 0.014 -> 0.017, MemoryGame 0.098 -> 0.114,
# MiniGrid-MemoryS7 0.388 -> 0.400. All hold: L IS THE DEFAULT (config.Config.image_output).
# One object (step 1): 0.965 (0.9 at 100,480; RL-LSTM 0.873, 0.9 at 170,240; sigmoid 0.608).
#
# SECOND CANDIDATE, its rule written before any of its runs (while the first rule's runs were
# still going; its outcome not yet known). The eighteenth session's C1 (`--latent factored`
# without the MBP's clip) put InstructedGoal's instruction into z_0 but lost KeyToDoor (0.193
# against 0.389: the image loss ended at 1.5 without the clip, 0.3 with it). A saturating sigmoid
# is one way an unclipped image step could hurt the drawing (large steps push logits far below
# zero, where they stay), so C1 is tried again on top of L:
# C3 = `--image-output linear --latent factored --mbp-clip off`, against L.
#  A. The pair first (seed 100, 200k): InstructedGoal (step-0 NLL from experiments/cue_probe.py
#     < 2.0) and KeyToDoor (>= L's 0.356 - 0.05). If either misses, C3 stops there.
#  B. Then the first rule's 1-3 with C3 in place of L and L in place of the defaults, plus
#     MemoryChain (length 30, 150k; the clip acts there too) >= 0.8.
c3="--image-output linear --latent factored --mbp-clip off"
# OUTCOME of C3's step A: InstructedGoal's step-0 NLL 2.956 (cue_probe_ig_c3.jsonl; colour 17%,
# shape 36%) and KeyToDoor 0.265 (L: 0.356, -0.091): both miss. C3 stops; not adopted.
c3_pair() {
  tr --env merlin_rl/InstructedGoal-v0 $c3 --run-dir $out/ig_c3 > $out/ig_c3.log 2>&1 &
  tr --env merlin_rl/KeyToDoor-v0 $c3 --run-dir $out/kd_c3 > $out/kd_c3.log 2>&1
  wait
}
[ -n "$c3pair" ] && c3_pair
