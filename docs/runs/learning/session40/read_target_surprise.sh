#!/usr/bin/env bash
# Fortieth session, after read_target.sh's verdict (read_target_results.md): trained at every step
# alike, the hindsight read term moved the MBP's read at re-flips only to a random row's share of
# the card's rows (0.173 against 0.151). Written before this run. A diagnostic: no default moves.
#
# Variant S: --read-target-weighting surprise (new, tested): step t's term is weighed by
# KL(q_{t+1} || p_{t+1}) over its minibatch mean, so the moments where the prior failed (a face
# turned up) carry the term, not the steps whose next view the prior already foresaw.
# Run S: MERLIN, MemoryGame, --read-target-cost 10 --read-target-weighting surprise, seed 0,
# 200k env steps, the grid's settings otherwise (one thread). Against H (uniform, same cost) and D
# (defaults), both seed 0.
# Bars, as read_target.sh's:
#   1 reflipped_rows_weight_by_mbp_read > 0.3 (H 0.173, D 0.089) and
#     reflipped_row_by_mbp_read > 0.4 (H 0.150, D 0.059)
#   2 reflipped_face_in_mu_p > 0.12 (H 0.123, D 0.074), and, stricter (added after H showed the
#     view before the flip holding the face 0.22-0.29), above reflipped_face_in_view_before
#   3 match_twin_seen > 0.2 and the normalised score > 0.15 (H 0.111, D 0.063)
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=runs/session40/surprise
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
run="$OUT/S_MemoryGame_s0"
if [ ! -f "$run/checkpoints/final.pt" ]; then
  extra=()
  [ -f "$run/config.json" ] && extra=(--resume)
  merlin-rl train --env merlin_rl/MemoryGame-v0 --seed 0 --total-steps 200000 \
    --checkpoint-interval 50000 --read-target-cost 10 --read-target-weighting surprise \
    --run-dir "$run" --no-progress "${extra[@]}"
fi
python experiments/cue_probe.py --checkpoint "$run/checkpoints/final.pt" --episodes 128 --seed 0 \
  > "$OUT/cards_probe_S_MemoryGame.jsonl"
python docs/runs/learning/calibration18/score.py "$OUT" > "$OUT/score_S.jsonl"
