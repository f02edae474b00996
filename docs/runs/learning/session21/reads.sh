#!/usr/bin/env bash
# Twenty-first session: more policy read keys (`--policy-reads 3`, new; the paper's policy has
# one). Written, with its rule, before any run below.
#
# Why: the policy's one key tells apart only the cues whose rows it matches (ColourMatch seed 7
# of the twentieth session read row 0 for red and yellow, not for green and blue, and mixed those
# two up: choice_probe_session20.jsonl), and on ActiveVisualMatch the policy's key put less than
# uniform weight on the rows written while the cue was in view (0.02-0.09 against 0.09-0.11,
# twentieth session). With K keys, each with its own strength, more rows can be read at once.
#
# RULE, stage 1 (MERLIN alone, seed 100, 200k, the defaults + `--policy-reads 3`; E = the
# defaults' seed-100 runs of the twentieth session, docs/runs/learning/session20/
# s2_ActiveVisualMatch_bernoulli_s100 and kd_bernoulli_s100): R3 goes to stage 2 (the rest of the
# suite and ColourMatch seeds 13-16, next session) if it is ahead by >= 0.05 on at least one of
# ActiveVisualMatch (E 0.384) and KeyToDoor (E 0.376), and behind by no more than 0.05 on the
# other (normalised, the mean of the last five logged rows, calibration18/score.py).
# Also asked (no rule): ActiveVisualMatch's cue probe of the final checkpoint (256 episodes): do
# the policy's keys put more than uniform weight on the cue's rows, and does the choice beat 25%?
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session21
for t in ActiveVisualMatch KeyToDoor; do
  merlin-rl train --no-progress --env merlin_rl/$t-v0 --seed 100 --total-steps 200000 \
      --policy-reads 3 --run-dir $out/reads3_${t}_s100 > $out/reads3_${t}_s100.log 2>&1 &
done
wait
#
# Outcome (scores.jsonl; ran 04:52-04:59, side by side): ActiveVisualMatch 0.366 (E 0.384,
# -0.018), KeyToDoor 0.410 (E 0.376, +0.034). Neither is ahead by 0.05: stage 1 fails, R3 does
# not go to stage 2 and the default stays one key. Cue probe of ActiveVisualMatch
# (cue_probe_avm_reads3_s100.jsonl, 256 episodes): the square seen in 63% of episodes, drawn in
# the right colour 35%; the three policy keys put 0.062 / 0.043 / 0.063 of their weight on the
# cue's rows (uniform 0.079) and the choice after seeing it matches 25.8% (chance 25%): more keys
# do not read the cue either.
