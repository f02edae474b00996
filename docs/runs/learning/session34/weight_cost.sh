#!/usr/bin/env bash
# Thirty-fourth session, part 5: what would weight.sh's lead (`--discrete-weight 100`) cost on the
# other Discrete-only tasks? Question and reading written and committed before any run below.
#
# WHY: weight.sh's H100 was ahead of today's weight 10 on RepeatSymbol on every seed (0.858
# against 0.782) but missed its stage-1 bar (0.882), so by that rule nothing goes on. On POPGym's
# RepeatPrevious the weight acts the other way (split.sh: 10 costs 0.057 against 1). Before the
# lead is worth a confirmation on fresh seeds, its cost where the weight hurt is measured.
#
# ARM H100: `--discrete-weight 100`, POPGym RepeatFirst and RepeatPrevious, seeds 1 and 2, 200k.
# CONTROL: today's defaults, session33/D_* (RepeatFirst 0.942 / 0.839, mean 0.891;
#   RepeatPrevious 0.900 / 0.913, mean 0.907), session33/score.py (normalised last five rows).
# READING, fixed now: the lead is KEPT if H100's mean is >= the control's - 0.05 on both tasks;
#   then a later session confirms it on fresh RepeatSymbol seeds (104-106) before any stage 2.
#   Otherwise the lead is CLOSED: a weight of 100 costs the other recall tasks. No default changes
#   here either way.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session34
mkdir -p $out
run() { # name env seed: skipped when finished, resumed when cut off
  local dir=$out/$1; local env=$2 seed=$3
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --env-import popgym --seed $seed --total-steps 200000 \
      --run-dir $dir $resume --discrete-weight 100 >> $dir.log 2>&1
}
case "${1:-}" in
  a) run H100_RepeatFirst_s1 popgym-RepeatFirstEasy-v0 1
     run H100_RepeatPrevious_s1 popgym-RepeatPreviousEasy-v0 1 ;;
  b) run H100_RepeatFirst_s2 popgym-RepeatFirstEasy-v0 2
     run H100_RepeatPrevious_s2 popgym-RepeatPreviousEasy-v0 2 ;;
  *) echo "usage: weight_cost.sh a|b (two halves, run side by side)" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-06 12:20-12:41, beside choice2.sh's last runs; session33/score.py):
#   RepeatFirst    H100 0.907 / 0.905, mean 0.906 against 0.891: +0.015 (bar 0.841): holds
#   RepeatPrevious H100 0.834 / 0.894, mean 0.864 against 0.907: -0.043 (bar 0.857): holds
#   The lead is KEPT: confirm.sh (written at 12:38, before this outcome was known in full) runs now.
