#!/usr/bin/env bash
# Where the memory chain breaks under today's defaults: experiments/cue_probe.py on the grid's
# final MERLIN checkpoints (runs/paper_suite, not committed: the forty-first session's runs),
# 256 episodes, probe seed 1, one thread, beside the grid's two runs.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
out=docs/runs/learning/session42/chain_probe.jsonl
: > "$out"
for task in InstructedGoal ActiveVisualMatch KeyToDoor WaterMaze MemoryGame; do
  for s in 0 1 2; do
    OMP_NUM_THREADS=1 python experiments/cue_probe.py --episodes 256 --seed 1 \
      --checkpoint "runs/paper_suite/merlin__merlin_rl_${task}-v0__s${s}/checkpoints/final.pt" \
      2>/dev/null | tail -1 >> "$out"
  done
done
