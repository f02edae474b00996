"""RecurrentPPO (sb3-contrib defaults, one seed) on every task of a `merlin-rl experiment` grid,
with the wall-clock budget of MERLIN's run on that task (its seed-0 run's last ``wall_time``),
and optionally also with MERLIN's env-step budget on some tasks. One run directory per task and
budget (rppo_learning.py's format) and one summary.csv over all of them, with the grid's columns,
for experiments/results_table.py.

    pip install -e '.[peers]'
    OMP_NUM_THREADS=1 python benchmarks/peers/rppo_suite.py experiments/paper_suite.yaml \\
        --grid-out docs/runs/paper_suite --out docs/runs/paper_suite_peers \\
        --same-steps merlin_rl/ColourMatch-v0 merlin_rl/MemoryGame-v0 --env-import minigrid

Tasks whose MERLIN run has not finished are skipped (run it again later: finished peer runs are
kept, and a peer run that was stopped resumes from its last checkpoint, rppo_learning.py);
``--summarise`` runs nothing and writes summary.csv from the peer runs that have finished.
The peer's agent name is "rppo (wall)" or "rppo (steps)" in the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("grid", help="the grid file (for its envs and [references])")
    p.add_argument("--grid-out", required=True, help="the grid's output folder (MERLIN's runs)")
    p.add_argument("--out", required=True, help="folder for the peer's runs and summary.csv")
    p.add_argument("--same-steps", nargs="*", default=[], help="envs also run at MERLIN's steps")
    p.add_argument("--env-import", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--summarise",
        action="store_true",
        help="run nothing: write summary.csv from the peer runs that have finished",
    )
    a = p.parse_args()
    from merlin_rl.config import ConfigError
    from merlin_rl.experiment import env_references, is_finished, read_grid, summary_row

    try:
        if a.env_import:
            from merlin_rl.envs import import_env_modules

            import_env_modules(a.env_import)
        grid = read_grid(a.grid)
    except Exception as e:  # ConfigError, EnvError: one line, exit 2
        print(f"rppo_suite: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    unknown = sorted(set(a.same_steps) - set(grid.envs))
    if unknown:
        print(f"rppo_suite: error: --same-steps envs not in the grid: {unknown}", file=sys.stderr)
        raise SystemExit(2)
    fraction = grid.threshold_fraction or 0.9
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], []
    for env in grid.envs:
        merlin = Path(a.grid_out) / f"merlin__{env.replace('/', '_')}__s0"
        rows_m = []
        if is_finished(merlin):
            with open(merlin / "metrics.csv", newline="") as f:
                rows_m = list(csv.DictReader(f))
        if not rows_m:
            print(
                f"rppo_suite: skip {env}: MERLIN's run {merlin} has not finished", file=sys.stderr
            )
            continue
        wall, steps = float(rows_m[-1]["wall_time"]), int(float(rows_m[-1]["env_steps"]))
        try:
            refs = env_references(grid, env)
        except ConfigError as e:
            print(f"rppo_suite: skip {env}: {e}", file=sys.stderr)
            continue
        budgets = [("wall", ["--wall-budget", str(wall), "--total-steps", str(10**9)])]
        if env in a.same_steps:
            budgets.append(("steps", ["--total-steps", str(steps)]))
        for kind, args in budgets:
            run = out / f"rppo-{kind}__{env.replace('/', '_')}__s0"
            if a.summarise and not (run / "summary.csv").exists():
                continue
            if not (run / "summary.csv").exists():
                cmd = [sys.executable, str(HERE / "rppo_learning.py"), "--env", env]
                cmd += ["--seed", "0", "--threads", str(a.threads), "--out", str(run), *args]
                if a.env_import:
                    cmd += ["--env-import", a.env_import]
                if refs:
                    cmd += ["--reference", f"{refs[0]},{refs[1]}"]
                print(" ".join(cmd), flush=True)
                if subprocess.run(cmd).returncode != 0:
                    failed.append(f"{env} ({kind})")
                    continue
            thr = fraction * refs[1] if refs else None
            row = summary_row(f"rppo ({kind})", env, [run], thr, refs, fraction)
            if row is not None:
                rows.append(row)
    if rows:
        with open(out / "summary.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(json.dumps({"out": str(out), "rows": len(rows), "failed": failed}))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
