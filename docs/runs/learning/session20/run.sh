#!/usr/bin/env bash
# Twentieth session (docs/learning.md, "Twentieth session"). Questions and rules written before
# any of these runs, after finishing the grid's last MERLIN cells under `--image-output linear`.
#
# Already measured (no training; experiments/cue_probe.py on the grid's final checkpoints, 1,024
# episodes each): cue_probe_kd_grid_linear.jsonl and cue_probe_avm_grid_linear.jsonl here. Under
# the new default MERLIN fetches KeyToDoor's key in 77 / 45 / 75% of episodes (seeds 0-2) and
# opens the door in 59 / 32 / 51% (the sigmoid grid: 20 / 35 / 23% and 10 / 14 / 12%).
# ActiveVisualMatch's choice is still at chance after seeing the square (23 / 27 / 23%).
#
# A. KeyToDoor's budget under the new default. MERLIN alone, calibration seed 100: its 200k
#    image_output run (runs/image_output/kd_lin, normalised 0.356 by the mean of the last five
#    logged rows) resumed exactly from its 200,320-step checkpoint to 600k env steps.
#    RULE: "the budget explains KeyToDoor's shortfall" if the 600k score >= 0.356 + 0.2 = 0.556.
#    If so, experiments/paper_suite.yaml gives KeyToDoor a 600k budget for all three agents
#    (every seed, next sessions: 9 runs, ~2.5 h of both cores); if not, the budget stays 200k
#    (the fifteenth session's 1M run under the sigmoid fell back from 0.50 to 0.38).
# B. ColourMatch's seed spread (issue 12's target: 0.9 within 150k on 3 seeds; the grid's seed 2
#    missed under linear). Seeds 3, 4 and 5 under both image outputs, 150k, the grid's settings.
#    Counted: the seeds that reach 0.9 within 150k (first logged row >= 0.9 of the maximum).
#    RULE: the default is revisited (a rule for it next session) only if linear passes on fewer
#    of these three seeds than the sigmoid; else the grid's seed 2 is read as spread.
# C. ActiveVisualMatch's short-gap control for MERLIN under linear (the eighteenth session's ran
#    with the saturating sigmoid: match after seeing 25.5%, chance 25%). distractor_steps 5,
#    seed 100, 200k, then cue_probe.py (256 episodes). Question: does the choice after seeing the
#    square now beat chance (match_seen >= 0.35)? If not, the conjunction of cue and view is
#    still the obstacle, image drawing or not.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session20
doc=docs/runs/learning/session20
mkdir -p $out
tr() { merlin-rl train --no-progress "$@"; }
lane_a() {
  # A: resume (a copy of runs/image_output/kd_lin without final.pt, so latest.pt is resumed)
  [ -d $out/kd_lin_s100 ] || { cp -r runs/image_output/kd_lin $out/kd_lin_s100 &&
      rm -f $out/kd_lin_s100/checkpoints/final.pt; }
  tr --env merlin_rl/KeyToDoor-v0 --seed 100 --total-steps 600000 --resume \
      --run-dir $out/kd_lin_s100 > $out/kd_lin_s100.log 2>&1
  # C
  tr --env merlin_rl/ActiveVisualMatch-v0 --env-kwargs '{"distractor_steps": 5}' --seed 100 \
      --total-steps 200000 --run-dir $out/avm_d5_lin_s100 > $out/avm_d5_lin_s100.log 2>&1
  python experiments/cue_probe.py --checkpoint $out/avm_d5_lin_s100/checkpoints/final.pt \
      --episodes 256 > $doc/cue_probe_avm_d5_lin_s100.jsonl
}
lane_b() {
  for s in 3 4 5; do
    for o in linear sigmoid; do
      tr --env merlin_rl/ColourMatch-v0 --seed $s --total-steps 150000 --image-output $o \
          --run-dir $out/cm_${o}_s$s > $out/cm_${o}_s$s.log 2>&1
    done
  done
}
lane_a & lane_b
wait
#
# Outcomes (scores.jsonl; docs/learning.md, twentieth session):
# A. KeyToDoor seed 100 at 600k: 0.441 (0.356 at 200k): +0.085 < 0.2, the rule is missed and the
#    grid's budget stays 200k (the curve reaches ~0.45 by 300k and creeps after).
# B. ColourMatch 0.9 within 150k, seeds 3 / 4 / 5: linear 90,240 / not reached (0.68) / 80,000;
#    sigmoid 90,240 / 70,400 / 60,160. Linear passes on fewer (2 against 3): the default is
#    revisited: bernoulli.sh (a candidate, written this session).
# C. ActiveVisualMatch, distractor 5, linear: seen 41%, drawn 85%, policy read on the cue rows
#    0.46 (uniform 0.30), match after seeing 27% (chance 25%): no, the choice is still not learned.
