#!/bin/bash
# Tenth session: the policy-only epochs (`--policy-epochs 8 --lr-policy 5e-4`, the ninth session's
# candidate) on the suite tasks it had not been tried on, calibration seed 100 (not a grid seed),
# MERLIN only, one thread per job, one calibration job beside one suite-grid or peer job.
# A record of the commands; run from the repository root. The "def" runs are the defaults of
# the time (policy_epochs 0, lr_policy 2e-3); to repeat them after the tenth session's default
# change, add --policy-epochs 0 --lr-policy 2e-3.
c() { name=$1; env=$2; shift 2; OMP_NUM_THREADS=1 merlin-rl train --agent merlin --no-progress --seed 100 --run-dir runs/calibration10/$name --overwrite --env merlin_rl/$env --total-steps 200000 "$@"; }
PE="--policy-epochs 8 --lr-policy 5e-4"
c kd_pe8 KeyToDoor-v0 $PE
c kd_def KeyToDoor-v0
c mg_pe8 MemoryGame-v0 $PE          # default: calibration7/mg_dh512 (same settings)
c vm_pe8 VisuomotorMapping-v0 $PE   # default: calibration7/vm_dh512
c ig_def InstructedGoal-v0
c ig_pe8 InstructedGoal-v0 $PE
# throughput, 3 alternating rounds beside two training jobs (relative numbers only):
#   batched policy-only replay (92c3e61) vs the per-step one (5b24311), P = 8, RepeatSymbol:
#     OMP_NUM_THREADS=1 python benchmarks/throughput.py --env merlin_rl/RepeatSymbol-v0 --updates 15 \
#       --breakdown-updates 0 --env-seconds 0 --threads 1 --set policy_epochs=8
#     -> throughput_batched_policy_replay.json
#   the new default against policy_epochs 0, default task:
#     OMP_NUM_THREADS=1 python benchmarks/throughput.py --updates 15 --breakdown-updates 0 \
#       --env-seconds 0 --threads 1 --set policy_epochs=P     (P = 0, 8)
#     -> throughput_default_policy_epochs.json
