# Sixteenth session: the calibration of --latent factored (docs/learning.md, "Sixteenth session").
# MERLIN alone, the grid's settings (defaults, 200k env steps), seed 100, two jobs side by side,
# one thread each. The latent was the code's default ("factored") when the first two ran; the
# rule sent it back to "joint" afterwards, so the commands name it.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
t() { OMP_NUM_THREADS=1 merlin-rl train --seed 100 --total-steps 200000 --checkpoint-interval 50000 \
    --no-progress "$@"; }
t --env merlin_rl/WaterMaze-v0 --latent factored --run-dir runs/cal16/watermaze_factored
t --env merlin_rl/InstructedGoal-v0 --latent factored --run-dir runs/cal16/instructed_factored
t --env merlin_rl/WaterMaze-v0 --latent joint --run-dir runs/cal16/watermaze_joint
OMP_NUM_THREADS=1 python experiments/cue_probe.py --checkpoint runs/cal16/instructed_factored/checkpoints/final.pt \
    --episodes 256 > docs/runs/learning/factored_latent/cue_probe_instructed_200k.jsonl
# then, for information only (after the rule was decided): the same InstructedGoal run resumed
# to 500k (light copy: instructed_factored_500k/), probed at 400k and 500k
t --env merlin_rl/InstructedGoal-v0 --latent factored --run-dir runs/cal16/instructed_factored --resume --total-steps 500000
for k in step_000000400000 final; do OMP_NUM_THREADS=1 python experiments/cue_probe.py \
    --checkpoint runs/cal16/instructed_factored/checkpoints/$k.pt --episodes 256; done
