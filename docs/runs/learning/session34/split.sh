#!/usr/bin/env bash
# Thirty-fourth session: which default costs MERLIN on POPGym's RepeatPrevious?
# Question, arms and rule written and committed before any run below (2026-12-06, session 34).
#
# WHY: the thirty-third session's popgym_check.sh found P (--latent-input-norm none
# --discrete-weight 1) ahead of today's defaults D on RepeatPrevious on every seed tried:
# seed 1 0.972 / 0.900, seed 2 0.964 / 0.913 (and seed 0 0.97 / 0.89 across sessions). Its rule
# did not confirm a cost over both tasks (+0.043 against 0.05), so the lead is to be checked on
# a third seed and split between the two defaults that differ.
#
# ARMS, MERLIN, 200k env steps, popgym-RepeatPreviousEasy-v0 (random -0.493, max 1), seeds 1-3:
#   D  today's defaults                                 (seeds 1, 2 from session33/, 3 here)
#   P  --latent-input-norm none --discrete-weight 1     (seeds 1, 2 from session33/, 3 here)
#   N  --latent-input-norm none     (only the norm back)        seeds 1-3 here
#   W  --discrete-weight 1          (only the weight back)      seeds 1-3 here
# SCORE: the normalised mean return of the last five log rows (session33/score.py).
# RULE, fixed now:
#   1. The lead is CONFIRMED if P is ahead of D on all 3 seeds and by >= 0.05 on the mean.
#      Otherwise stop: nothing is split, nothing changes.
#   2. If confirmed, arm X (N or W) CARRIES the lead if X is ahead of D on >= 2 of 3 seeds and
#      its mean gain over D is >= half of P's. Both may carry it; neither may (then the two act
#      only together).
#   3. No default changes by this rule alone. A lever that carries the lead is next weighed
#      against what it bought (norm: MiniGrid's direction in z and RepeatSymbol +0.107; weight 10:
#      ActiveVisualMatch's cue in z) in a suite stage written before its runs.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session34
mkdir -p $out
run() { # name seed flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local seed=$2; shift 2
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env popgym-RepeatPreviousEasy-v0 --env-import popgym \
      --seed $seed --total-steps 200000 --run-dir $dir $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  a) run D_RepeatPrevious_s3 3
     run N_RepeatPrevious_s1 1 --latent-input-norm none
     run N_RepeatPrevious_s2 2 --latent-input-norm none
     run N_RepeatPrevious_s3 3 --latent-input-norm none ;;
  b) run P_RepeatPrevious_s3 3 --latent-input-norm none --discrete-weight 1
     run W_RepeatPrevious_s1 1 --discrete-weight 1
     run W_RepeatPrevious_s2 2 --discrete-weight 1
     run W_RepeatPrevious_s3 3 --discrete-weight 1 ;;
  *) echo "usage: split.sh a|b (two halves, run side by side)" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-06 11:09-11:31, the two halves side by side; score.py of session33, the
#   normalised mean of the last five rows; seeds 1 / 2 / 3, mean, ahead of D on):
#   D 0.900 / 0.913 / 0.867, mean 0.893
#   P 0.972 / 0.964 / 0.963, mean 0.966: +0.073, ahead on 3 of 3: the lead is CONFIRMED (rule 1)
#   N 0.912 / 0.945 / 0.902, mean 0.920: +0.026, ahead on 3 of 3, below half of P's (0.037):
#     the norm does NOT carry the lead (it gives back a little of it)
#   W 0.935 / 0.961 / 0.955, mean 0.950: +0.057, ahead on 3 of 3, >= 0.037: the weight CARRIES
#     the lead (rule 2)
#   So `--discrete-weight 10` costs MERLIN 0.057 on RepeatPrevious. By rule 3 nothing changes
#   here; what weight 10 bought is weighed in session34/auto.sh, written before its runs.
