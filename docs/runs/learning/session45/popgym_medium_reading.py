"""The reading of experiments/popgym_medium.yaml, written (forty-fifth session) before any of its
runs finished, as the grid file states it (forty-fourth session). Per task, on the mean over the
two seeds of each run's final normalised score (merlin_rl.experiment.summary_row: the runner's
final, the last 10% of log rows, and the grid's references):

* MERLIN "learns" the task at >= 0.5;
* "the claim holds" where MERLIN >= 0.8 and RL-LSTM < 0.5;
* "predictive memory leads" where MERLIN is ahead of both RL-MEM and RL-LSTM by >= 0.2 on the
  mean and ahead of both on each seed;
* "memory leads" where the better of MERLIN and RL-MEM is ahead of RL-LSTM by >= 0.2.

A task is read only when all six of its runs have finished.

    python docs/runs/learning/session45/popgym_medium_reading.py [GRID_DIR]   (default: the kept folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

from merlin_rl.experiment import env_references, is_finished, read_grid, summary_row

ROOT = Path(__file__).resolve().parents[4]
LEARNS, CLAIM, BELOW, LEAD = 0.5, 0.8, 0.5, 0.2


def score(run: Path, refs: tuple[float, float]) -> float | None:
    row = summary_row("a", "e", [run], None, refs, 0.9)
    if row is None or row["normalised_mean"] == "":
        return None
    return float(row["normalised_mean"])


def main(grid_dir: str | None) -> None:
    grid = read_grid(ROOT / "experiments" / "popgym_medium.yaml")
    root = Path(grid_dir) if grid_dir else ROOT / "docs" / "runs" / "popgym_medium"
    for env in grid.envs:
        refs = env_references(grid, env)
        scores: dict[str, list[float | None]] = {}
        for agent in grid.agents:
            runs = [root / f"{agent}__{env.replace('/', '_')}__s{s}" for s in grid.seeds]
            scores[agent] = [score(r, refs) if is_finished(r) else None for r in runs]
        cells = ", ".join(
            f"{a} " + " / ".join("—" if v is None else f"{v:.3f}" for v in vs)
            for a, vs in scores.items()
        )
        print(f"{env}: {cells}")
        if any(v is None for vs in scores.values() for v in vs):
            print("  not read yet (not all six runs have finished)")
            continue
        m = {a: sum(vs) / len(vs) for a, vs in scores.items()}
        me, mem, lstm = m["merlin"], m["rl-mem"], m["rl-lstm"]
        each_seed = all(
            s["merlin"] > max(s["rl-mem"], s["rl-lstm"])
            for s in ({a: scores[a][i] for a in scores} for i in range(len(grid.seeds)))
        )
        print(f"  means: MERLIN {me:.3f}, RL-MEM {mem:.3f}, RL-LSTM {lstm:.3f}")
        print(f"  MERLIN learns it (>= {LEARNS}): {'yes' if me >= LEARNS else 'no'}")
        print(
            f"  the claim (MERLIN >= {CLAIM}, RL-LSTM < {BELOW}): "
            f"{'holds' if me >= CLAIM and lstm < BELOW else 'does not hold'}"
        )
        lead = me - max(mem, lstm)
        print(
            f"  predictive memory leads (+{LEAD} over both, ahead on each seed): "
            f"{'yes' if lead >= LEAD and each_seed else 'no'} ({lead:+.3f}, each seed: {each_seed})"
        )
        mlead = max(me, mem) - lstm
        print(
            f"  memory leads (the better memory agent +{LEAD} over RL-LSTM): "
            f"{'yes' if mlead >= LEAD else 'no'} ({mlead:+.3f})"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
