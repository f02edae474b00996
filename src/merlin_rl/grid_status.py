"""Where a grid stands (`merlin-rl experiment GRID --status`), read without running, moving or
writing anything: each cell finished, started (its env steps so far) or not started, and the
time left, estimated from the env steps per second of the grid's own runs."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from merlin_rl.experiment import (
    Grid,
    cell_config,
    is_finished,
    kept_copy,
    run_dir_for,
    stale_settings,
)

FINISHED, STARTED, NOT_STARTED, STALE = "finished", "started", "not started", "stale"
STATES = (FINISHED, STARTED, NOT_STARTED, STALE)


@dataclass
class CellStatus:
    agent: str
    env: str
    seed: int
    state: str  # FINISHED, STARTED, NOT_STARTED or STALE (made with other settings: the runner
    # refuses to start until it is moved away)
    steps: int  # env steps of its last metrics row (0 without one)
    total: int  # env steps the grid gives the cell
    wall: float  # wall_time of its last metrics row, seconds (0.0 without one)


def _last_row(metrics: Path) -> tuple[int, float]:
    """(env_steps, wall_time) of the last row of a run's metrics.csv; (0, 0.0) without one (no
    file yet, or a header only, or a row cut off mid-write)."""
    try:
        with open(metrics, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error):
        return 0, 0.0
    for row in reversed(rows):
        try:
            return int(float(row["env_steps"])), float(row["wall_time"])
        except (KeyError, TypeError, ValueError):
            continue
    return 0, 0.0


def cell_status(grid: Grid, agent: str, env: str, seed: int) -> CellStatus:
    """One cell's state, from its run under ``out`` or else its finished copy under ``keep``."""
    run = run_dir_for(grid, agent, env, seed)
    kept = kept_copy(grid, run)
    where = kept if kept is not None else run
    steps, wall = _last_row(where / "metrics.csv")
    if stale_settings(grid, agent, env, seed, kept):
        state = STALE
    elif is_finished(where):
        state = FINISHED
    elif (where / "config.json").exists():
        state = STARTED
    else:
        state = NOT_STARTED
    total = cell_config(grid, agent, env, seed).total_steps
    return CellStatus(agent, env, seed, state, steps, total, wall)


def time_left(cells: list[CellStatus], jobs: int) -> float | None:
    """Seconds until every cell has finished with ``jobs`` runs at a time: each cell's env steps
    left at the rate (env steps per second) of the grid's runs of the same agent on the same env,
    else of the same agent, else of all runs; None when no run has a metrics row yet. A sum over
    cells divided by ``jobs``, so it ignores the last wave's idle slots, and the rates are those
    the runs had at the ``jobs`` they ran at. Stale cells are left out: they will not run."""
    measured = [c for c in cells if c.steps > 0 and c.wall > 0 and c.state != STALE]
    if not measured:
        return None

    def rate(pool: list[CellStatus]) -> float | None:
        steps, wall = sum(c.steps for c in pool), sum(c.wall for c in pool)
        return steps / wall if pool and wall > 0 else None

    left = 0.0
    for c in cells:
        if c.state in (FINISHED, STALE):
            continue
        r = (
            rate([m for m in measured if (m.agent, m.env) == (c.agent, c.env)])
            or rate([m for m in measured if m.agent == c.agent])
            or rate(measured)
        )
        left += max(c.total - c.steps, 0) / r
    return left / jobs


def grid_status(grid: Grid, jobs: int = 1) -> dict:
    """Every cell's status (in the runner's order), the counts by state and the time left."""
    cells = [cell_status(grid, a, e, s) for e in grid.envs for a in grid.agents for s in grid.seeds]
    counts = {k: sum(c.state == k for c in cells) for k in STATES}
    return {"cells": cells, "counts": counts, "seconds_left": time_left(cells, jobs)}


def format_status(status: dict, jobs: int) -> str:
    """A Markdown table of the cells and a closing line with the counts and the time left."""
    lines = [
        "| agent | env | seed | state | env steps | wall time |",
        "|---|---|---|---|---|---|",
    ]
    for c in status["cells"]:
        lines.append(
            f"| {c.agent} | {c.env} | {c.seed} | {c.state} | {c.steps:,} of {c.total:,} | "
            f"{c.wall:,.0f} s |"
        )
    n = status["counts"]
    left = status["seconds_left"]
    if n[FINISHED] + n[STALE] == len(status["cells"]):
        eta = "none"
    elif left is None:
        eta = "unknown (no run has logged yet)"
    else:
        eta = f"about {left / 3600:.1f} h at --jobs {jobs}"
    lines.append(
        f"\n{len(status['cells'])} cells: {n[FINISHED]} finished, {n[STARTED]} started, "
        f"{n[NOT_STARTED]} not started; time left {eta}"
    )
    if n[STALE]:
        lines.append(
            f"{n[STALE]} stale: made with other settings than the grid gives now, so the runner "
            "will not start until they are moved away (it names the settings)"
        )
    return "\n".join(lines)
