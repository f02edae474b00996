#!/usr/bin/env bash
# Twentieth session, part D, stage 2 (the candidate `--image-output bernoulli`; why and stage 1:
# bernoulli.sh beside this file). Written out while stage 1 ran, before any stage-2 run.
#
# RULE: B becomes the default if stage 1 held and, on seed 100 at 200k, its final normalised
# score (the mean of the last five logged rows, docs/runs/learning/calibration18/score.py) is
# >= L's - 0.05 on each of: WaterMaze (L 0.188), ActiveVisualMatch (0.413), MemoryGame (0.114),
# VisuomotorMapping (0.017), InstructedGoal (0.015), MiniGrid-MemoryS7 (0.400) (L = linear, the
# default; its runs: docs/runs/learning/image_output/). A miss on one task only, by less than
# 0.15, gets seed 101 for both outputs there, and the two-seed mean decides it. Then MERLIN's 24
# grid cells are re-run under B (the ablations have no decoders, so theirs stand).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session20
for t in WaterMaze MemoryGame ActiveVisualMatch VisuomotorMapping InstructedGoal; do
  [ -f $out/s2_${t}_bernoulli_s100/checkpoints/final.pt ] && continue
  merlin-rl train --no-progress --env merlin_rl/$t-v0 --seed 100 --total-steps 200000 \
      --image-output bernoulli --run-dir $out/s2_${t}_bernoulli_s100 \
      > $out/s2_${t}_bernoulli_s100.log 2>&1
done
merlin-rl train --no-progress --env MiniGrid-MemoryS7-v0 --env-import minigrid --seed 100 \
    --total-steps 200000 --image-output bernoulli --run-dir $out/s2_MiniGrid_bernoulli_s100 \
    > $out/s2_MiniGrid_bernoulli_s100.log 2>&1
