#!/usr/bin/env bash
# Thirty-sixth session: a text weight of 10 as the default? Question and rule written and
# committed before any run below (the calibration look, seed 1, was made first and is given here).
#
# WHY: issue 12 asks that z_t carry every input kind at its default weight. benchmarks/latent.py
# (a random input each step) leaves text 55% of the way from the uninformed loss at text_weight 1
# (thirty-fifth session). A categorical input at weight 1 is at the edge in principle: each nat of
# the input carried in z costs at least a nat of KL and saves a nat of reconstruction, and a
# Gaussian z pays more than the bound, so the KL wins; the Discrete input needed a weight of 10-100
# for the same reason (thirtieth and thirty-fourth sessions). Text inputs here: InstructedGoal's
# instruction, MiniGrid's mission (a constant string), any 1-D integer Box or MultiDiscrete
# (POPGym's CountRecall), and external tasks with such inputs.
#
# CALIBRATION (before this rule; latent.py --kinds text --elbos balanced, seed 1, 300 updates):
#   text_weight 1: 0.547 of the way left, KL 5.4 nats; 10: 0.051, KL 19.5; 100: 0.020, KL 29.0.
#   Candidate: 10, the smaller weight that leaves less than 0.1.
#
# ARMS: D today's defaults (text_weight 1); T text_weight 10.
# PARTS (each must hold):
#   1. The latent benchmark on fresh seeds 2 and 3 (latent.py --kinds text multidiscrete --elbos
#      balanced): T leaves <= 0.15 of the way for text on both seeds, and for multidiscrete no
#      more than D + 0.02 on each seed.
#   2. Recall through the text pathway: RepeatSymbol with symbol_space "tokens" (new knob: the
#      same symbol as a one-token id sequence, read by the text encoder and decoder), 150k env
#      steps, seeds 101-103 (session34/score_rs.py: the mean of the last three rows):
#      T's mean >= D's mean - 0.02.
#   3. MiniGrid-MemoryS7 (its mission is text), seed 100, 100k env steps: T's normalised score
#      (calibration18/score.py, the last five rows) >= D's - 0.05. D = session34/H100_MiniGrid_s100
#      (today's defaults, 100k).
# RULE, fixed now: all hold -> text_weight 10 becomes the default (`--preset paper` keeps 1; the
#   experiment runner is told that it matters only for MERLIN on envs with a text input); the
#   stale cells are re-run. Any fails -> it stays an option, and the text part of issue 12's
#   latent target is reported as met only at weight 10.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session36
mkdir -p $out
run() { # name env seed steps flags...: skipped when finished, resumed when cut off
  local dir=$out/$1; local env=$2 seed=$3 steps=$4; shift 4
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env $env --seed $seed --total-steps $steps --run-dir $dir \
      --checkpoint-interval 50000 $resume "$@" >> $dir.log 2>&1
}
tokens=(--env-kwargs '{"symbol_space": "tokens"}')
case "${1:-}" in
  a) # part 1, then part 2's T arm
    for s in 2 3; do
      for w in 1 10; do
        f=$out/latent_w${w}_s$s.json
        [ -s $f ] || python benchmarks/latent.py --kinds text multidiscrete --elbos balanced \
            --seed $s --set text_weight=$w > $f
      done
    done
    for s in 101 102 103; do
      run T_RepeatSymbolTokens_s$s merlin_rl/RepeatSymbol-v0 $s 150000 "${tokens[@]}" --text-weight 10
    done ;;
  b) # part 3, then part 2's D arm
    run T_MiniGrid_s100 MiniGrid-MemoryS7-v0 100 100000 --env-import minigrid --text-weight 10
    for s in 101 102 103; do
      run D_RepeatSymbolTokens_s$s merlin_rl/RepeatSymbol-v0 $s 150000 "${tokens[@]}"
    done ;;
  *) echo "usage: text_weight.sh a|b (the two halves side by side)" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-06 17:05-17:33; runs/session36/latent_w{1,10}_s{2,3}.json, the share of the way
# left, KL in nats):
#   1. text: D 0.556 / 0.537 (KL 5.0 / 5.7); T 0.197 / 0.155 (KL 16.2 / 19.7): above the bar of
#      0.15 on both seeds: FAILS. multidiscrete: D 0.253 / 0.331; T 0.019 / 0.021: holds.
#   Part 1 failed, so by the rule text_weight 10 stays an option. Parts 2 and 3 were stopped at
#   their start (T_RepeatSymbolTokens_s101 at 10k; nothing else begun): they cannot change the
#   outcome, and the cores were needed for critic_stage2.sh.
