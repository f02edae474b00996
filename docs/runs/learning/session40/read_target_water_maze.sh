#!/usr/bin/env bash
# Fortieth session, after read_target.sh's verdict on MemoryGame (bar 1 not met: the MBP's read
# puts 0.173 of its weight on the re-flipped card's rows, D 0.089, the bar 0.3; bar 2 met, 0.123
# against 0.074; bar 3 not met). Written before this run. A diagnostic: no default moves.
#
# Question: on WaterMaze, where the rows' later-z half holds what followed a place (the platform
# after a find), does the same hindsight read term (--read-target-cost 10, unchanged) raise the
# score? The MBP's read m_t reaches the policy only through z_{t+1} (the posterior reads it).
# Run H: MERLIN, WaterMaze, --read-target-cost 10, seed 100 (a calibration seed), 200k env steps,
# defaults otherwise (one thread). D: session32/C_WaterMaze_s100 (the critic baseline's committed
# run; its config differs from today's defaults only in the text and Discrete weights and the
# image scale's spelling, none of which WaterMaze uses: image and velocity inputs), normalised
# 0.223 (calibration18/score.py; D s101 / s102: 0.248 / 0.188).
# Bars (calibration18/score.py, the mean of the last five rows):
#   worth more seeds: H >= 0.273 (D + 0.05, about the spread of D's three seeds)
#   costs WaterMaze: H <= 0.173
#   otherwise level: say so, and no more runs of it on WaterMaze this session.
# Also experiments/cue_probe.py (WaterMaze: first and later finds per step), 64 episodes, seed 0.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=runs/session40/water_maze
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
run="$OUT/H_WaterMaze_s100"
if [ ! -f "$run/checkpoints/final.pt" ]; then
  extra=()
  [ -f "$run/config.json" ] && extra=(--resume)
  merlin-rl train --env merlin_rl/WaterMaze-v0 --seed 100 --total-steps 200000 \
    --checkpoint-interval 50000 --read-target-cost 10 --run-dir "$run" --no-progress "${extra[@]}"
fi
python docs/runs/learning/calibration18/score.py "$OUT" > "$OUT/score.jsonl"
python experiments/cue_probe.py --checkpoint "$run/checkpoints/final.pt" --episodes 64 --seed 0 \
  > "$OUT/cue_probe_H_WaterMaze.jsonl"
