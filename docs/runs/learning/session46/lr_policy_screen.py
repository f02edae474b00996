"""A screen, pre-registered before any of its runs (forty-sixth session): does a slower policy keep
what MERLIN learns on RepeatFirstMedium?

Why: fallback_probe.py and suit_probe.py found MERLIN's fall-back on RepeatFirstMedium to be the
policy's mapping from the recalled card to its answer drifting between checkpoints (one or two
suits mapped wrong, the card itself well separated in the policy's inputs), not the memory. The
policy's Adam rate (--lr-policy, 5e-4 since the tenth session) is the first lever on a mapping
that is learned and then unlearned.

Runs (calibration seed 100, outside every grid; POPGym's references as in popgym_medium.yaml;
500k env steps like the grid; every other setting the default):

    for lr in default 2.5e-4; do
      OMP_NUM_THREADS=1 merlin-rl train --agent merlin --env popgym-RepeatFirstMedium-v0 \
        --env-import popgym --seed 100 --total-steps 500000 --run-dir runs/session46/lr_$lr \
        --no-progress $([ $lr = default ] || echo --lr-policy $lr)
    done   # the two side by side, one thread each

Reading, fixed now: on the final normalised score (the runner's final: the last 10% of log rows)
and the stability of the last 100k env steps (the range, max - min, of the logged returns):
* the slower policy "passes the screen" if its final is >= the default's + 0.2 and its range is
  smaller than the default's;
* "no better" otherwise.
One seed decides nothing about the default: passing leads to a stage on more calibration seeds
(101, 102) and on two suite tasks before any default changes. Reported whichever way it reads.

    python docs/runs/learning/session46/lr_policy_screen.py [RUNS_DIR]   (default runs/session46)
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

from merlin_rl.experiment import summary_row

REFS = (-0.501, 1.0)  # popgym_medium.yaml's random and max for RepeatFirstMedium
LAST = 100_000
MARGIN = 0.2


def read(run: Path) -> tuple[float, float] | None:
    """(final normalised score, range of the logged returns over the last LAST env steps)."""
    if not (run / "metrics.csv").exists():
        return None
    row = summary_row("merlin", "e", [run], None, REFS, 0.9)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    end = int(rows[-1]["env_steps"])
    rets = [
        float(r["episode_return"])
        for r in rows
        if int(r["env_steps"]) > end - LAST and not math.isnan(float(r["episode_return"] or "nan"))
    ]
    return float(row["normalised_mean"]), max(rets) - min(rets)


def main(root: Path) -> None:
    got = {name: read(root / name) for name in ("lr_default", "lr_2.5e-4")}
    for name, v in got.items():
        print(
            f"{name}: "
            + ("not run" if v is None else f"final {v[0]:.3f}, last-100k range {v[1]:.3f}")
        )
    if any(v is None for v in got.values()):
        return
    (d, d_range), (s, s_range) = got["lr_default"], got["lr_2.5e-4"]
    passes = s >= d + MARGIN and s_range < d_range
    print(f"slower policy: {'passes the screen' if passes else 'no better'} ({s - d:+.3f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/session46"))
