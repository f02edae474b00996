#!/usr/bin/env bash
# Twenty-sixth session: MiniGrid's image as codes, not pixels (--image-codes categorical, new).
# (written and committed before the run below)
#
# WHY (experiments/minigrid_probe.py, new; minigrid_probe_200k.jsonl, 1,024 episodes of film.sh's
# 200k MiniGrid-MemoryS7 checkpoints, seed 100): at the first step the cue is in view, its kind
# (key or ball) cannot be read from z_t (balanced accuracy of a held-out linear probe 0.48 / 0.46
# for D / F; 0.5 = not at all), nor from either agent's reads at the split (0.47-0.55). MiniGrid's
# image holds ids (object, colour, state), divided by the auto --image-scale 7 and scored as
# pixels under --image-output bernoulli: a key (5/7) drawn as a ball (6/7) costs ~0.014 nats
# against a wall (2/7) ~0.36, so z need not keep the kind. As a categorical per cell and channel
# (8 codes) every wrong id costs the same, -log p(code).
# ARM C (calibration seed 100, 200k env steps, MiniGrid-MemoryS7-v0, the defaults otherwise):
#   --image-codes categorical; against film.sh's D (the defaults, the same seed: final 0.482).
# QUESTION 1, fixed now: "z holds the cue" if C's cue_in_z_when_seen (minigrid_probe.py, 1,024
#   episodes, final checkpoint) is >= 0.75.
# QUESTION 2, fixed now: "categorical becomes the default" if Q1 holds and C's final return (the
#   mean of the last five logged rows) is >= D's - 0.02 = 0.462. It changes only integer images of
#   small codes (no built-in task has one: their images are pixels, scale 255), so on a yes the
#   grid's three MERLIN MiniGrid-MemoryS7 cells are re-run under it and nothing else.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session26
d=$out/minigrid_C_s100; r=; [ -f $d/checkpoints/latest.pt ] && r=--resume
[ -f $d/checkpoints/final.pt ] || merlin-rl train --no-progress --env MiniGrid-MemoryS7-v0 \
  --env-import minigrid --image-codes categorical --seed 100 --total-steps 200000 --run-dir $d $r \
  >> $d.log 2>&1
python experiments/minigrid_probe.py --checkpoint $d/checkpoints/final.pt --episodes 1024 \
  > docs/runs/learning/session26/minigrid_probe_C.jsonl
