#!/usr/bin/env bash
# Thirty-ninth session: does a prior trained by the KL alone (`--posterior-form direct`, P) predict
# the face of a card MERLIN turns up again on MemoryGame, and do the reads then fetch the twin?
# Written before the runs. A diagnostic, not a default change (P failed its rule on ColourMatch in
# the thirty-eighth session), so no default moves whatever it shows.
#
# Runs: MERLIN, P, MemoryGame, the grid's settings (200k env steps; defaults otherwise), seeds 0
# and 1 (the grid's seeds, whose D runs under today's defaults were probed in the thirty-seventh
# session: docs/runs/learning/session37/cards_probe_memory_game_critic.jsonl).
# Probe: experiments/cue_probe.py on final.pt, 128 episodes, seed 0 (as for D).
# Readings, against D's three checkpoints (s0 / s1 / s2):
#   reflipped_face_in_mu_p        D 0.080 / 0.080 / 0.078   the prior names a re-flipped face
#   reflipped_face_in_mbp_reads   D 0.126 / 0.121 / 0.104
#   twin_cell_in_mbp_reads        D 0.114 / 0.153 / 0.139
#   twin_cell_in_policy_read      D 0.119 / 0.124 / 0.138
#   match_twin_seen (by chance)   D 0.086 / 0.092 / 0.107 (0.101 / 0.103 / 0.102)
#   pairs_per_episode             D 1.086 / 1.391 / 1.281
# "The prior predicts here": reflipped_face_in_mu_p above 0.12 (1.5x D's) on both seeds.
# "The reads fetch": twin_cell_in_mbp_reads or twin_cell_in_policy_read above 0.2 on both seeds.
# Also experiments/prior_probe.py (the prior's R^2 on mu_q, as for WaterMaze in session 38).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=runs/session39
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
for seed in 0 1; do
  run="$OUT/P_MemoryGame_s$seed"
  if [ ! -f "$run/checkpoints/final.pt" ]; then
    extra=()
    [ -f "$run/config.json" ] && extra=(--resume)
    merlin-rl train --env merlin_rl/MemoryGame-v0 --seed "$seed" --total-steps 200000 \
      --checkpoint-interval 50000 --posterior-form direct --run-dir "$run" --no-progress "${extra[@]}"
  fi
  python experiments/cue_probe.py --checkpoint "$run/checkpoints/final.pt" --episodes 128 --seed 0 \
    >> "$OUT/cards_probe_P_MemoryGame.jsonl"
  python experiments/prior_probe.py --checkpoint "$run/checkpoints/final.pt" --episodes 64 --seed 0 \
    >> "$OUT/prior_probe_P_MemoryGame.jsonl"
done
