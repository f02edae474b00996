# Eighteenth session: ActiveVisualMatch's choice, with the memory need taken away.
#
# In every grid run the final choice is at chance (cue_probe.py: right 25% of the time after
# seeing the square, 4 colours), MERLIN's 0.38 normalised comes from the apples. Control: the
# distractor phase cut from 45 to 5 steps (distractor_steps 5), so that the colour is seen at
# most 15 + 5 steps before the choice, inside tau = 20 plus the LSTM's carried state: an LSTM
# can carry it, no external memory is needed.
#
# Question, written before the runs (seed 100, the defaults, 200k env steps): does either agent,
# after seeing the square, walk onto the matching one in more than 50% of episodes (cue_probe.py's
# choice; chance 25%)? If not, the choice fails before memory is asked for: finding the square
# (no reward for looking) or matching its colour.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/avm_control
mkdir -p $out
kw='{"distractor_steps": 5}'
merlin-rl train --env merlin_rl/ActiveVisualMatch-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 200000 --run-dir $out/merlin_d5_s100 --no-progress > $out/merlin.log 2>&1 &
merlin-rl train --env merlin_rl/ActiveVisualMatch-v0 --env-kwargs "$kw" --seed 100 \
    --total-steps 200000 --agent rl-lstm --run-dir $out/rl_lstm_d5_s100 --no-progress \
    > $out/rl_lstm.log 2>&1
wait
for r in merlin_d5_s100 rl_lstm_d5_s100; do
  python experiments/cue_probe.py --checkpoint $out/$r/checkpoints/final.pt --episodes 256 \
      > docs/runs/learning/avm_control/cue_probe_$r.jsonl
done
# Outcome (cue_probe_*.jsonl): MERLIN sees the square in 61% of episodes, z draws its colour 80%
# of the time, the policy reads the rows written while it was in view with 0.48 of its weight
# (uniform 0.275), and the choice after seeing it matches 25.5% (chance 25%); RL-LSTM sees it in
# 32%, matches 18%. Final returns (mean of the last five logged rows): MERLIN 1.61, RL-LSTM 1.23.
# So no: the choice fails with the cue inside the LSTM's reach too.
