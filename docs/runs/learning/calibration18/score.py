"""Rule 3 of run.sh: the final normalised score (mean of the last five logged rows) of each
calibration run, defaults against the candidate, as JSON lines.

    python docs/runs/learning/calibration18/score.py RUNS_DIR
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

REFS = {  # (random, max), as in docs/runs/paper_suite/summary.csv
    "merlin_rl/ColourMatch-v0": (0.25, 1.0),
    "merlin_rl/MemoryGame-v0": (0.634, 6.0),
    "merlin_rl/WaterMaze-v0": (0.549, 17.22),
    "merlin_rl/VisuomotorMapping-v0": (8.0, 32.0),
    "merlin_rl/KeyToDoor-v0": (1.62, 9.0),
    "merlin_rl/ActiveVisualMatch-v0": (2.08, 9.0),
    "merlin_rl/InstructedGoal-v0": (0.26, 1.0),
    "MiniGrid-MemoryS7-v0": (0.168, 1.0),
    "experiments/MemoryChain-v0": (0.0, 1.0),
}


def final(run: Path) -> tuple[str, float, int]:
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    env = json.loads((run / "config.json").read_text())["env"]
    tail = [float(r["episode_return"]) for r in rows[-5:]]
    return env, sum(tail) / len(tail), int(rows[-1]["env_steps"])


def main() -> None:
    for run in sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "metrics.csv").is_file()):
        env, ret, steps = final(run)
        if env not in REFS:  # no reference returns here (e.g. POPGym's: experiments/popgym.yaml)
            print(f"score.py: {run.name}: no reference returns for {env}", file=sys.stderr)
            continue
        lo, hi = REFS[env]
        print(
            json.dumps(
                {
                    "run": run.name,
                    "env": env,
                    "env_steps": steps,
                    "final": round(ret, 3),
                    "normalised": round((ret - lo) / (hi - lo), 3),
                }
            )
        )


if __name__ == "__main__":
    main()
