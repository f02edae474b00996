"""Stage 2 of the --lr-policy screen, pre-registered before its runs (forty-sixth session).

Stage 1 (lr_policy_screen.py, seed 100) read "no better" on its rule, the logged final score
(0.852 against 0.892). But the logged return counts episodes during which the policy was updated
about 21 times (acting_vs_eval.py: learning within an episode raises its own return), and
evaluated frozen, the two final checkpoints score 0.644 (2.5e-4) against 0.354 (default),
normalised. This stage asks the frozen question on one more calibration seed:

    for lr in default 2.5e-4; do
      OMP_NUM_THREADS=1 merlin-rl train --agent merlin --env popgym-RepeatFirstMedium-v0 \
        --env-import popgym --seed 101 --total-steps 500000 --run-dir runs/session46/s101_lr_$lr \
        --no-progress $([ $lr = default ] || echo --lr-policy $lr)
    done   # side by side, then for each final.pt:
    merlin-rl eval --checkpoint RUN/checkpoints/final.pt --env-import popgym --episodes 128 --seed 12345

Reading, fixed now, on the frozen eval's normalised score ((R + 0.501) / 1.501) of seeds 100 and
101: the slower policy "leads" if its mean is ahead of the default's by >= 0.15 and it is ahead on
both seeds; otherwise "no lead". Leading takes it to a suite check (WaterMaze, KeyToDoor,
ActiveVisualMatch on calibration seeds) before any default changes; one POPGym task decides no
default. Reported whichever way it reads.

    python docs/runs/learning/session46/lr_policy_stage2.py EVAL_JSONL [EVAL_JSONL ...]
"""

from __future__ import annotations

import json
import sys

RANDOM, MAX, MARGIN = -0.501, 1.0, 0.15


def main(files: list[str]) -> None:
    scores: dict[tuple[str, str], float] = {}
    for f in files:
        for line in open(f):
            d = json.loads(line)
            run = d["checkpoint"].split("/")[-3]  # e.g. lr_default, s101_lr_2.5e-4
            seed = "101" if run.startswith("s101_") else "100"
            lr = "slow" if run.endswith("2.5e-4") else "default"
            scores[(seed, lr)] = (d["mean_return"] - RANDOM) / (MAX - RANDOM)
    for k, v in sorted(scores.items()):
        print(f"seed {k[0]} {k[1]}: {v:.3f}")
    if len(scores) < 4:
        print("not read yet (needs both seeds, both rates)")
        return
    gaps = [scores[(s, "slow")] - scores[(s, "default")] for s in ("100", "101")]
    mean = sum(gaps) / 2
    leads = mean >= MARGIN and all(g > 0 for g in gaps)
    print(
        f"slower policy: {'leads' if leads else 'no lead'} (mean gap {mean:+.3f}; per seed {gaps})"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
