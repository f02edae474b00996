#!/usr/bin/env bash
# Fortieth session: does a read key trained by hindsight learn the look-up that neither of
# MERLIN's keys learns on MemoryGame (session 39: a linear key from the MBP's h_t finds the
# re-flipped card's rows 0.65-0.87 of the time; the MBP's own read puts 0.06-0.09 of its weight
# there, less than a random row's share 0.12-0.16)? Written before the run. A diagnostic: no
# default moves this session whatever it shows.
#
# The mechanism (--read-target-cost C, new, tested in tests/test_hindsight_read.py): the MBP's
# first read key at t (its read m_t goes into the prior of z_{t+1}) is also trained by
# cross-entropy to put its weight on the row of M_{t-1} whose z half is nearest (cosine) to
# mu_q,t+1, the posterior's mean one step later. Why that target: on two session-39
# checkpoints (cue_probe.py, new fields; session40/hindsight_probe.jsonl), at the step after a re-flip, that row is one written while the card
# was face up 0.81-0.83 of the time (D s0 0.834, P s0 0.810; mu_q,t instead: 0.13, at the share).
# C = 10, chosen before the run from gradient norms on D s0's final checkpoint (3 segments): the
# ELBO and return loss give the first key's interface rows a gradient norm of 2-6 and the MBP
# LSTM 18-36; the read term at C = 1 gives 0.5-0.9 and 0.08-0.14. At 10 it leads on the first
# key and stays a few percent of the LSTM's.
#
# Run H: MERLIN, MemoryGame, --read-target-cost 10, seed 0, 200k env steps, the grid's settings
# otherwise (one thread). Compared with D s0 (session39/runs/D_MemoryGame_s0, today's defaults,
# same seed, normalised 0.063) and its probe (session39/cards_probe_all_fields.jsonl and
# session40/hindsight_probe.jsonl).
# Probe: experiments/cue_probe.py on final.pt, 128 episodes, seed 0 (as for D and P).
# Bars:
#   1 the key learns the look-up: reflipped_rows_weight_by_mbp_read > 0.3 (D 0.089) and
#     reflipped_row_by_mbp_read > 0.4 (D 0.059)
#   2 the prior uses it: reflipped_face_in_mu_p > 0.12 (D 0.080)
#   3 behaviour: match_twin_seen > 0.2 (D 0.086; a random pick 0.10) and the normalised score
#     (calibration18/score.py) > 0.15 (D s0 0.063; the view alone 0.13)
# Bar 3 is not expected from 1 alone: the policy reads the memory with a key of its own, and the
# MBP's reads reach it only through z_{t+1} (the posterior reads m_t). If 1 holds and 3 does not,
# the next step is the policy's read (or --policy-sees z+reads), not this term.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
OUT=runs/session40
mkdir -p "$OUT"
export OMP_NUM_THREADS=1
run="$OUT/H_MemoryGame_s0"
if [ ! -f "$run/checkpoints/final.pt" ]; then
  extra=()
  [ -f "$run/config.json" ] && extra=(--resume)
  merlin-rl train --env merlin_rl/MemoryGame-v0 --seed 0 --total-steps 200000 \
    --checkpoint-interval 50000 --read-target-cost 10 --run-dir "$run" --no-progress "${extra[@]}"
fi
python experiments/cue_probe.py --checkpoint "$run/checkpoints/final.pt" --episodes 128 --seed 0 \
  >> "$OUT/cards_probe_H_MemoryGame.jsonl"
python docs/runs/learning/calibration18/score.py "$OUT" > "$OUT/score_H.jsonl"
