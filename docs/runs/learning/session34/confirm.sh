#!/usr/bin/env bash
# Thirty-fourth session, part 6: does weight.sh's lead (`--discrete-weight 100` on RepeatSymbol)
# hold on fresh seeds? Question and rule written and committed before any run below; run only if
# weight_cost.sh's reading KEEPS the lead.
#
# WHY: on seeds 101-103 weight 100 was ahead of today's 10 on every seed (0.858 against 0.782,
# the last three rows), short of weight.sh's bar (0.882). Seeds 101-103 have been RepeatSymbol's
# comparison seeds for many sessions, so a lead chosen on them is checked on seeds never used.
#
# ARMS, merlin_rl/RepeatSymbol-v0, seeds 104 / 105 / 106, 150k env steps, MERLIN:
#   D  today's defaults (weight 10);   H100  `--discrete-weight 100`.
# SCORE: score_rs.py (the mean of the last three rows' raw return; the first row >= 0.9).
# RULE, fixed now: the lead is CONFIRMED if H100 is ahead of D on >= 2 of 3 seeds and by >= 0.05
#   on the mean. A confirmed lead is a candidate for the default: its stage 2 (POPGym RepeatFirst
#   and RepeatPrevious on three seeds, MiniGrid's `direction`, each against today's within 0.05)
#   is written before its runs in a later session. Not confirmed: the lead is closed. Either way
#   it says whether issue 12's target (0.9 within 150k on every seed) is met by either arm.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session34
mkdir -p $out
run() { # name seed flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local seed=$2; shift 2
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env merlin_rl/RepeatSymbol-v0 --seed $seed \
      --total-steps 150000 --run-dir $dir $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  a) run D_RepeatSymbol_s104 104; run H100_RepeatSymbol_s104 104 --discrete-weight 100
     run D_RepeatSymbol_s106 106 ;;
  b) run D_RepeatSymbol_s105 105; run H100_RepeatSymbol_s105 105 --discrete-weight 100
     run H100_RepeatSymbol_s106 106 --discrete-weight 100 ;;
  *) echo "usage: confirm.sh a|b (two halves, run side by side)" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-06 12:41-12:54, the two halves side by side; score_rs.py):
#   D    0.590 / 0.828 / 0.668, mean 0.695
#   H100 0.841 / 0.867 / 0.820, mean 0.843: +0.148, ahead on 3 of 3: the lead is CONFIRMED
#   Neither arm reaches 0.9 within 150k on any of these seeds, so issue 12's target is not met.
#   Over the six seeds 101-106: D 0.739, H100 0.850. Stage 2 is session34/stage2.sh.
