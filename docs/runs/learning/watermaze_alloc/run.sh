#!/bin/bash
# WaterMaze with N = 64 (episodes of 200 steps): the three allocations x seeds 0-2, 200k env steps
# each, two runs at a time with one thread each (fifth session, 2026-12-02, ~4.5 min per run).
# Figure: merlin-rl plot runs/learning/watermaze_alloc/*__s? --group-by allocation \
#   --out docs/learning_watermaze_allocation_3seeds.png
for seed in 0 1 2; do for alloc in usage usage-literal fifo; do echo "$alloc $seed"; done; done |
  xargs -P 2 -L 1 sh -c 'OMP_NUM_THREADS=1 merlin-rl train --agent merlin \
    --env merlin_rl/WaterMaze-v0 --memory-rows 64 --allocation $0 --total-steps 200000 \
    --seed $1 --no-progress --run-dir runs/learning/watermaze_alloc/$0__s$1'
