#!/usr/bin/env bash
# The learner's drift at zero signal, on the real agents (forty-second session). Written, with its
# reading, before any of these runs (2026-12-07 ~10:00 UTC).
#
# The stand-in (drift_bandit.py, one policy head fitted to advantage noise with the defaults'
# schedule) loses entropy from 1.36 to 0.35-0.41 nats in 234 updates, and to 1.09-1.14 with the
# joint epochs alone (3 x 2 steps per update instead of 11 x 2). Here the real learner meets a
# task that pays a coin flip whatever it does (noise_env.py): RL-LSTM and MERLIN, the defaults
# and --policy-epochs 0, seed 0, 100k env steps (156 updates), one thread each, two at a time.
#
# Reading, fixed now (entropy = the metrics.csv column loss/entropy, mean of the last 5 rows;
# uniform is log 4 = 1.386):
#   DRIFT holds if, under the defaults, both agents end below 1.0 nats.
#   EPOCHS holds if, with --policy-epochs 0, each agent ends at least 0.2 nats above its
#   defaults run.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
. .venv/bin/activate
export PYTHONPATH=docs/runs/learning/session42 OMP_NUM_THREADS=1
out=docs/runs/learning/session42/drift_real
mkdir -p "$out"
run() {  # name, then train's flags
  local name=$1; shift
  merlin-rl train --env NoiseReward-v0 --env-import noise_env --total-steps 100000 --seed 0 \
    --no-progress --run-dir "runs/session42/$name" "$@" > "runs/session42/$name.log" 2>&1
  mkdir -p "$out/$name"
  cp "runs/session42/$name/metrics.csv" "runs/session42/$name/config.json" "$out/$name/"
}
mkdir -p runs/session42
(run lstm_def --agent rl-lstm; run lstm_pe0 --agent rl-lstm --policy-epochs 0) &
(run merlin_def --agent merlin; run merlin_pe0 --agent merlin --policy-epochs 0) &
wait
