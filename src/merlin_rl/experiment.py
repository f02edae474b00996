"""`merlin-rl experiment`: a grid of agents x envs x seeds, one process per run, summaries and
curves.

The grid file (YAML, TOML or JSON):

    agents = ["merlin", "rl-lstm"]
    envs = ["merlin_rl/ColourMatch-v0"]
    seeds = [0, 1]
    threshold = 0.9          # for "env steps to reach" (optional)
    out = "runs/my-grid"     # optional; default: runs/<file name>
    [train]                  # settings shared by every run (keys as in a run's config.json)
    total_steps = 300000
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from merlin_rl.config import AGENTS, Config, ConfigError
from merlin_rl.plots import plot_runs, read_run

GRID_KEYS = {"agents", "envs", "seeds", "threshold", "out", "train"}


@dataclass
class Grid:
    agents: list[str]
    envs: list[str]
    seeds: list[int]
    threshold: float | None
    out: Path
    train: dict[str, Any]


def read_grid(path: str | Path) -> Grid:
    path = Path(path)
    try:
        text = path.read_text()
        if path.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except OSError as e:
        raise ConfigError(f"experiment file {str(path)!r} cannot be read: {e.strerror or e}") from None
    except Exception as e:  # JSON, TOML and YAML syntax errors
        raise ConfigError(f"experiment file {str(path)!r} cannot be parsed: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"experiment file {str(path)!r} must hold a table of settings")
    unknown = sorted(set(data) - GRID_KEYS)
    if unknown:
        raise ConfigError(f"experiment file {str(path)!r} has unknown keys {unknown}; "
                          f"allowed: {sorted(GRID_KEYS)}")
    for key in ("agents", "envs", "seeds"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ConfigError(f"experiment file {str(path)!r}: {key} must be a non-empty list")
    bad = [a for a in data["agents"] if a not in AGENTS]
    if bad:
        raise ConfigError(f"experiment file {str(path)!r}: unknown agents {bad}; allowed: {AGENTS}")
    train = data.get("train", {})
    fixed = {"agent", "env", "seed", "run_dir"} & set(train)
    if fixed:
        raise ConfigError(f"experiment file {str(path)!r}: [train] may not set {sorted(fixed)} "
                          "(the grid sets them)")
    Config.from_dict({k: v for k, v in train.items() if k != "preset"})  # unknown keys fail here
    out = Path(data.get("out") or Path("runs") / path.stem)
    return Grid(list(data["agents"]), list(data["envs"]), [int(s) for s in data["seeds"]],
                data.get("threshold"), out, train)


def run_dir_for(grid: Grid, agent: str, env: str, seed: int) -> Path:
    return grid.out / f"{agent}__{env.replace('/', '_')}__s{seed}"


def _run_one(grid: Grid, agent: str, env: str, seed: int, threads: int, train_file: Path) -> str:
    run_dir = run_dir_for(grid, agent, env, seed)
    if (run_dir / "checkpoints" / "final.pt").exists():
        return "finished"
    cmd = [sys.executable, "-m", "merlin_rl", "train", "--config", str(train_file),
           "--agent", agent, "--env", env, "--seed", str(seed), "--run-dir", str(run_dir),
           "--no-progress"]
    if (run_dir / "config.json").exists():
        cmd.append("--resume")  # an interrupted run continues
    log = run_dir.parent / f"{run_dir.name}.log"
    with open(log, "w") as f:
        res = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT,
                             env={**os.environ, "OMP_NUM_THREADS": str(threads)})
    return "ran" if res.returncode == 0 else f"failed (exit {res.returncode}, see {log})"


def summarise(grid: Grid) -> list[dict[str, Any]]:
    """One row per (agent, env): final return mean +- std over seeds (last 10% of each run's log
    rows), and the env steps at which each seed first reached the threshold."""
    rows = []
    for env in grid.envs:
        for agent in grid.agents:
            finals, reach = [], []
            for seed in grid.seeds:
                d = run_dir_for(grid, agent, env, seed)
                if not (d / "checkpoints" / "final.pt").exists():
                    continue
                _, steps, values = read_run(d, "episode_return")
                if not len(values):
                    continue
                tail = values[-max(1, len(values) // 10):]
                finals.append(float(tail.mean()))
                if grid.threshold is not None:
                    hit = np.nonzero(values >= grid.threshold)[0]
                    reach.append(float(steps[hit[0]]) if len(hit) else None)
            if not finals:
                continue
            reached = [r for r in reach if r is not None]
            rows.append({
                "agent": agent, "env": env, "seeds": len(finals),
                "final_return_mean": float(np.mean(finals)),
                "final_return_std": float(np.std(finals)),
                "seeds_reaching_threshold": len(reached) if grid.threshold is not None else "",
                "steps_to_threshold_mean": float(np.mean(reached)) if reached else "",
            })
    return rows


def write_summary(grid: Grid, rows: list[dict[str, Any]]) -> None:
    with open(grid.out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["agent"])
        w.writeheader()
        w.writerows(rows)
    thr = f">= {grid.threshold}" if grid.threshold is not None else "(no threshold set)"
    lines = [f"| agent | env | seeds | final return (mean ± std) | seeds reaching {thr} | "
             "env steps to reach it (mean) |", "|---|---|---|---|---|---|"]
    for r in rows:
        steps = (f"{r['steps_to_threshold_mean']:,.0f}" if r["steps_to_threshold_mean"] != ""
                 else "—")
        lines.append(f"| {r['agent']} | {r['env']} | {r['seeds']} | {r['final_return_mean']:.3f} ± "
                     f"{r['final_return_std']:.3f} | {r['seeds_reaching_threshold']} | {steps} |")
    (grid.out / "summary.md").write_text("\n".join(lines) + "\n")


def run_experiment(path: str | Path, jobs: int = 1) -> dict[str, Any]:
    """Run (or resume) the grid, then write summary.csv, summary.md and curves.png."""
    if jobs <= 0:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs}")
    grid = read_grid(path)
    grid.out.mkdir(parents=True, exist_ok=True)
    train_file = grid.out / "train_settings.json"
    train_file.write_text(json.dumps(grid.train, indent=2))
    cells = [(a, e, s) for e in grid.envs for a in grid.agents for s in grid.seeds]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        status = list(pool.map(lambda c: _run_one(grid, *c, threads, train_file), cells))
    rows = summarise(grid)
    write_summary(grid, rows)
    done = [run_dir_for(grid, *c) for c, st in zip(cells, status) if st in ("ran", "finished")]
    if done:
        plot_runs([str(d) for d in done], grid.out / "curves.png")
    return {"out": str(grid.out), "runs": {run_dir_for(grid, *c).name: st
                                          for c, st in zip(cells, status)},
            "summary": rows}
