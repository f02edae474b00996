#!/bin/bash
# Seventh session, calibration seed 100 (not a grid seed): --decoder-hidden 512 against the default
# width (128 = mlp_hidden) on the other image tasks, two lanes side by side, one thread each.
r() { name=$1; env=$2; shift 2; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed 100 --run-dir runs/calibration7/$name --overwrite --env merlin_rl/$env "$@"; }
laneA() {
  r avm_def ActiveVisualMatch-v0 --total-steps 200000
  r mg_def MemoryGame-v0 --total-steps 200000
  r vm_dh512 VisuomotorMapping-v0 --total-steps 200000 --decoder-hidden 512
}
laneB() {
  r avm_dh512 ActiveVisualMatch-v0 --total-steps 200000 --decoder-hidden 512
  r mg_dh512 MemoryGame-v0 --total-steps 200000 --decoder-hidden 512
  r cm_dh512 ColourMatch-v0 --total-steps 150000 --decoder-hidden 512
}
laneA > runs/calibration7/laneA.log 2>&1 &
laneB > runs/calibration7/laneB.log 2>&1 &
wait
