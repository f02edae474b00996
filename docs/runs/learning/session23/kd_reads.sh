#!/usr/bin/env bash
# Twenty-third session, part 5: a return head that reads the MBP's reads (a diagnostic).
# Written and committed before any run below.
#
# WHY: part 1's probe found that at KeyToDoor's door phase the MBP's reads m_{t-1} carry "the key
# was fetched" (balanced accuracy 0.57-0.79 over 12 checkpoints) while z does not (0.45-0.58), so
# V(z, log pi) cannot know it; a 5x or 25x return weight did not put it into z (part 1b). If the
# return heads read m_{t-1} as well as z (`--return-input z+reads`, RI; a departure from the
# paper, whose V reads z and log pi only), V can know the key from the reads directly, and the
# fetch gets credit through V instead of GAE's tail.
# CANDIDATE: RI against the defaults (B), KeyToDoor seeds 101-103, 200k env steps (B's runs:
# runs/session22/KeyToDoor_bernoulli_s10{1,2,3}: 0.350 / 0.351 / 0.423, mean 0.375).
# QUESTION, fixed now: RI "teaches V the key" if value_gap_start2 (experiments/cue_probe.py, 512
# episodes, seed 0, final checkpoint) is >= 0.5 on at least 2 of 3 seeds.
# RULE (stage 1 of a default change, as kd_return.sh): KeyToDoor mean (calibration18/score.py)
# >= B + 0.10 and ahead of B on 2 of 3 seeds. Stage 2 would be written before it runs (WaterMaze
# seeds 101-103, ColourMatch seeds 13-16, the other tasks on seed 100), in a later session.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session23
mkdir -p $out
run() { # seed: skipped when finished, resumed when cut off
  local dir=$out/KeyToDoor_reads_s$1
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env merlin_rl/KeyToDoor-v0 --seed $1 --total-steps 200000 \
      --return-input z+reads --run-dir $dir $resume >> $dir.log 2>&1
}
case "${1:-}" in
  1) run 101; run 103 ;;
  2) run 102 ;;
  *) echo "usage: kd_reads.sh 1|2" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-05 09:38-09:54; score.py; cue_probe_kd_reads.jsonl, 512 episodes each):
#   RI 0.388 / 0.352 / 0.512 (mean 0.417): B + 0.042, ahead on 3 of 3. Stage 1 FAILS (+0.10).
#   Question: V gap at the door 0.009 / 0.005 / 0.008 (realised return gaps 1.6 / 2.0 / 2.8), with
#   the reads that V now takes in carrying the key at 0.75 / 0.57 / 0.62: NO. V's own lambda-return
#   targets at that step (built on its V over the whole episode) differ by 1.2 / 1.3 / 1.5 between
#   the groups; V, whose fit is fair in the key and apple phases (correlation with its lambda-
#   return 0.69 on B's seed 101), is nearly constant in the door phase (sd 0.13 against its
#   target's 0.76; correlation 0.14). The return input stays "z"; the option stays, as a diagnostic.
