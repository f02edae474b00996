# Eighteenth session: the MBP without its gradient-norm clip, with the factored latent, on the suite.
#
# Why (seventeenth session, docs/learning.md "The MBP's gradient clip..."): the MBP's gradient norm
# is 50-6,000 in every grid run, so the clip at 20 scales every MBP step by 20/|g|; without it
# (--grad-clip 1e9; the policy's norm is below 1 in every run, so its clip never acts) and with
# --latent factored, InstructedGoal's instruction gets into z_0 on 2 of 3 seeds (NLL 0.24, 0.70,
# 2.57), with the clip on none. Already measured on seed 100 with the candidate: InstructedGoal
# (NLL 0.24, return 0.265), ColourMatch (0.9 at 90,240), WaterMaze (0.160 normalised; the
# defaults 0.152), ActiveVisualMatch (0.33; no seed-100 run under the defaults yet).
#
# RULE, written before any run below. MERLIN alone, the grid's settings (200k env steps; 150k on
# ColourMatch and MemoryChain), calibration seed 100 (outside the grid; CPU runs are reproducible,
# so an earlier seed-100 run under identical settings stands). The candidate C = `--latent
# factored` and no MBP clip becomes the default if all hold:
#  1. InstructedGoal: C's step-0 instruction NLL (experiments/cue_probe.py) < 2.0 (known: 0.24).
#  2. ColourMatch: C reaches 0.9 within 150k (known: 90,240).
#  3. Every other suite task (MemoryGame, WaterMaze, VisuomotorMapping, KeyToDoor,
#     ActiveVisualMatch, InstructedGoal, MiniGrid-MemoryS7): C's final normalised score (the mean
#     of the last five logged rows, normalised by the task's random and max references) >= the
#     defaults' on the same seed - 0.05. A miss on one task only, by less than 0.15, gets seed 101
#     for both settings on that task, and the two-seed mean decides for it.
#  4. MemoryChain (length 30; a user's env, experiments/memory_chain.py): C's final return >= 0.8
#     (the defaults: 0.875).
# If it holds, MERLIN's grid cells are re-run under the new defaults (every task: the clip acts
# on all of them); the ablations' cells stand only if the change is MERLIN's alone.
#
# OUTCOME of the first rule (the first pair only; the rest was stopped, the rule being decided):
# KeyToDoor, mean of the last five logged rows: defaults 4.490 (normalised 0.389), candidate
# 3.044 (0.193): a miss by 0.196 (more than 0.15, so no second seed). The image loss at the end
# is 0.3 with the clip and 1.5 without it: the clip helps the image. NOT ADOPTED.
#
# SECOND CANDIDATE, the rule written before any of its runs: C2 = `--latent factored --mbp-clip
# kind` (new: each observation kind's own parameters, its encoder, decoder and factored
# posterior, are clipped at 20 by their own norm, and the MBP's shared rest by its own;
# mbp.MBP.clip_groups). The image keeps a clip as before, and the image's norm no longer scales
# the instruction's step. Rules 1-4 as above with C2 in place of C; the defaults' KeyToDoor run
# is the one above (kd_def). Order: the two tasks most at risk first (KeyToDoor, InstructedGoal).
#
# (the first candidate's commands, run for the KeyToDoor pair only:)
: <<'FIRST'
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1 PYTHONPATH=experiments
out=runs/calibration18
tr() { merlin-rl train --seed 100 --total-steps 200000 --no-progress "$@"; }
cand="--latent factored --grad-clip 1e9"
pair() { # task, short name, extra args...
  local env=$1 name=$2; shift 2
  tr --env "$env" "$@" --run-dir $out/${name}_def > $out/${name}_def.log 2>&1 &
  tr --env "$env" "$@" $cand --run-dir $out/${name}_cand > $out/${name}_cand.log 2>&1
  wait
}
mkdir -p $out
pair merlin_rl/KeyToDoor-v0 kd
pair merlin_rl/MemoryGame-v0 mg
pair merlin_rl/VisuomotorMapping-v0 vm
pair MiniGrid-MemoryS7-v0 mgrid --env-import minigrid
tr --env merlin_rl/ActiveVisualMatch-v0 --run-dir $out/avm_def > $out/avm_def.log 2>&1 &
merlin-rl train --env-import memory_chain --env experiments/MemoryChain-v0 --seed 100 \
    --total-steps 150000 --no-progress $cand --run-dir $out/mc_cand > $out/mc_cand.log 2>&1
wait
tr --env merlin_rl/InstructedGoal-v0 --run-dir $out/ig_def > $out/ig_def.log 2>&1
FIRST
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1 PYTHONPATH=experiments
out=runs/calibration18
tr() { merlin-rl train --seed 100 --total-steps 200000 --no-progress "$@"; }
c2="--latent factored --mbp-clip kind"
both() { # two runs side by side: NAME ARGS... -- NAME ARGS...
  local a=$1; shift; local args=()
  while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  local b=$1; shift
  tr "${args[@]}" --run-dir $out/$a > $out/$a.log 2>&1 &
  tr "$@" --run-dir $out/$b > $out/$b.log 2>&1
  wait
}
both kd_c2 --env merlin_rl/KeyToDoor-v0 $c2 -- ig_c2 --env merlin_rl/InstructedGoal-v0 $c2
python experiments/cue_probe.py --checkpoint $out/ig_c2/checkpoints/final.pt --episodes 256 \
    > docs/runs/learning/calibration18/cue_probe_ig_c2.jsonl
both cm_c2 --env merlin_rl/ColourMatch-v0 --total-steps 150000 $c2 \
    -- ig_def --env merlin_rl/InstructedGoal-v0
both mg_c2 --env merlin_rl/MemoryGame-v0 $c2 -- mg_def --env merlin_rl/MemoryGame-v0
both vm_c2 --env merlin_rl/VisuomotorMapping-v0 $c2 -- vm_def --env merlin_rl/VisuomotorMapping-v0
both avm_c2 --env merlin_rl/ActiveVisualMatch-v0 $c2 -- avm_def --env merlin_rl/ActiveVisualMatch-v0
both wm_c2 --env merlin_rl/WaterMaze-v0 $c2 -- mc_c2 --env-import memory_chain \
    --env experiments/MemoryChain-v0 --total-steps 150000 $c2
both mgrid_c2 --env-import minigrid --env MiniGrid-MemoryS7-v0 $c2 \
    -- mgrid_def --env-import minigrid --env MiniGrid-MemoryS7-v0
