#!/usr/bin/env bash
# Twenty-first session: a policy regulariser that does not let an action die (docs/learning.md,
# "Twenty-first session"). Written, with its rules, before any run below.
#
# Why, measured before any run (experiments/choice_probe.py, 1,024 episodes of each final
# checkpoint of the twentieth session's ColourMatch runs, runs/session20/cm_*): the stalled runs
# are not memory failures. The cue step's latent tells the four colours apart perfectly in every
# run (nearest-centroid accuracy 1.0 on mu_q and on the sample z written to row 0), stalled or not.
#  - seed 4 (linear, 0.74): cued yellow, the policy reads row 0 with weight 1.0, yet puts
#    probability 0.000 on yellow: a dead action. Its logit's gradient under the entropy bonus,
#    -pi_a (log pi_a + H), and under the policy gradient of the other actions, -pi_a Adv, both
#    vanish with pi_a: nothing pulls it back.
#  - seed 7 (linear, 0.71): cued green or blue, the policy's one key reads row 0 with 0.02 and
#    0.002 (red, yellow: 0.94, 0.94): green and blue give the same read, and are mixed up. A
#    read-key local optimum, not a dead action.
# Candidate LB = `--policy-bonus log-barrier`: entropy_cost weighs -KL(U || pi) = mean_a log pi_a
# + log A (Agarwal et al. 2020's log-barrier regulariser) instead of H(pi); its gradient on logit
# a is 1/A - pi_a, which stays ~1/A for a dead action. It changes every agent's policy learner.
#
# Part A (mechanism; no default rides on it): resume seed 4 (runs/session20/cm_linear_s4, 150k,
# linear, its own settings) for 100k more env steps, once as it was (entropy) and once with LB.
# Prediction: with LB the yellow column of the choice probe comes back (> 0.5 when cued yellow)
# and the return passes 0.9; with the entropy it stays near 0.74.
#
# RULE, stage 1 (MERLIN alone, the defaults; seeds 9-12 are calibration seeds, reported nowhere
# else): ColourMatch, 150k, the defaults (E) and LB side by side. LB goes to stage 2 if it reaches
# 0.9 (first logged row >= 0.9) on at least 3 of the 4 seeds and on at least as many as E.
# Stage 2: stage2.sh beside this file (written now, run only if stage 1 holds).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session21
mkdir -p $out
tr() { merlin-rl train --no-progress "$@"; }
cont() { # bonus: resume seed 4 of the twentieth session for 100k more env steps
  local dir=$out/cont_s4_$1
  [ -d $dir ] || cp -r runs/session20/cm_linear_s4 $dir
  tr --run-dir $dir --resume --total-steps 250000 --policy-bonus $1 > $dir.log 2>&1
}
cm() { # bonus, seed
  tr --env merlin_rl/ColourMatch-v0 --seed $2 --total-steps 150000 --policy-bonus $1 \
      --run-dir $out/cm_$1_s$2 > $out/cm_$1_s$2.log 2>&1
}
lane1() { cont entropy; for s in 9 10 11 12; do cm log-barrier $s; done; }
lane2() { cont log-barrier; for s in 9 10 11 12; do cm entropy $s; done; }
case "${1:-both}" in
  1) lane1 ;;
  2) lane2 ;;
  *) lane1 & lane2; wait ;;
esac
#
# Outcome (scores.jsonl, choice_probe_*.jsonl):
# Part A: both continuations recover: the entropy first >= 0.9 at 220,160 (final row 0.974), LB at
# 200,320 (0.971); the yellow column is back in both (0.977 / 0.987 when cued yellow). The
# prediction for the entropy (stays near 0.74) was wrong: the dead action revived without LB,
# 20k env steps later.
# Stage 1 (first logged row >= 0.9, seeds 9 / 10 / 11 / 12): E 80,000 / 130,560 / 110,080 / not
# reached (0.69 at 150k: cued green, it chooses green 2% of the time, the green column is dead);
# LB 110,080 / 110,080 / 80,000 / 110,080. LB 4 of 4, E 3 of 4: stage 1 holds; stage2.sh ran.
# LB's policy ends less sure (entropy 0.83-0.98 against 0.52-0.76) and its final rows are a
# little lower on the seeds both pass (0.951 / 0.935 / 0.987 against 0.995 / 0.984 / 0.971).
