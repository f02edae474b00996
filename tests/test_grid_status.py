"""`merlin-rl experiment GRID --status`: each cell's state and env steps, read from the runs under
`out` and the finished copies under `keep`, the time left against a hand computation, and nothing
written."""

from __future__ import annotations

import json

import pytest

from merlin_rl.cli import main as cli_main
from merlin_rl.experiment import cell_config, read_grid
from merlin_rl.grid_status import (
    FINISHED,
    NOT_STARTED,
    STALE,
    STARTED,
    grid_status,
    time_left,
)

GRID = """
agents = ["merlin", "rl-lstm"]
envs = ["merlin_rl/ColourMatch-v0", "merlin_rl/WaterMaze-v0"]
seeds = [0, 1]
out = "{out}"
keep = "{keep}"
[train]
total_steps = 1000
[per_env."merlin_rl/WaterMaze-v0"]
total_steps = 4000
"""
HEADER = "env_steps,updates,wall_time,episode_return\n"


def _run(folder, rows, finished=False, name="x"):
    """A run folder with the settings the grid gives its cell (config.json), metrics rows
    [(env_steps, wall_time)] and, if ``finished``, the runner's marker."""
    folder.mkdir(parents=True)
    agent, env, seed = folder.name.split("__")
    env = env.replace("merlin_rl_", "merlin_rl/")
    grid = read_grid(folder.parents[1] / "g.toml")
    (folder / "config.json").write_text(cell_config(grid, agent, env, int(seed[1:])).to_json())
    body = "".join(f"{s},1,{w},0.5\n" for s, w in rows)
    (folder / "metrics.csv").write_text(HEADER + body)
    if finished:
        (folder / "finished.json").write_text(json.dumps({"agent": name}))


@pytest.fixture
def grid_file(tmp_path):
    out, keep = tmp_path / "out", tmp_path / "keep"
    path = tmp_path / "g.toml"
    path.write_text(GRID.format(out=out, keep=keep))
    cm, wm = "merlin_rl_ColourMatch-v0", "merlin_rl_WaterMaze-v0"
    _run(out / f"merlin__{cm}__s0", [(500, 10.0), (1000, 20.0)], finished=True)
    _run(out / f"merlin__{cm}__s1", [(500, 10.0)])  # started
    _run(keep / f"rl-lstm__{cm}__s0", [(1000, 5.0)], finished=True)  # finished, kept copy only
    _run(out / f"rl-lstm__{cm}__s1", [(200, 1.0)])  # started; its last row was cut off:
    with open(out / f"rl-lstm__{cm}__s1" / "metrics.csv", "a") as f:
        f.write("40")
    _run(out / f"merlin__{wm}__s0", [(1000, 40.0)])  # started
    return path


def test_states_steps_and_totals(grid_file):
    status = grid_status(read_grid(grid_file))
    got = {(c.agent, c.env.split("/")[1][:5], c.seed): c for c in status["cells"]}
    assert got[("merlin", "Colou", 0)].state == FINISHED
    assert got[("merlin", "Colou", 1)].state == STARTED and got[("merlin", "Colou", 1)].steps == 500
    assert got[("rl-lstm", "Colou", 0)].state == FINISHED  # from keep
    assert got[("rl-lstm", "Colou", 0)].wall == 5.0
    assert got[("rl-lstm", "Colou", 1)].steps == 200  # the cut-off row is skipped
    assert got[("merlin", "Water", 0)].total == 4000  # [per_env] wins over [train]
    assert got[("merlin", "Colou", 0)].total == 1000
    assert got[("rl-lstm", "Water", 1)].state == NOT_STARTED
    assert status["counts"] == {FINISHED: 2, STARTED: 3, NOT_STARTED: 3, STALE: 0}


def test_time_left_by_hand(grid_file):
    cells = grid_status(read_grid(grid_file))["cells"]
    merlin_cm = (1000 + 500) / (20.0 + 10.0)  # the same agent on the same env: 50 steps/s
    merlin_wm = 1000 / 40.0  # 25 steps/s
    lstm_cm = (1000 + 200) / (5.0 + 1.0)  # 200 steps/s
    lstm_any = lstm_cm  # rl-lstm has no WaterMaze run: its rate on any env
    left = (
        500 / merlin_cm  # merlin, ColourMatch, seed 1
        + 800 / lstm_cm  # rl-lstm, ColourMatch, seed 1
        + 3000 / merlin_wm  # merlin, WaterMaze, seed 0
        + 4000 / merlin_wm  # merlin, WaterMaze, seed 1
        + 2 * 4000 / lstm_any  # rl-lstm, WaterMaze, seeds 0 and 1
    )
    assert time_left(cells, 1) == pytest.approx(left)
    assert time_left(cells, 2) == pytest.approx(left / 2)
    assert time_left([c for c in cells if c.steps == 0], 1) is None  # nothing measured


def test_a_run_made_with_other_settings_is_stale_and_left_out_of_the_time(grid_file, capsys):
    grid = read_grid(grid_file)
    before = time_left(grid_status(grid)["cells"], 1)
    config = grid.out / "merlin__merlin_rl_ColourMatch-v0__s1" / "config.json"
    config.write_text(config.read_text().replace('"tau": 20', '"tau": 7'))
    status = grid_status(grid)
    stale = [c for c in status["cells"] if c.state == STALE]
    assert [(c.agent, c.seed, c.env) for c in stale] == [("merlin", 1, "merlin_rl/ColourMatch-v0")]
    assert status["counts"][STALE] == 1 and status["counts"][STARTED] == 2
    # it will not run: its 500 env steps left (at merlin's ColourMatch rate, 50 a second, with or
    # without it) no longer count
    assert time_left(status["cells"], 1) == pytest.approx(before - 500 / 50)
    assert cli_main(["experiment", str(grid_file), "--status"]) == 0
    assert "1 stale: made with other settings" in capsys.readouterr().out


def test_cli_prints_the_table_and_writes_nothing(grid_file, tmp_path, capsys):
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert cli_main(["experiment", str(grid_file), "--status", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "| rl-lstm | merlin_rl/ColourMatch-v0 | 1 | started | 200 of 1,000 |" in out
    assert "8 cells: 2 finished, 3 started, 3 not started; time left about" in out
    assert "at --jobs 2" in out
    assert sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("flag", ["--summarise", "--agents=merlin"])
def test_status_with_a_flag_that_runs_or_writes_is_one_line(grid_file, capsys, flag):
    assert cli_main(["experiment", str(grid_file), "--status", flag]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--status" in err
