#!/usr/bin/env bash
# Twenty-ninth session, part 1: is ActiveVisualMatch's choice by colour learnable by this learner
# when choices are dense? Question and reading written and committed before the runs.
#
# WHY: the twenty-eighth session found that, with the cue's colour in every observation
# (`show_cue`), the choice stays at chance on the 5-step-distractor task: MERLIN W (the colour in
# z) 0.239 / 0.266 at 200k (~6,500 choices) and 0.257 at 1M (~30,000 choices), RL-LSTM 0.246 at
# 200k. A supervised fit learns the same choice from z_t and the colour (0.80-0.90). Two readings
# are open: the choice needs more choices than these budgets give (sample-bound), or this learner
# does not learn a choice conditioned on an input at all (a learner or policy defect). Here the
# explore and distractor phases are cut to one step each, so an episode is at most 17 steps and
# the same env steps give ~2-4x the choices, with nothing to remember.
#
# TASK: ActiveVisualMatch, {"explore_steps": 1, "distractor_steps": 1, "show_cue": true}, the
#   default 7 x 7 rooms and 15 final steps (random policy 0.71; maximum 6 with the one apple
#   reachable in the one distractor step, 5 from the square).
# ARMS, seed 100, 300k env steps: L = RL-LSTM (its encoders trained by the RL loss, the cue in
#   its input); W = MERLIN with the colour in z (`--latent factored --mbp-clip off
#   --discrete-weight 10`, the twenty-eighth session's W).
# QUESTION: "the choice is learned" by an arm if its match over all choices (cue_probe.py, 2,048
#   episodes, --seed 0, final checkpoint) is >= 0.40 (chance 0.25).
# READING, fixed now: if either arm learns it, the choice is sample-bound, and the env steps the
#   suite task needs follow from the choices that arm needed (its curve: the return rises with
#   5 x the match); the next work is budget and sample efficiency. If neither does, this learner
#   does not learn a colour-conditioned choice from ~20,000+ choices with nothing to remember,
#   and the next work is the learner or the policy on this fast bench, not memory.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session29
mkdir -p $out
run() { # name seed flags...: skipped when finished, resumed when cut off
  local dir=$out/$1_s$2; local seed=$2; shift 2
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --seed $seed --total-steps ${STEPS:-300000} --run-dir $dir \
      $resume "$@" >> $dir.log 2>&1
  python experiments/cue_probe.py --checkpoint $dir/checkpoints/final.pt --episodes 2048 \
      --seed 0 >> $out/cue_probe_choice.jsonl
}
TASK=(--env merlin_rl/ActiveVisualMatch-v0
      --env-kwargs '{"explore_steps": 1, "distractor_steps": 1, "show_cue": true}')
case "${1:-}" in
  L100) run choice_rl-lstm 100 "${TASK[@]}" --agent rl-lstm ;;
  W100) run choice_W 100 "${TASK[@]}" --latent factored --mbp-clip off --discrete-weight 10 ;;
  *) echo "usage: choice.sh L100|W100" >&2; exit 2 ;;
esac
