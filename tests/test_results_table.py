"""The suite's summary (threshold as a share of each task's maximum, normalised scores, wall time
to the threshold), the results table written from it, and that docs/results.md holds exactly
what experiments/results_table.py prints."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from merlin_rl.cli import main as cli_main
from merlin_rl.config import ConfigError
from merlin_rl.experiment import Grid, read_grid, summarise, summary_row

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "results_table", ROOT / "experiments" / "results_table.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fake_run(d: Path, rows: list[tuple[int, float, float]], env: str = "e") -> Path:
    """A run directory with metrics.csv rows (env_steps, wall_time, episode_return)."""
    (d / "checkpoints").mkdir(parents=True)
    (d / "checkpoints" / "final.pt").write_bytes(b"")
    (d / "config.json").write_text(json.dumps({"agent": "merlin", "env": env, "seed": 0}))
    with open(d / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["env_steps", "wall_time", "episode_return"])
        w.writerows(rows)
    return d


def test_summary_row_against_hand_computed_numbers(tmp_path):
    # 10 log rows each: the final return is the mean of the last row (10% of 10)
    a = _fake_run(tmp_path / "a", [(1000 * i, 10.0 * i, 0.1 * i) for i in range(1, 11)])
    b = _fake_run(tmp_path / "b", [(1000 * i, 5.0 * i, 0.25) for i in range(1, 11)])
    row = summary_row("merlin", "e", [a, b], 0.9, (0.25, 1.0), 0.9)
    assert row["seeds"] == 2
    assert row["final_return_mean"] == pytest.approx((1.0 + 0.25) / 2)
    assert row["final_return_std"] == pytest.approx(0.375)
    # normalised: (1 - 0.25) / 0.75 = 1 and 0
    assert row["normalised_mean"] == pytest.approx(0.5)
    assert row["normalised_std"] == pytest.approx(0.5)
    # a first reaches 0.9 at its 9th row (0.9 >= 0.9): 9,000 steps, 90 s; b never does
    assert row["seeds_reaching_threshold"] == 1
    assert row["steps_to_threshold_mean"] == pytest.approx(9000)
    assert row["wall_to_threshold_mean"] == pytest.approx(90.0)
    assert row["threshold"] == 0.9 and row["note"] == ""


def test_summarise_uses_a_share_of_each_tasks_maximum(tmp_path):
    env = "merlin_rl/VisuomotorMapping-v0"  # random 8, max 32: threshold 0.9 x 32 = 28.8
    grid = Grid(["merlin"], [env], [0], None, tmp_path, {}, threshold_fraction=0.9)
    d = tmp_path / f"merlin__{env.replace('/', '_')}__s0"
    _fake_run(d, [(100, 1.0, 28.0), (200, 2.0, 28.9), (300, 3.0, 20.0)], env)
    (row,) = summarise(grid)
    assert (row["random_return"], row["max_return"]) == (8.0, 32.0)
    assert row["threshold"] == pytest.approx(28.8)
    assert row["steps_to_threshold_mean"] == 200 and row["wall_to_threshold_mean"] == 2.0
    assert row["normalised_mean"] == pytest.approx((20.0 - 8.0) / 24.0)


def test_table_of_a_summary(tmp_path):
    path = tmp_path / "summary.csv"
    cols = [
        "agent",
        "env",
        "seeds",
        "final_return_mean",
        "final_return_std",
        "seeds_reaching_threshold",
        "steps_to_threshold_mean",
        "threshold",
        "random_return",
        "max_return",
        "normalised_mean",
        "normalised_std",
        "wall_to_threshold_mean",
        "note",
    ]
    rows = [
        ["merlin", "merlin_rl/ColourMatch-v0", 3, 0.99, 0.004, 3, 50560, 0.9, 0.25, 1, 0.9867,
         0.005, 123.4, ""],
        ["rl-lstm", "merlin_rl/ColourMatch-v0", 3, 0.25, 0.01, 0, "", 0.9, 0.25, 1, 0.0, 0.013,
         "", ""],
        ["rl-mem", "merlin_rl/ColourMatch-v0", 3, 0.7, 0.3, 2, 80000, 0.9, 0.25, 1, 0.6, 0.4,
         200, ""],
        ["merlin", "merlin_rl/WaterMaze-v0", 1, 4.6, 0.0, 0, "", 15.5, 0.55, 17.2, 0.243, 0.0,
         "", ""],
    ]  # fmt: skip
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)
    lines = _script().table([str(path)]).splitlines()
    assert "0.9 x max" in lines[0]
    assert lines[2] == (
        "| ColourMatch-v0 | merlin | 3 | 0.990 ± 0.004 | 0.99 ± 0.01 | 50,560 | 123 s |"
    )
    assert lines[3].endswith("| not reached | not reached |")
    assert lines[4].endswith("| 80,000 (2/3 seeds) | 200 s (2/3 seeds) |")
    # one seed: the mean alone (a std of one seed says nothing)
    assert lines[5] == "| WaterMaze-v0 | merlin | 1 | 4.600 | 0.24 | not reached | not reached |"


def test_table_keeps_the_agents_named_after_at(tmp_path):
    cols = ["agent", "env", "seeds", "final_return_mean", "final_return_std", "normalised_mean",
            "normalised_std"]  # fmt: skip
    for name, agents in (("old", ["merlin", "rl-lstm"]), ("new", ["rl-lstm"])):
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            w.writerows([[a, "e", 1, len(name) + i, 0, 0.5, 0] for i, a in enumerate(agents)])
    script = _script()
    lines = script.table([f"{tmp_path}/old.csv@merlin", f"{tmp_path}/new.csv"]).splitlines()
    assert [line.split(" | ")[1] for line in lines[2:]] == ["merlin", "rl-lstm"]
    assert lines[3].split(" | ")[3] == "3.000"  # the new grid's rl-lstm, not the old one's 4.0
    with pytest.raises(ValueError, match="has no rows of agent rl-mem"):
        script.table([f"{tmp_path}/old.csv@merlin,rl-mem"])


def test_docs_results_tables_are_what_the_script_prints():
    script = _script()
    doc = (ROOT / "docs" / "results.md").read_text()
    blocks = script.blocks_in(doc)
    assert blocks, "docs/results.md has no results-table block"
    for args, body, _, _ in blocks:
        assert args, "a results-table block names no summary.csv"
        assert body == script.table([str(ROOT / a) for a in args])


def test_paper_suite_grid_and_its_quick_variant():
    grid = read_grid(ROOT / "experiments" / "paper_suite.yaml")
    assert grid.agents == ["merlin", "rl-mem", "rl-lstm"] and grid.seeds == [0, 1, 2]
    assert len(grid.envs) == 8 and "MiniGrid-MemoryS7-v0" in grid.envs
    assert all(grid.train_for(e)["total_steps"] <= 3_000_000 for e in grid.envs)
    assert grid.threshold_fraction == 0.9
    quick = read_grid(ROOT / "experiments" / "paper_suite.yaml", quick=True)
    assert quick.out.name == "paper_suite-quick" and quick.seeds == [0]
    assert all(quick.train_for(e)["total_steps"] == 7000 for e in quick.envs)


@pytest.mark.parametrize(
    "path", sorted(p.name for p in (ROOT / "experiments").glob("*.y*ml")) + ["ablations.toml"]
)
def test_every_grid_file_reads(path):
    grid = read_grid(ROOT / "experiments" / path)
    assert grid.agents and grid.envs and grid.seeds


@pytest.mark.parametrize("name", ["long_budget.yaml", "long_budget_water_maze.yaml"])
def test_long_budget_grid_keeps_the_suite_settings(name):
    """The budget experiments change the budget and nothing else (each file says why)."""
    suite = read_grid(ROOT / "experiments" / "paper_suite.yaml")
    long = read_grid(ROOT / "experiments" / name)
    assert long.agents == suite.agents and set(long.envs) <= set(suite.envs)
    for env in long.envs:
        changed = {k for k, v in long.train_for(env).items() if suite.train_for(env).get(k) != v}
        assert changed == {"total_steps"} and long.train_for(env)["total_steps"] == 1_000_000


def test_ablation_lr_grid_keeps_the_suite_settings():
    """The ablations' re-run changes the ablations' MBP rate and nothing else (MERLIN is not in
    it: the setting does not change MERLIN); since the forty-seventh session it also keeps the
    env copies in step, as its runs were made (the suite grid runs the new default)."""
    suite = read_grid(ROOT / "experiments" / "paper_suite.yaml")
    grid = read_grid(ROOT / "experiments" / "paper_suite_ablation_lr.yaml")
    assert grid.agents == ["rl-mem", "rl-lstm"] and grid.envs == suite.envs
    assert grid.seeds == suite.seeds and grid.references == suite.references
    for env in grid.envs:
        changed = {k for k, v in grid.train_for(env).items() if suite.train_for(env).get(k) != v}
        assert changed == {"ablation_mbp_lr", "desync"}
        assert grid.train_for(env)["ablation_mbp_lr"] == "policy"
        assert grid.train_for(env)["desync"] == "off"


@pytest.mark.parametrize(
    "extra, words",
    [
        ({"per_env": {"other/Env-v0": {"total_steps": 5}}}, "per_env"),
        ({"per_env": {"merlin_rl/ColourMatch-v0": {"seed": 1}}}, "seed"),
        ({"references": {"x": {"random": 1.0, "max": 0.0}}}, "references"),
        ({"threshold_fraction": 1.5}, "threshold_fraction"),
        ({"threshold_fraction": 0.9, "threshold": 0.5}, "not both"),
        ({"quick": {"gamma": 1}}, "quick"),
    ],
)
def test_bad_suite_keys(tmp_path, extra, words):
    grid = {"agents": ["merlin"], "envs": ["merlin_rl/ColourMatch-v0"], "seeds": [0], **extra}
    p = tmp_path / "g.json"
    p.write_text(json.dumps(grid))
    with pytest.raises(ConfigError, match=words):
        read_grid(p)


def test_quick_without_a_quick_table_is_one_line(tmp_path, capsys):
    p = tmp_path / "g.json"
    p.write_text(json.dumps({"agents": ["merlin"], "envs": ["x"], "seeds": [0]}))
    assert cli_main(["experiment", str(p), "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert "quick" in err and len(err.splitlines()) == 1


def test_quick_per_env_typo_is_caught(tmp_path):
    grid = {
        "agents": ["merlin"],
        "envs": ["merlin_rl/ColourMatch-v0"],
        "seeds": [0],
        "quick": {"per_env": {"merlin_rl/ColourMatc-v0": {"total_steps": 5}}},
    }
    p = tmp_path / "g.json"
    p.write_text(json.dumps(grid))
    with pytest.raises(ConfigError, match="ColourMatc-v0"):
        read_grid(p, quick=True)
    # the full grid does not use [quick], but a file with a broken [quick] is refused anyway
    with pytest.raises(ConfigError, match=r"ColourMatc-v0.*\[quick\] variant"):
        read_grid(p)


def test_threshold_fraction_needs_references_before_any_run(tmp_path, capsys):
    grid = {
        "agents": ["merlin"],
        "envs": ["CartPole-v1"],  # declares no random or maximum return
        "seeds": [0],
        "threshold_fraction": 0.9,
        "out": str(tmp_path / "out"),
    }
    p = tmp_path / "g.json"
    p.write_text(json.dumps(grid))
    assert cli_main(["experiment", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert "references" in err and "CartPole-v1" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def _metrics_run(d: Path, agent: str, env: str, cols: list[str], rows: list[list[float]]) -> None:
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"agent": agent, "env": env, "seed": 0}))
    (d / "finished.json").write_text("{}\n")
    with open(d / "metrics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        w.writerows(rows)


def test_diagnostics_table_against_hand_computed_numbers(tmp_path):
    cols = ["env_steps", "loss/kl", "loss/recon_image:image", "loss/return", "loss/entropy"]
    # 20 rows: the last 10% are the last 2 rows
    rows = [[i, 100.0, 100.0, 100.0, 100.0] for i in range(18)]
    _metrics_run(
        tmp_path / "m0",
        "merlin",
        "merlin_rl/T-v0",
        cols,
        rows + [[18, 1, 2, 3, 4], [19, 3, 4, 5, 6]],
    )
    _metrics_run(
        tmp_path / "m1",
        "merlin",
        "merlin_rl/T-v0",
        cols,
        rows + [[18, 5, 6, 7, 8], [19, 5, 6, 7, 8]],
    )
    # an RL-LSTM run logs no KL or reconstruction; an unfinished run is left out
    _metrics_run(
        tmp_path / "l0", "rl-lstm", "merlin_rl/T-v0", ["loss/return", "loss/entropy"], [[1, 2]]
    )
    _metrics_run(tmp_path / "u0", "rl-mem", "merlin_rl/T-v0", cols, [[0, 9, 9, 9, 9]])
    (tmp_path / "u0" / "finished.json").unlink()
    lines = _script().diagnostics(str(tmp_path)).splitlines()
    # merlin: seed 0 tail means (2, 3, 4, 5), seed 1 (5, 6, 7, 8): means over seeds 3.5, 4.5, 5.5, 6.5
    assert lines[2] == "| T-v0 | merlin | 2 | 3.50 | image 4.500 | 5.500 | 6.50 |"
    assert lines[3] == "| T-v0 | rl-lstm | 1 | — | — | 1.000 | 2.00 |"
    assert len(lines) == 4


def test_docs_diagnostics_tables_are_what_the_script_prints():
    script = _script()
    doc = (ROOT / "docs" / "results.md").read_text()
    blocks = script.blocks_in(doc, script.DIAG_BEGIN, script.DIAG_END)
    assert blocks, "docs/results.md has no diagnostics-table block"
    for args, body, _, _ in blocks:
        assert len(args) == 1, "a diagnostics-table block names one grid directory"
        assert body == script.diagnostics(str(ROOT / args[0]))


def test_milestones_table_against_hand_computed_numbers(tmp_path):
    """Each run cut at the first log row at or past a milestone, the last 10% of the rows up to
    there averaged (the final score's rule), then the mean +- std over seeds; an unfinished run
    counts as far as it got, and a milestone no run reached is a dash."""
    # 20 rows: at 10,000 steps (row 10) the tail is row 10 alone; at 20,000 rows 19-20
    _fake_run(tmp_path / "a", [(1000 * i, i, 0.05 * i) for i in range(1, 21)], "merlin_rl/T-v0")
    _fake_run(tmp_path / "b", [(1000 * i, i, 0.25) for i in range(1, 21)], "merlin_rl/T-v0")
    c = _fake_run(tmp_path / "c", [(1000 * i, i, 1.0) for i in range(1, 12)], "merlin_rl/T-v0")
    (c / "checkpoints" / "final.pt").unlink()  # unfinished, stopped at 11,000 steps
    (tmp_path / "summary.csv").write_text(
        "agent,env,random_return,max_return\nmerlin,merlin_rl/T-v0,0.25,1.0\n"
    )
    lines = _script().milestones(str(tmp_path), [9500, 20000, 30000]).splitlines()
    assert lines[0] == "| task | agent | seeds | at 9,500 | at 20,000 | at 30,000 |"
    # at 9,500 (row 10): returns 0.5, 0.25, 1.0 -> scores 1/3, 0, 1; mean 4/9, sd 0.5092
    # at 20,000: rows 19-20: 0.975 and 0.25 (c stopped) -> 0.9667 and 0; 1 of 3 left out
    assert lines[2] == (
        "| T-v0 | merlin | 3 | 0.44 ± 0.51 (0.58) | 0.48 ± 0.68 (0.61; 2 of 3 runs) | — |"
    )
    (tmp_path / "summary.csv").unlink()
    with pytest.raises(ValueError, match="summary.csv"):
        _script().milestones(str(tmp_path), [1000])


def test_docs_milestones_tables_are_what_the_script_prints():
    script = _script()
    doc = (ROOT / "docs" / "results.md").read_text()
    for args, body, _, _ in script.blocks_in(doc, script.MILE_BEGIN, script.MILE_END):
        assert len(args) == 2, "a milestones-table block names a grid directory and the steps"
        steps = [int(x) for x in args[1].split(",")]
        assert body == script.milestones(str(ROOT / args[0]), steps)


def test_update_replaces_the_block_of_its_grid_only(tmp_path):
    """A document with one results table per grid: --update rewrites the block whose first
    ARG is its first argument and leaves the other; an unknown grid exits with the blocks it
    has and changes nothing."""
    import subprocess
    import sys

    cols = "agent,env,seeds,final_return_mean,final_return_std,seeds_reaching_threshold,"
    cols += "steps_to_threshold_mean,threshold,random_return,max_return,normalised_mean,"
    cols += "normalised_std,wall_to_threshold_mean,note\n"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(cols + "merlin,merlin_rl/ColourMatch-v0,1,0.99,0,1,50560,0.9,0.25,1,0.99,0,12,\n")
    b.write_text(cols + "rl-lstm,merlin_rl/ColourMatch-v0,1,0.25,0,0,,0.9,0.25,1,0,0,,\n")
    doc = tmp_path / "doc.md"
    doc.write_text(
        f"x\n<!-- results-table: {a} -->\nold a\n<!-- results-table: end -->\ny\n"
        f"<!-- results-table: {b} -->\nold b\n<!-- results-table: end -->\nz\n"
    )
    script = ROOT / "experiments" / "results_table.py"
    res = subprocess.run([sys.executable, str(script), str(b), "--update", str(doc)])
    assert res.returncode == 0
    text = doc.read_text()
    mod = _script()
    assert "old a" in text and "old b" not in text and text.endswith("end -->\nz\n")
    assert [blk[1] for blk in mod.blocks_in(text)] == ["old a\n", mod.table([str(b)])]
    before = text
    (tmp_path / "c.csv").write_text(a.read_text())
    res = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "c.csv"), "--update", str(doc)],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "its blocks" in res.stderr and doc.read_text() == before
