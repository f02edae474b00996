#!/usr/bin/env bash
# Thirty-sixth session: the rest of session35/critic_stage2.sh's half b (arm C), split into two
# chains so that it finishes within the session: the same runs with the same commands and
# directories (runs/session35), only in two processes instead of one. Nothing learned changes.
#   c1: ActiveVisualMatch seeds 101-102, then ColourMatch seeds 101-102;
#   c2: POPGym RepeatFirst and RepeatPrevious seeds 1-3.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session35
run() { # name env seed steps flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps --run-dir $dir \
      --checkpoint-interval 50000 $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  c1)
    for s in 100 101 102; do
      run C_ActiveVisualMatch_s$s merlin_rl/ActiveVisualMatch-v0 $s 200000 --baseline critic
    done
    for s in 101 102; do
      run C_ColourMatch_s$s merlin_rl/ColourMatch-v0 $s 150000 --baseline critic
    done ;;
  c2)
    for s in 1 2 3; do
      run C_RepeatFirst_s$s popgym-RepeatFirstEasy-v0 $s 200000 --env-import popgym --baseline critic
      run C_RepeatPrevious_s$s popgym-RepeatPreviousEasy-v0 $s 200000 --env-import popgym \
          --baseline critic
    done ;;
  *) echo "usage: critic_finish.sh c1|c2" >&2; exit 2 ;;
esac
