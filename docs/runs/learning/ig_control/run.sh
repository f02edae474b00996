# Eighteenth session: how much of InstructedGoal is remembering the instruction, and how much is
# finding the named object? The memoryless control: the same task with the instruction shown at
# every step (env kwarg always_show, new), so that no memory is needed at all.
#
# Questions, written before the runs (seed 100, outside the grid; 200k env steps, the grid's
# budget; the defaults otherwise):
#   1. Does RL-LSTM, with the instruction in view at every step, rise above the random policy's
#      0.26 (say, a final return, the mean of the last five logged rows, above 0.40)? If not, the
#      task's 200k budget is too short for the navigation to a named object, and no memory can
#      make MERLIN pass there within it.
#   2. Does MERLIN with the instruction always in view? (It sees it at every step in z; its
#      return with the instruction once: 0.24-0.27 in every run so far.)
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/ig_control
mkdir -p $out
kw='{"always_show": true}'
merlin-rl train --env merlin_rl/InstructedGoal-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 200000 --agent rl-lstm --run-dir $out/rl_lstm_always_s100 --no-progress \
    > $out/rl_lstm.log 2>&1 &
merlin-rl train --env merlin_rl/InstructedGoal-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 200000 --run-dir $out/merlin_always_s100 --no-progress > $out/merlin.log 2>&1
wait
# Outcome: with the instruction at every step both end at the random policy's return: RL-LSTM
# 0.237, MERLIN 0.237 (mean of the last five logged rows; random 0.26); their entropy falls from
# 1.39 to 0.4-0.7 and episodes from 10.7 to ~10 steps. Question 1: no.
#
# Added after that, before these: is the control learnable with a longer budget (the issue
# allows up to 3M)? Both runs resumed to 1M env steps. Question 3: does either rise above 0.40?
merlin-rl train --env merlin_rl/InstructedGoal-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 1000000 --agent rl-lstm --run-dir $out/rl_lstm_always_s100 --no-progress \
    --resume >> $out/rl_lstm.log 2>&1 &
merlin-rl train --env merlin_rl/InstructedGoal-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 1000000 --run-dir $out/merlin_always_s100 --no-progress --resume \
    >> $out/merlin.log 2>&1
wait
