#!/usr/bin/env bash
# Twenty-third session, part 4 (a question; no default rides on it): what does the credit cut do
# where every step is rewarded? Written and committed before any run below.
#
# WHY: part 3's cut failed on WaterMaze, where rewards are rare and the trace that crossed a find
# mattered. A narrower cut, only where rewards are dense (consecutive rewarded steps), would leave
# the sparse tasks untouched and still give RepeatSymbol its short trace. Before building it:
# what does a cut at every rewarded step do on two dense tasks of opposite kinds?
#   * CartPole-v1 (+1 every step; the credit for balancing now must cross many rewarded steps:
#     the cut makes the policy's advantage the one-step TD error, lambda 0 in effect);
#   * POPGym CountRecallEasy (reward every step for the current answer; neither MERLIN nor RL-LSTM
#     learned it in 200k env steps, twentieth session; E = that run, seed 0, -0.828 at its end).
# READING, fixed now (mean of the last five log rows): on CartPole the cut "costs" if C < 0.8 x E;
# on CountRecall it "helps" if C >= E + 0.1. CartPole: seed 100, 100k env steps, E and C side by
# side; CountRecall: seed 0, 200k (needs `pip install popgym`).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session23
mkdir -p $out
run() { # dir name, env, seed, steps, extra args...: skipped when finished, resumed when cut off
  local dir=$out/$1 env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps \
      --run-dir $dir $resume "$@" >> $dir.log 2>&1
}
case "${1:-}" in
  1) run popgym_countrecall_cut_s0 popgym-CountRecallEasy-v0 0 200000 --env-import popgym \
         --checkpoint-interval 50000 --credit-cut reward ;;
  2) run CartPole_defaults_s100 CartPole-v1 100 100000
     run CartPole_cut_s100 CartPole-v1 100 100000 --credit-cut reward ;;
  *) echo "usage: cut_dense.sh 1|2" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-05 09:34-09:45; mean of the last five log rows):
#   CartPole-v1, seed 100, 100k: E 267.1, C 161.0 = 0.60 x E: the cut COSTS (< 0.8 x E). (E, the
#     defaults, learns CartPole: 33 at 10k, 356 at its best row, 250 at its last.)
#   POPGym CountRecallEasy, seed 0, 200k: C -0.908 against E -0.843: does NOT help (< E + 0.1).
# So a cut "where rewards are dense" would cost tasks like CartPole, where every step is rewarded
# and the credit must cross rewarded steps, and it does not help the one dense memory task that
# neither agent learns. Reward density does not tell RepeatSymbol's kind (a reward for the
# current action only) from CartPole's; that direction is closed.
