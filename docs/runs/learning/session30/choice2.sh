#!/usr/bin/env bash
# Thirtieth session, part 1: what makes each choice teach more on the dense-choice bench?
# Question, arms and reading written and committed before any run below.
#
# WHY: the twenty-ninth session found ActiveVisualMatch's choice by colour learnable and
# sample-bound: with the colour in z (K: `--latent factored --discrete-weight 10`, the MBP's
# clip kept), MERLIN leaves chance only after ~18,000-34,000 choices and reaches 0.48-0.56 after
# ~80,000-100,000; the full task's 3M env steps give ~45,000. K's own curve
# (session29/choice_K_s100/metrics.csv) shows the policy's entropy falling from 1.32 to 0.40 by
# 40k env steps (~3,500 choices) and staying at 0.24-0.46, while the return is still ~1.0 (the
# match near chance): the policy settles on a colour-blind walk to a square before it has tied
# the square to the colour, then moves on at 0.02-0.03 approx-KL per segment with 13-15% of the
# ratios clipped. So the first candidates keep it exploring, or change its baseline.
#
# BENCH (as session29/choice.sh): ActiveVisualMatch with {"explore_steps": 1,
#   "distractor_steps": 1, "show_cue": true}; random 0.71, chance match 0.25.
# BASE: K (the twenty-ninth session's arm 7): --latent factored --discrete-weight 10.
# SCREEN ARMS, seed 100, 300k env steps, each K plus one change:
#   E3  --entropy-cost 0.03   (the default 0.01)
#   E10 --entropy-cost 0.1
#   C   --baseline critic     (the policy's own critic LSTM as the advantage baseline)
#   P2  --policy-epochs 2     (the default 8: slower, less greedy policy steps)
# MEASURE: the match over all choices (experiments/cue_probe.py, 2,048 episodes, --seed 0, the
#   final checkpoint). K at 300k: 0.359 (W 0.324).
# RULE, fixed now: the screen's winner is the arm with the highest match, if it is >= 0.409
#   (K + 0.05); else none is, and the reading is that none of these four is the lever. The
#   winner is then run on seeds 101 and 102 beside K on the same seeds (300k each). It is
#   CONFIRMED if its match beats K's on both seeds and by >= 0.05 on their mean. A confirmed
#   winner that is a default knob (entropy cost, policy epochs, baseline) becomes a candidate for
#   the suite (MERLIN alone, seed 100, as in session22/floor.sh's stage 2), not a default by
#   this rule alone.
# AMENDMENT 1 (23:35, after E3's and E10's probes: 0.371 and 0.316, neither >= 0.409; C and P2
#   running): arm F = K + `--policy-film history` (the twenty-sixth session's FiLM of z_t by the
#   policy's LSTM state and read: a multiplicative path, where the colour must gate which part
#   of the view the policy walks to), seed 100, 300k, into the same screen and the same rule.
# AMENDMENT 2 (23:45, after P2's probe: 0.296, below K's 0.359, so fewer policy steps per
#   sample cost; C and F not finished): the other direction, two arms into the same screen and
#   rule: PE16 = K + `--policy-epochs 16`, and N16 = K + `--num-envs 16` (half the environments:
#   twice the updates per env step, each on half the segments).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session30
mkdir -p $out
run() { # name seed flags...: skipped when finished, resumed when cut off
  local dir=$out/$1_s$2; local seed=$2; shift 2
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --seed $seed --total-steps ${STEPS:-300000} --run-dir $dir \
      $resume "$@" >> $dir.log 2>&1
  python experiments/cue_probe.py --checkpoint $dir/checkpoints/final.pt --episodes 2048 \
      --seed 0 >> $out/cue_probe_choice2.jsonl
}
K=(--env merlin_rl/ActiveVisualMatch-v0
   --env-kwargs '{"explore_steps": 1, "distractor_steps": 1, "show_cue": true}'
   --latent factored --discrete-weight 10)
case "${1:-}" in
  screen-1) run choice_E3 100 "${K[@]}" --entropy-cost 0.03
            run choice_C 100 "${K[@]}" --baseline critic ;;
  screen-2) run choice_E10 100 "${K[@]}" --entropy-cost 0.1
            run choice_P2 100 "${K[@]}" --policy-epochs 2 ;;
  screen-3) run choice_F 100 "${K[@]}" --policy-film history ;;
  screen-4) run choice_PE16 100 "${K[@]}" --policy-epochs 16
            run choice_N16 100 "${K[@]}" --num-envs 16 ;;
  confirm-1) K+=(--latent-input-norm none)
             run choice_K 101 "${K[@]}"; run choice_K 102 "${K[@]}" ;;
  confirm-2) K+=(--latent-input-norm none)
             run choice_N16 101 "${K[@]}" --num-envs 16; run choice_N16 102 "${K[@]}" --num-envs 16 ;;
  *) echo "usage: choice2.sh screen-1|screen-2|screen-3|screen-4|confirm-1|confirm-2" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-05 23:19 - 2026-12-06 00:40, two runs side by side, beside factored.sh's runs
# and at times a test file; match over all choices, cue_probe_choice2.jsonl; K at 300k: 0.359):
#   E3 0.371, E10 0.316, C 0.304, P2 0.296, F 0.315, PE16 0.334. None reaches 0.409: NO WINNER,
#   and nothing is confirmed. Return over the last three rows: 1.63 / 1.42 / 1.50 / 1.67 / 1.52 /
#   1.41 (K 1.70); the policy's entropy at the end 0.84 / 1.18 / 0.49 / 0.20 / 0.59 / 0.86 (K
#   0.50); the cue in z in every arm (0.03-0.05 nats). Reading: none of these six changes to the
#   policy's learner (its exploration, its baseline, its policy steps per sample, a
#   multiplicative path from its state into z) is the lever on the choice's sample cost at this
#   budget; the spread, 0.296-0.371 around K's 0.359, is what one seed at 300k separates.
#   N16 (amendment 2) was NOT run: the cores went to the grid cells that D's adoption made stale.
# AMENDMENT 3 (thirty-first session, 2026-12-06 02:20, before its run): N16 is run now, under
#   the same rule, with K being today's defaults (the same flags). Its outcome is appended below.
# Outcome of amendment 3 (2026-12-06 03:00-03:29, beside the grid's last MiniGrid run and the
#   thirty-first session's B and N runs): N16 0.417 over all choices (1,642 choices in 2,048
#   episodes; the cue in z), return 1.82 over the last three rows (K 1.70), entropy 0.53 at the
#   end. 0.417 >= 0.409: N16 is the screen's WINNER by this rule. It is not confirmed yet: the
#   confirmation (N16 and K on seeds 101 and 102, 300k each; K's flags as above, which must then
#   also pin --latent-input-norm none if that default changes) did not fit in the session and is
#   the next run of this rule.
# AMENDMENT 4 (thirty-second session, 2026-12-06 05:20, before its runs): the confirmation, as
#   the rule above fixed it: `confirm-1` runs K on seeds 101 and 102, `confirm-2` N16 on the same
#   seeds, 300k each. Since the thirty-first session's default inputs are layer-normalised, both
#   pin `--latent-input-norm none`, so that K and N16 are the arms of the screen (N16's screen run,
#   03:00-03:29, started before that default changed). CONFIRMED if N16's match beats K's on both
#   seeds and by >= 0.05 on their mean.
# Outcome of amendment 4 (thirty-fourth session, 2026-12-06 11:58-12:30, the two halves side by
#   side; match over all choices, cue_probe_choice2.jsonl): seed 101: K 0.370 (1,701 choices),
#   N16 0.335 (1,602): N16 is BEHIND on seed 101, so it cannot beat K on both seeds, and N16 is
#   NOT CONFIRMED. N16's seed-102 run was stopped at 60k once seed 101 had decided the rule (its
#   core went to session34/weight_cost.sh); K's seed 102 finished: 0.293 (1,684 choices). Return
#   over the last three rows: K 1.74 / 1.42, N16 1.57 (seed 101). The screen's 0.417 on seed 100
#   was one seed's luck: twice the updates per env step is not the lever on the choice either.
