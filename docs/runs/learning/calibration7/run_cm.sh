#!/bin/bash
# Seventh session: ColourMatch with --decoder-hidden 512 stalled at 0.75 on seed 100; two more
# calibration seeds (101, 102; not grid seeds), default width beside 512, same run.
r() { name=$1; seed=$2; shift 2; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed $seed --run-dir runs/calibration7/$name --overwrite --env merlin_rl/ColourMatch-v0 --total-steps 150000 "$@"; }
(r cm_def_s101 101; r cm_def_s102 102) > runs/calibration7/cmA.log 2>&1 &
(r cm_dh512_s101 101 --decoder-hidden 512; r cm_dh512_s102 102 --decoder-hidden 512) > runs/calibration7/cmB.log 2>&1 &
wait
