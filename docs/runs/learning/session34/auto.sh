#!/usr/bin/env bash
# Thirty-fourth session, part 2: a discrete weight of 10 only where an image is beside it?
# Question, arm and rule written and committed before any run below (2026-12-06, after
# split.sh's outcome).
#
# WHY: split.sh found `--discrete-weight 10` (the default since the thirtieth session) costs
# RepeatPrevious 0.057 on seeds 1-3 against weight 1. What weight 10 bought was measured only with
# an image beside the Discrete input (twenty-eighth to thirtieth sessions: ActiveVisualMatch's
# shown cue and MiniGrid's `direction` get into z at 10, not at 1). The mechanism there: the MBP's
# gradient is clipped at 20 as one norm, and the image term's norm (50-6,000) sets the clip's
# scale, so the Discrete term's share is shrunk unless it is weighted up. Without an image that
# does not happen. On the tasks with no image the weight was never needed: the thirtieth
# session's rule found weight 10 only "level" on RepeatSymbol and RepeatFirst.
#
# ARM A ("auto"): the Discrete inputs' weight 10 when the observation has an image, 1 otherwise.
#   On every task with an image (all seven suite tasks, MiniGrid) A is today's default, by
#   construction (a unit test checks the resolution). So it is measured where it changes
#   something, the Discrete-only tasks, by running them at `--discrete-weight 1`:
#   - merlin_rl/RepeatSymbol-v0 (issue 12's target), seeds 101 / 102 / 103, 150k env steps;
#     control: session31/N_RepeatSymbol_s101-103 (today's defaults; the learning path is
#     unchanged since), the mean of the last three rows' raw return 0.826 / 0.742 / 0.777,
#     mean 0.782;
#   - popgym-RepeatFirstEasy-v0, seeds 1 / 2, 200k; control: session33/D_RepeatFirst_s1-2,
#     normalised last five rows 0.942 / 0.839, mean 0.891;
#   - popgym-RepeatPreviousEasy-v0: split.sh's W runs (+0.057 on seeds 1-3).
# RULE, fixed now: A becomes the default if RepeatSymbol's mean is >= 0.752 (control - 0.03:
#   issue 12's target task, where a loss matters more than elsewhere) AND RepeatFirst's mean is
#   >= 0.841 (control - 0.05, the suite stages' tolerance). Otherwise it stays an option
#   (`--discrete-weight 1` by hand). If it becomes the default, `--discrete-weight` gets an
#   `auto` value (the default), recorded resolved in config.json; no grid cell goes stale (every
#   grid task has an image); POPGym's MERLIN rows and RepeatSymbol's are re-read from these runs.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session34
mkdir -p $out
run() { # name env seed steps flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps --run-dir $dir \
      $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  a) run W_RepeatSymbol_s101 merlin_rl/RepeatSymbol-v0 101 150000 --discrete-weight 1
     run W_RepeatSymbol_s102 merlin_rl/RepeatSymbol-v0 102 150000 --discrete-weight 1 ;;
  b) run W_RepeatSymbol_s103 merlin_rl/RepeatSymbol-v0 103 150000 --discrete-weight 1
     run W_RepeatFirst_s1 popgym-RepeatFirstEasy-v0 1 200000 --env-import popgym --discrete-weight 1
     run W_RepeatFirst_s2 popgym-RepeatFirstEasy-v0 2 200000 --env-import popgym --discrete-weight 1 ;;
  *) echo "usage: auto.sh a|b (two halves, run side by side)" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-06 11:30-11:45, two runs side by side; RepeatSymbol: the mean of the last three
#   rows' raw return; RepeatFirst: session33/score.py, normalised last five rows):
#   - RepeatSymbol at weight 1: 0.599 / 0.490 / 0.461, mean 0.517 against the control's 0.782
#     (-0.265, behind on all 3 seeds): FAILS (the bar was 0.752)
#   - RepeatFirst at weight 1: 0.711 / 0.668, mean 0.690 against the control's 0.891 (-0.201,
#     behind on both seeds): FAILS too (the bar was 0.841). With the layer-normalised inputs,
#     weight 1 costs both RepeatSymbol and RepeatFirst; only RepeatPrevious gains (+0.057). (The
#     twentieth session's settings, weight 1 without the norm, were level on RepeatFirst:
#     popgym_check.sh's P 0.928 / 0.900: the two settings act together.)
#   A FAILS: weight 10 stays the default everywhere; `--discrete-weight 1` stays an option. What
#   weight 10 buys is not only the Discrete input beside an image: on RepeatSymbol, with no
#   image, it is worth +0.265. (The code for an `auto` value was written beside the runs and
#   not committed.)
