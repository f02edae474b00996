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
import dataclasses
import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from merlin_rl.config import AGENTS, Config, ConfigError, make_config
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
        raise ConfigError(
            f"experiment file {str(path)!r} cannot be read: {e.strerror or e}"
        ) from None
    except Exception as e:  # JSON, TOML and YAML syntax errors
        raise ConfigError(
            f"experiment file {str(path)!r} cannot be parsed: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"experiment file {str(path)!r} must hold a table of settings")
    unknown = sorted(set(data) - GRID_KEYS)
    if unknown:
        raise ConfigError(
            f"experiment file {str(path)!r} has unknown keys {unknown}; "
            f"allowed: {sorted(GRID_KEYS)}"
        )
    where = f"experiment file {str(path)!r}"
    for key in ("agents", "envs", "seeds"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ConfigError(f"{where}: {key} must be a non-empty list")
    bad = [a for a in data["agents"] if not isinstance(a, str) or a not in AGENTS]
    if bad:
        raise ConfigError(f"{where}: unknown agents {bad}; allowed: {', '.join(AGENTS)}")
    bad = [e for e in data["envs"] if not isinstance(e, str) or not e]
    if bad:
        raise ConfigError(f"{where}: envs must be env id strings, got {bad}")
    bad = [
        s
        for s in data["seeds"]
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**31
    ]
    if bad:
        raise ConfigError(f"{where}: seeds must be integers in [0, 2**31), got {bad}")
    threshold = data.get("threshold")
    if threshold is not None and (
        not isinstance(threshold, (int, float))
        or isinstance(threshold, bool)
        or not math.isfinite(threshold)
    ):
        raise ConfigError(f"{where}: threshold must be a number (a return), got {threshold!r}")
    if "out" in data and (not isinstance(data["out"], str) or not data["out"]):
        raise ConfigError(f"{where}: out must be a folder name (a string), got {data['out']!r}")
    train = data.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: train must be a table of settings, got {train!r}")
    fixed = {"agent", "env", "seed", "run_dir"} & set(train)
    if fixed:
        raise ConfigError(f"{where}: [train] may not set {sorted(fixed)} (the grid sets them)")
    if "env_import" in train:
        raise ConfigError(
            f"{where}: [train] may not set env_import (a file never imports "
            "code); pass --env-import to merlin-rl experiment"
        )
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(train) - known)
    if unknown:
        raise ConfigError(f"{where}: [train] has unknown keys {unknown}; allowed: {sorted(known)}")
    for agent in data["agents"]:  # every run's settings, checked before the first run starts
        for env in data["envs"]:
            try:
                make_config(
                    train.get("preset", "small"),
                    **{k: v for k, v in train.items() if k != "preset"},
                    agent=agent,
                    env=env,
                    seed=data["seeds"][0],
                )
            except ConfigError as e:
                raise ConfigError(f"{where}: run {agent} on {env}: {e}") from None
    out = Path(data.get("out") or Path("runs") / path.stem)
    return Grid(
        list(data["agents"]), list(data["envs"]), list(data["seeds"]), threshold, out, train
    )


def run_dir_for(grid: Grid, agent: str, env: str, seed: int) -> Path:
    return grid.out / f"{agent}__{env.replace('/', '_')}__s{seed}"


def _threads_per_run(jobs: int) -> int:
    """Intra-op threads of each run: OMP_NUM_THREADS when the user set it (e.g. two grids side by
    side), else the CPUs shared among the ``jobs`` parallel runs."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // jobs)


def _run_one(
    grid: Grid,
    agent: str,
    env: str,
    seed: int,
    threads: int,
    train_file: Path,
    env_import: str = "",
) -> str:
    run_dir = run_dir_for(grid, agent, env, seed)
    if (run_dir / "checkpoints" / "final.pt").exists():
        return "finished"
    cmd = [
        sys.executable,
        "-m",
        "merlin_rl",
        "train",
        "--config",
        str(train_file),
        "--agent",
        agent,
        "--env",
        env,
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
        "--no-progress",
    ]
    if env_import:
        cmd += ["--env-import", env_import]
    if (run_dir / "config.json").exists():
        cmd.append("--resume")  # an interrupted run continues
    log = run_dir.parent / f"{run_dir.name}.log"
    with open(log, "w") as f:
        res = subprocess.run(
            cmd,
            stdout=f,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": str(threads)},
        )
    return "ran" if res.returncode == 0 else f"failed (exit {res.returncode}, see {log})"


def summarise(grid: Grid) -> list[dict[str, Any]]:
    """One row per (agent, env): final return mean +- std over seeds (last 10% of each run's log
    rows), and the env steps at which each seed first reached the threshold. Finished runs in
    which no episode ended get a row with the note "no finished episode"."""
    rows = []
    for env in grid.envs:
        for agent in grid.agents:
            finals, reach, finished = [], [], 0
            for seed in grid.seeds:
                d = run_dir_for(grid, agent, env, seed)
                if not (d / "checkpoints" / "final.pt").exists():
                    continue
                finished += 1
                _, steps, values = read_run(d, "episode_return")
                if not len(values):
                    continue
                tail = values[-max(1, len(values) // 10) :]
                finals.append(float(tail.mean()))
                if grid.threshold is not None:
                    hit = np.nonzero(values >= grid.threshold)[0]
                    reach.append(float(steps[hit[0]]) if len(hit) else None)
            if not finals:
                if finished:
                    rows.append(
                        {
                            "agent": agent,
                            "env": env,
                            "seeds": 0,
                            "final_return_mean": "",
                            "final_return_std": "",
                            "seeds_reaching_threshold": "",
                            "steps_to_threshold_mean": "",
                            "note": f"no finished episode in {finished} finished runs",
                        }
                    )
                continue
            reached = [r for r in reach if r is not None]
            rows.append(
                {
                    "agent": agent,
                    "env": env,
                    "seeds": len(finals),
                    "final_return_mean": float(np.mean(finals)),
                    "final_return_std": float(np.std(finals)),
                    "seeds_reaching_threshold": len(reached) if grid.threshold is not None else "",
                    "steps_to_threshold_mean": float(np.mean(reached)) if reached else "",
                    "note": ""
                    if len(finals) == finished
                    else f"{finished - len(finals)} runs finished no episode",
                }
            )
    return rows


def write_summary(grid: Grid, rows: list[dict[str, Any]]) -> None:
    with open(grid.out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["agent"])
        w.writeheader()
        w.writerows(rows)
    thr = f">= {grid.threshold}" if grid.threshold is not None else "(no threshold set)"
    lines = [
        f"| agent | env | seeds | final return (mean ± std) | seeds reaching {thr} | "
        "env steps to reach it (mean) | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = (
            f"{r['steps_to_threshold_mean']:,.0f}" if r["steps_to_threshold_mean"] != "" else "—"
        )
        final = (
            f"{r['final_return_mean']:.3f} ± {r['final_return_std']:.3f}"
            if r["final_return_mean"] != ""
            else "—"
        )
        lines.append(
            f"| {r['agent']} | {r['env']} | {r['seeds']} | {final} | "
            f"{r['seeds_reaching_threshold']} | {steps} | {r['note']} |"
        )
    (grid.out / "summary.md").write_text("\n".join(lines) + "\n")


def run_experiment(path: str | Path, jobs: int = 1, env_import: str = "") -> dict[str, Any]:
    """Run (or resume) the grid, then write summary.csv, summary.md and curves.png (when some
    run finished an episode). ``env_import``: the user's --env-import, passed to every run."""
    if jobs <= 0:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs}")
    grid = read_grid(path)
    if env_import:
        from merlin_rl.envs import import_env_modules

        import_env_modules(env_import)
    _check_env_ids(grid)
    grid.out.mkdir(parents=True, exist_ok=True)
    train_file = grid.out / "train_settings.json"
    train_file.write_text(json.dumps(grid.train, indent=2))
    cells = [(a, e, s) for e in grid.envs for a in grid.agents for s in grid.seeds]
    threads = _threads_per_run(jobs)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        status = list(
            pool.map(lambda c: _run_one(grid, *c, threads, train_file, env_import), cells)
        )
    rows = summarise(grid)
    write_summary(grid, rows)
    done = [run_dir_for(grid, *c) for c, st in zip(cells, status) if st in ("ran", "finished")]
    if done and any(r["final_return_mean"] != "" for r in rows):
        plot_runs([str(d) for d in done], grid.out / "curves.png")
    return {
        "out": str(grid.out),
        "runs": {run_dir_for(grid, *c).name: st for c, st in zip(cells, status)},
        "summary": rows,
    }


def _check_env_ids(grid: Grid) -> None:
    """Every env id of the grid is registered (after the user's --env-import)."""
    import gymnasium as gym

    from merlin_rl.envs import BUILTIN_PREFIX

    for env in grid.envs:
        try:
            gym.spec(env)
        except gym.error.Error:
            builtin = sorted(k for k in gym.registry if k.startswith(BUILTIN_PREFIX))
            raise ConfigError(
                f"experiment: unknown env id {env!r} in envs; built-in tasks: "
                f"{', '.join(builtin)}; others need --env-import"
            ) from None
