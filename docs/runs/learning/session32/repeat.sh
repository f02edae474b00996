#!/usr/bin/env bash
# Thirty-second session, part 1: under the thirty-first session's default inputs (layer-normalised
# prior and posterior), does a critic of its own, or twice the updates per env step, take
# RepeatSymbol to issue 12's 0.9 within 150k? Question, arms and reading written and committed
# before any run below.
#
# WHY: issue 12's one missed learning target is RepeatSymbol >= 0.9 within 150k env steps with
# the defaults. Today's defaults give 0.826 / 0.742 / 0.777 on seeds 101-103 (the last three
# rows; session31/N_RepeatSymbol_s10x, mean 0.782). Two levers measured before the new inputs:
# - C, a critic LSTM of its own as the advantages' baseline (`--baseline critic`), halved the
#   lambda-0.9 advantages' variance and gained +0.090 on these seeds under the thirtieth
#   session's defaults (twenty-eighth session; its rule asked +0.10);
# - H, half the environments (`--num-envs 16`, the default 32): twice the updates per env step,
#   each on half the segments. "Few gradient steps per env step" is one of the three measured
#   reasons MERLIN stays at chance; H won the thirtieth session's dense-choice screen (0.417
#   against 0.359, seed 100, not yet confirmed).
#
# ARMS, RepeatSymbol-v0, seeds 101 / 102 / 103, 150k env steps, MERLIN, each today's defaults
#   plus one change: C `--baseline critic`; H `--num-envs 16`.
# CONTROL: session31/N_RepeatSymbol_s101-103, today's defaults (the code's learning path is
#   unchanged since: git diff 864b42c -- src is empty when this file is committed; CPU runs are
#   reproducible), mean 0.782.
# READING, fixed now (the mean of the last three logged rows' raw return, as before):
#   - an arm PASSES stage 1 if its mean over the three seeds is >= 0.882 (control + 0.10) and it
#     is ahead of the control on at least 2 of the 3 seeds;
#   - it MEETS issue 12's target if its first logged row >= 0.9 is within 150k on all 3 seeds;
#   - if both pass, the one with the higher mean goes on.
# STAGE 2 (the suite, MERLIN alone, seed 100, against today's defaults: session31/scores.jsonl
#   N_* runs, as in session31/bound.sh's stage 2), written now, run only for the arm that goes
#   on: WaterMaze and InstructedGoal at 200k, each >= N - 0.05 normalised; ColourMatch at 150k,
#   first row >= 0.9 no later than N's 50,560 + 20k; for H also the speed (benchmarks/speed.py on
#   ColourMatch, three alternating rounds): no more than 25% fewer env steps/s. MiniGrid is not
#   part of stage 2 (at chance for every agent; 45 minutes a run here). All hold: the arm becomes
#   the default and every MERLIN grid cell is stale; any fails: it stays an option.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session32
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
  c) for s in 101 102 103; do
       run C_RepeatSymbol_s$s merlin_rl/RepeatSymbol-v0 $s 150000 --baseline critic
     done ;;
  h) for s in 101 102 103; do
       run H_RepeatSymbol_s$s merlin_rl/RepeatSymbol-v0 $s 150000 --num-envs 16
     done ;;
  s2-c|s2-h) # stage 2 for the arm that goes on (ARM: its flags)
     a=${1#s2-}; [ $a = c ] && A=(--baseline critic) || A=(--num-envs 16)
     A2=${a^^}
     run ${A2}_WaterMaze_s100 merlin_rl/WaterMaze-v0 100 200000 "${A[@]}"
     run ${A2}_InstructedGoal_s100 merlin_rl/InstructedGoal-v0 100 200000 "${A[@]}"
     run ${A2}_ColourMatch_s100 merlin_rl/ColourMatch-v0 100 150000 "${A[@]}" ;;
  *) echo "usage: repeat.sh c|h|s2-c|s2-h" >&2; exit 2 ;;
esac
#
# AMENDMENT 1 (2026-12-06 05:33, after C's three stage-1 runs, H's still running, before any
#   stage-2 run): C adds an LSTM to the learner, so its speed is measured as H's is
#   (benchmarks/speed.py on ColourMatch, three alternating rounds against the defaults) and held
#   to the same bound: no more than 25% fewer env steps/s. This only adds a condition.
#
# Outcome, stage 1 (2026-12-06 05:09-05:38, each run beside one grid cell; the mean of the last
#   three rows' raw return; control N 0.826 / 0.742 / 0.777, mean 0.782):
#   - C `--baseline critic`: 0.890 / 0.888 / 0.889, mean 0.889 >= 0.882, ahead on 3 of 3 seeds:
#     C PASSES stage 1. First row >= 0.9: 150,400 / 150,400 / 130,560. Issue 12's target asks
#     for 0.9 within 150k: strictly met on seed 103 only; seeds 101 and 102 reach it at the run's
#     last row, 400 env steps past 150k. So the target is NOT met on all 3 seeds, by this rule.
#   - H `--num-envs 16`: seed 101 0.621 (behind N's 0.826); seed 102 stopped at 90k (0.391 over
#     its last three rows then), seed 103 not run: with seed 101 at 0.621 the mean could reach
#     0.882 only if the other two summed to 2.025, above their maximum of 2 (the task's maximum
#     return is 1), so H FAILS whatever they do, and the core went to C's stage 2.
#   C goes on to stage 2 (started 05:40, after its speed check).
#
# Outcome, stage 2 for C (2026-12-06 05:40-06:07; ColourMatch and WaterMaze side by side, then
#   InstructedGoal beside the test suite; calibration18/score.py, the last five rows normalised,
#   against session31/scores.jsonl's N runs):
#   - WaterMaze s100: C 0.223 (N 0.259): holds (-0.036 >= -0.05)
#   - InstructedGoal s100: C -0.025 (N 0.031): FAILS (-0.056 < -0.05)
#   - ColourMatch s100, first row >= 0.9: C 60,160 (N 50,560; the bound 70,560): holds
#   - speed (amendment 1; speed_c.txt, ColourMatch, 32 envs, 20 segments, one thread, three
#     alternating rounds beside one training run): the defaults 475 / 497 / 486 env steps/s,
#     C 419 / 401 / 394: 17% fewer (mean 486 against 405): holds (<= 25%)
#   ONE PART FAILS: C does NOT become the default; `--baseline critic` stays an option. The
#   failing part is a task at chance for every agent (the grid's InstructedGoal rows are -0.17 to
#   0.05 normalised), where C's deficit, 0.006 past the tolerance, is within what one seed
#   separates there (the previous default's D run: -0.016). The rule was fixed before the runs
#   and is kept; what it says about the next rule: a stage 2 on a task at chance measures noise.
