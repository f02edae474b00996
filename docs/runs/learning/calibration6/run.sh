#!/bin/bash
# Sixth session, calibration seed 100 (not a grid seed), KeyToDoor; one thread each, beside one grid job.
r() { name=$1; shift; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed 100 --run-dir runs/calibration6/$name --overwrite --env merlin_rl/KeyToDoor-v0 "$@"; }
r ktd_acted --total-steps 200000 --replay-view acted
r ktd_current --total-steps 200000 --replay-view current   # cut at 80k (session time)
r ktd_iw200 --total-steps 80000 --image-weight 200
r ktd_dh512 --total-steps 80000 --decoder-hidden 512
# probes of a final checkpoint: python appleprobe.py runs/calibration6/ktd_dh512/checkpoints/final.pt
