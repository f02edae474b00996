#!/usr/bin/env bash
# text_weight100.sh's part 2 H arm, seeds 103 then 102, on the core that its half b frees (the
# same commands and directories; half a runs MiniGrid first, then seed 101, and skips these once
# finished). Nothing learned changes.
cd "$(dirname "$0")/../../../.." && . .venv/bin/activate
export OMP_NUM_THREADS=1
out=runs/session36
for s in 103 102; do
  dir=$out/H_RepeatSymbolTokens_s$s
  [ -e $dir ] && continue
  merlin-rl train --no-progress --env merlin_rl/RepeatSymbol-v0 --seed $s --total-steps 150000 \
      --run-dir $dir --checkpoint-interval 50000 --env-kwargs '{"symbol_space": "tokens"}' \
      --baseline mbp --text-weight 100 >> $dir.log 2>&1
done
