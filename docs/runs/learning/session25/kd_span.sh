#!/usr/bin/env bash
# Twenty-fifth session: does KeyToDoor's fetch learn when the door's reward reaches it inside one
# segment? (a diagnostic; written and committed before any run below)
#
# WHY: the fetch (steps 0-14) and the door (steps 60-74) never share a 20-step segment, so the
# door's reward reaches the fetch only through V's bootstrap, and V does not know the key (sessions
# 23-24: V's gap at the door <= 0.02 against the targets' 1.1). With segments longer than the
# episode (tau 160 > 2 x 75) most episodes lie inside one segment, and with the policy's lambda 1
# the fetch's advantage holds the door's reward discounted by gamma^55 (0.58 at gamma 0.99) with no
# need for V. If MERLIN's miss is this routing (the case for TVT, Hung et al. 2019, or for a
# whole-episode learner), the fetch rate and the score should rise.
# ARMS (KeyToDoor seeds 101-103, 200k env steps, the defaults otherwise):
#   SPAN: --num-envs 4 --tau 160 --gamma 0.99 --lam 1 --lam-value 0.9
#   CTRL: --num-envs 4 --tau 160 --gamma 0.99 --lam 0.9
#   4 envs x 160 steps = 640 transitions per update, as 32 x 20 at the defaults, so both arms take
#   the defaults' 312 updates. The arms differ only in the policy's GAE lambda: the return heads'
#   targets are the same (lam-value 0.9), and CTRL's policy trace reaches (0.99 x 0.9)^55 = 0.002
#   of the door's reward back to the fetch. References already measured: the defaults
#   (0.350 / 0.351 / 0.423, mean 0.375; fetched 0.324 / 0.285 / 0.293) and --gamma 0.99 at tau 20
#   (0.429 / 0.376 / 0.430, mean 0.412; fetched 0.402 / 0.422 / 0.473).
# QUESTION 1, fixed now: "in-segment credit reaches the fetch" if SPAN's fetched share (cue_probe.py,
#   512 episodes, seed 0, final checkpoint) is >= CTRL's + 0.15 on at least 2 of 3 seeds.
# QUESTION 2, fixed now: "the route is worth building" if also SPAN's mean normalised score
#   (calibration18/score.py) is >= the defaults' 0.375 + 0.10 = 0.475 and ahead of CTRL on 2 of 3.
# Not a default change on any outcome: 4 envs and tau 160 act on every task (3x slower here).
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session25
mkdir -p $out
run() { # arm seed flags...: skipped when finished, resumed when cut off
  local dir=$out/KeyToDoor_$1_s$2; local seed=$2; shift 2
  [ -f $dir/checkpoints/final.pt ] && return
  local resume=; [ -d $dir ] && resume=--overwrite  # cut off before its first checkpoint
  [ -f $dir/checkpoints/latest.pt ] && resume=--resume
  merlin-rl train --no-progress --env merlin_rl/KeyToDoor-v0 --seed $seed --total-steps 200000 \
      --num-envs 4 --tau 160 --gamma 0.99 --run-dir $dir $resume "$@" >> $dir.log 2>&1
}
span() { run span $1 --lam 1 --lam-value 0.9; }
ctrl() { run ctrl $1 --lam 0.9; }
case "${1:-}" in
  1) span 101; span 103; ctrl 102 ;;
  2) ctrl 101; span 102; ctrl 103 ;;
  *) echo "usage: kd_span.sh 1|2" >&2; exit 2 ;;
esac
#
# Outcome (2026-12-05 11:09-12:14, two runs side by side; score.py; cue_probe_kd_span.jsonl, 512
# episodes each):
#   SPAN 0.215 / 0.218 / 0.229 (mean 0.221), CTRL 0.374 / 0.338 / 0.306 (mean 0.339); fetched SPAN
#   0.213 / 0.285 / 0.137 against CTRL 0.357 / 0.312 / 0.152 (-0.144 / -0.027 / -0.015).
#   Question 1: NO (SPAN's fetch is below CTRL's on every seed). Question 2: NO (0.221 < 0.475,
#   behind CTRL on 3 of 3).
#   The credit does arrive: SPAN's policy targets at the key phase's last step differ by 0.78 /
#   1.10 / 0.50 between the episodes with and without the key (equal to the returns' gaps, as
#   lambda 1 makes them), CTRL's by -0.01 / -0.08 / -0.06. The fetch still falls: the 45 apple
#   steps' reward noise rides on the same advantage (Hung et al. 2019's argument for TVT).
#   CTRL itself (4 envs x 160 steps at gamma 0.99) is behind --gamma 0.99 at 32 x 20 (0.339 against
#   0.412 on the same seeds): the long segments with few envs cost about 0.07 by themselves.
