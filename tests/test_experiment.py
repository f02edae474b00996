"""`merlin-rl experiment`: a 2 agents x 1 env x 2 seeds grid with tiny budgets, then a rerun that
keeps the finished runs."""

from __future__ import annotations

import json

import pytest

from merlin_rl.cli import main as cli_main

GRID = """
agents = ["merlin", "rl-lstm"]
envs = ["merlin_rl/ColourMatch-v0"]
seeds = [0, 1]
threshold = 0.3
out = "{out}"
[train]
total_steps = 120
num_envs = 4
tau = 5
z_dim = 8
enc_dim = 16
image_channels = 4
mlp_hidden = 16
mbp_hidden = 16
policy_hidden = 16
memory_rows = 8
log_interval = 20
env_kwargs = {{ delay = 2 }}
"""


def test_grid_runs_summarises_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "grid"
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(out=out))
    assert cli_main(["experiment", str(grid), "--jobs", "2"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["ran"] * 4
    # a line when each run starts and one when it ends, numbered among the runs to make
    progress = captured.err.strip().splitlines()
    assert len(progress) == 8 and all(line.startswith("experiment: [") for line in progress)
    assert sum("started; log " in line for line in progress) == 4
    assert sum("finished in " in line for line in progress) == 4
    assert {line.split()[1] for line in progress} == {"[1/4]", "[2/4]", "[3/4]", "[4/4]"}
    for name in ("summary.csv", "summary.md", "curves.png"):
        assert (out / name).is_file(), name
    md = (out / "summary.md").read_text()
    assert "| merlin | merlin_rl/ColourMatch-v0 | 2 |" in md and "| rl-lstm |" in md
    first = (
        (out / "merlin__merlin_rl_ColourMatch-v0__s0" / "checkpoints" / "final.pt").stat().st_mtime
    )

    assert cli_main(["experiment", str(grid)]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["finished"] * 4
    assert captured.err == ""  # nothing to make, nothing said
    again = (
        (out / "merlin__merlin_rl_ColourMatch-v0__s0" / "checkpoints" / "final.pt").stat().st_mtime
    )
    assert again == first

    # only the light files kept (as committed under docs/runs/): still finished, not re-run
    import shutil

    for run in out.glob("*__s?"):
        assert (run / "finished.json").is_file()
        shutil.rmtree(run / "checkpoints")
        shutil.rmtree(run / "tb", ignore_errors=True)

    # --summarise runs nothing and summarises what has finished
    (out / "summary.md").unlink()
    assert cli_main(["experiment", str(grid), "--summarise"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["finished"] * 4
    assert (out / "summary.md").read_text() == md

    # a changed default or grid file makes the finished runs stale: the runner refuses to mix
    # them with new ones (exit 2, one line naming the setting) and changes nothing
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    grid.write_text(GRID.format(out=out).replace("tau = 5", "tau = 5\npolicy_epochs = 3"))
    capsys.readouterr()
    assert cli_main(["experiment", str(grid)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "4 run(s)" in err and "policy_epochs" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # --summarise runs nothing either way; it warns and summarises
    assert cli_main(["experiment", str(grid), "--summarise"]) == 0
    assert "warning" in capsys.readouterr().err


def test_bad_grid_file(tmp_path, capsys):
    grid = tmp_path / "g.json"
    grid.write_text(json.dumps({"agents": ["merlin", "foo"], "envs": ["x"], "seeds": [0]}))
    assert cli_main(["experiment", str(grid)]) == 2
    assert "foo" in capsys.readouterr().err
    grid.write_text(
        json.dumps({"agents": ["merlin"], "envs": ["x"], "seeds": [0], "train": {"seed": 3}})
    )
    assert cli_main(["experiment", str(grid)]) == 2
    assert "seed" in capsys.readouterr().err


def test_a_grid_files_suffix_is_read_in_any_case(tmp_path):
    from merlin_rl.experiment import read_grid

    text = "agents: [merlin]\nenvs: [merlin_rl/ColourMatch-v0]\nseeds: [0]\n"
    (tmp_path / "GRID.YAML").write_text(text)  # was read as JSON: "cannot be parsed"
    assert read_grid(tmp_path / "GRID.YAML").agents == ["merlin"]


def test_yaml_grid_is_read(tmp_path):
    from merlin_rl.experiment import read_grid

    p = tmp_path / "g.yaml"
    p.write_text(
        "agents: [merlin, rl-mem]\nenvs: [merlin_rl/ColourMatch-v0]\nseeds: [0, 1]\n"
        "train:\n  total_steps: 1000\n"
    )
    g = read_grid(p)
    assert g.agents == ["merlin", "rl-mem"] and g.seeds == [0, 1]
    assert g.train == {"total_steps": 1000} and g.out.name == "g"


def test_bad_yaml_is_one_line(tmp_path, capsys):
    p = tmp_path / "g.yaml"
    p.write_text("agents: [merlin\n")
    assert cli_main(["experiment", str(p)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cannot be parsed" in err and err.count("\n") == 0


def test_threads_per_run_respects_omp_num_threads(monkeypatch):
    """Two grids side by side with OMP_NUM_THREADS=1 must not each take every core."""
    from merlin_rl.experiment import _threads_per_run

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _threads_per_run(1) == 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert _threads_per_run(2) == 4 and _threads_per_run(16) == 1


def _pids_with(text: str) -> list[int]:
    """Processes whose command line contains ``text`` (Linux /proc)."""
    from pathlib import Path

    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            pass
    return pids


def test_sigterm_to_the_runner_stops_its_runs(tmp_path):
    """SIGTERM to `merlin-rl experiment` stops the training it started (it resumes next time)
    and starts no other; before, the training went on alone after the runner had gone."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import pytest

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc")
    out = tmp_path / "grid"
    grid = tmp_path / "grid.toml"
    grid.write_text(
        GRID.format(out=out)
        .replace("total_steps = 120", "total_steps = 10000000")
        .replace('["merlin", "rl-lstm"]', '["rl-lstm"]')
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "merlin_rl", "experiment", str(grid)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = out / "rl-lstm__merlin_rl_ColourMatch-v0__s0"
    deadline = time.monotonic() + 120
    while not (first / "metrics.csv").exists():  # the training is under way
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.2)
    assert _pids_with(str(first))
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=90) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 30
    while _pids_with(str(first)):
        assert time.monotonic() < deadline, "the training outlived its runner"
        time.sleep(0.2)
    assert not (out / "rl-lstm__merlin_rl_ColourMatch-v0__s1").exists()  # no next run started


def _stale_after_recording(tmp_path, agents, envs, train: str, edit) -> dict:
    """A one-seed grid of ``agents`` x ``envs`` (its file ends with ``train``), each cell with a
    recorded run whose config.json is today's defaults changed by ``edit``: what
    :func:`stale_settings` says of each (agent, env)."""
    import dataclasses

    from merlin_rl.config import make_config
    from merlin_rl.experiment import read_grid, run_dir_for, stale_settings

    p = tmp_path / "g.yaml"
    p.write_text(
        f"agents: [{', '.join(agents)}]\nenvs: [{', '.join(envs)}]\nseeds: [0]\n"
        f"out: {tmp_path / 'out'}\n{train}"
    )
    grid = read_grid(p)
    for agent in grid.agents:
        for env in grid.envs:
            recorded = dataclasses.asdict(make_config("small", agent=agent, env=env, seed=0))
            edit(recorded)
            run = run_dir_for(grid, agent, env, 0)
            run.mkdir(parents=True)
            (run / "config.json").write_text(json.dumps(recorded))
    return {(a, e): stale_settings(grid, a, e, 0) for a in grid.agents for e in grid.envs}


@pytest.mark.parametrize(
    "name, old, new, agents, envs, changed",
    [
        # the factored latent changes MERLIN on an env with two or more observation kinds
        ("latent", "joint", "factored", ["merlin", "rl-mem"],
         ["merlin_rl/ColourMatch-v0", "merlin_rl/InstructedGoal-v0"],
         ("merlin", "merlin_rl/InstructedGoal-v0")),
        # the vector scale changes MERLIN on an env with a vector input (WaterMaze's velocity)
        ("vector_sigma", "fixed", "learned", ["merlin", "rl-lstm"],
         ["merlin_rl/InstructedGoal-v0", "merlin_rl/WaterMaze-v0"],
         ("merlin", "merlin_rl/WaterMaze-v0")),
        # the image decoder and its output change MERLIN on an env with an image input
        ("image_decoder", "auto", "conv", ["merlin", "rl-lstm"],
         ["merlin_rl/RepeatSymbol-v0", "merlin_rl/ColourMatch-v0"],
         ("merlin", "merlin_rl/ColourMatch-v0")),
        ("image_output", "sigmoid", "linear", ["merlin", "rl-lstm"],
         ["merlin_rl/RepeatSymbol-v0", "merlin_rl/ColourMatch-v0"],
         ("merlin", "merlin_rl/ColourMatch-v0")),
        # categorical codes change MERLIN on an env with an integer image of small codes
        ("image_codes", "scaled", "categorical", ["merlin", "rl-lstm"],
         ["merlin_rl/ColourMatch-v0", "MiniGrid-MemoryS7-v0"],
         ("merlin", "MiniGrid-MemoryS7-v0")),
        # the MBP's clip changes MERLIN alone (an ablation clips both optimisers)
        ("mbp_clip", "global", "kind", ["merlin", "rl-mem", "rl-lstm"],
         ["merlin_rl/ColourMatch-v0"], ("merlin", "merlin_rl/ColourMatch-v0")),
        # the prior's and posterior's input norm changes MERLIN alone (an ablation's z has none)
        ("latent_input_norm", "none", "layer", ["merlin", "rl-mem", "rl-lstm"],
         ["merlin_rl/ColourMatch-v0"], ("merlin", "merlin_rl/ColourMatch-v0")),
        ("posterior_form", "residual", "direct", ["merlin", "rl-mem", "rl-lstm"],
         ["merlin_rl/ColourMatch-v0"], ("merlin", "merlin_rl/ColourMatch-v0")),
        # the MBP's reads as the policy's input change the agents with memory alone
        ("policy_sees", "z", "z+reads", ["merlin", "rl-lstm"],
         ["merlin_rl/ColourMatch-v0"], ("merlin", "merlin_rl/ColourMatch-v0")),
    ],
)  # fmt: skip
def test_runs_from_before_a_setting_stand_where_it_changes_nothing(
    tmp_path, name, old, new, agents, envs, changed
):
    """A grid that asks for a setting's new value: a run recorded without the key (older runs
    had its legacy value) is stale only where the setting changes the model."""
    from merlin_rl.config import LEGACY_SETTINGS

    assert LEGACY_SETTINGS[name] == old
    if any(e.startswith("MiniGrid") for e in envs):
        pytest.importorskip("minigrid")
        from merlin_rl.envs import import_env_modules

        import_env_modules("minigrid")
    stale = _stale_after_recording(
        tmp_path, agents, envs, f"train:\n  {name}: {new}\n", lambda rec: rec.pop(name)
    )
    assert stale.pop(changed) == [f"{name}: {old!r}, now {new!r}"]
    assert all(v == [] for v in stale.values()), stale


@pytest.mark.parametrize(
    "name, old, new, env",
    [
        ("discrete_weight", 10.0, 100.0, "merlin_rl/RepeatSymbol-v0"),
        ("text_weight", 1.0, 100.0, "merlin_rl/InstructedGoal-v0"),
    ],
)
def test_a_changed_input_weight_makes_stale_only_merlin_runs_with_that_input(
    tmp_path, name, old, new, env
):
    """The thirty-fourth session's default --discrete-weight 100 (10 before) and the thirty-sixth's
    --text-weight 100 (1 before; `--preset paper` keeps 1): a run recorded with the old weight is
    stale for MERLIN on an env with an input of that kind (RepeatSymbol's Discrete symbol,
    InstructedGoal's instruction) and stands elsewhere (no such input; the ablations have no
    decoders)."""
    from merlin_rl.config import make_config

    assert getattr(make_config("small"), name) == new and make_config("paper").text_weight == 1.0
    stale = _stale_after_recording(
        tmp_path,
        ["merlin", "rl-mem"],
        ["merlin_rl/ColourMatch-v0", env],
        "",
        lambda rec: rec.update({name: old}),
    )
    assert stale.pop(("merlin", env)) == [f"{name}: {old!r}, now {new!r}"]
    assert all(v == [] for v in stale.values()), stale


def test_keep_copies_finished_runs_and_a_fresh_checkout_resumes_from_them(
    tmp_path, capsys, monkeypatch
):
    """`keep`: each finished run's light files go to a folder meant to be committed; in a fresh
    checkout (no `out`) the runner brings them back and runs nothing; a kept run whose settings
    differ from the grid's is refused like any stale run, and nothing is written."""
    import shutil

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out, keep = tmp_path / "grid", tmp_path / "docs" / "grid"
    grid = tmp_path / "grid.toml"
    text = GRID.format(out=out).replace('agents = ["merlin", "rl-lstm"]', 'agents = ["rl-lstm"]')
    text = text.replace(f'out = "{out}"', f'out = "{out}"\nkeep = "{keep}"')
    # seed 0 finishes before the grid has `keep`; seed 1 runs under it
    grid.write_text(
        GRID.format(out=out).replace('"merlin", "rl-lstm"', '"rl-lstm"').replace("[0, 1]", "[0]")
    )
    assert cli_main(["experiment", str(grid)]) == 0
    assert not keep.exists()
    grid.write_text(text)
    assert cli_main(["experiment", str(grid)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["finished", "ran"]
    names = sorted(p.name for p in keep.iterdir() if p.is_dir() and "__s" in p.name)
    assert names == [
        "rl-lstm__merlin_rl_ColourMatch-v0__s0",
        "rl-lstm__merlin_rl_ColourMatch-v0__s1",
    ]
    for name in names:
        assert sorted(p.name for p in (keep / name).iterdir()) == [
            "config.json",
            "finished.json",
            "metrics.csv",
        ]
        assert (keep / name / "metrics.csv").read_bytes() == (
            out / name / "metrics.csv"
        ).read_bytes()
    assert (keep / "summary.md").read_text() == (out / "summary.md").read_text()
    md = (out / "summary.md").read_text()

    shutil.rmtree(out)  # a fresh checkout
    capsys.readouterr()
    assert cli_main(["experiment", str(grid)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["finished"] * 2
    assert (out / "summary.md").read_text() == md
    assert not list(out.glob("*/checkpoints"))  # nothing was trained again

    shutil.rmtree(out)
    grid.write_text(text.replace("tau = 5", "tau = 5\npolicy_epochs = 3"))
    assert cli_main(["experiment", str(grid)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2 run(s)" in err and "policy_epochs" in err
    assert f"under {keep} were made" in err  # the folder that holds them
    assert not out.exists()

    # --summarise with those stale kept runs: they go neither way (nothing in keep changes)
    before = {p: p.read_bytes() for p in keep.rglob("*") if p.is_file()}
    assert cli_main(["experiment", str(grid), "--summarise"]) == 0
    assert "warning" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in keep.rglob("*") if p.is_file()} == before
    assert not list(out.glob("*__s?"))

    # an unfinished run in out of a cell that finished in keep: set aside, the kept one restored
    grid.write_text(text)
    cell = out / names[0]
    cell.mkdir(parents=True)
    (cell / "config.json").write_text("{}")
    assert cli_main(["experiment", str(grid)]) == 0
    assert "set aside" in capsys.readouterr().err
    assert (out / f"{names[0]}.unfinished" / "config.json").read_text() == "{}"
    assert (cell / "metrics.csv").read_bytes() == (keep / names[0] / "metrics.csv").read_bytes()


def test_agents_runs_only_those_cells_and_summarises_the_whole_grid(tmp_path, capsys, monkeypatch):
    """`--agents`: only the named agents' cells run (the ablations before MERLIN's); the others
    are reported as not finished, the summary covers what has finished, and a name the grid does
    not have is one line, exit 2, before anything is written."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "grid"
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID.format(out=out).replace("[0, 1]", "[0]"))
    for bad in ("rl-mem", "rl-lstm,foo", ""):
        assert cli_main(["experiment", str(grid), "--agents", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "the grid's agents: merlin, rl-lstm" in err, err
    assert cli_main(["experiment", str(grid), "--agents", "rl-lstm", "--summarise"]) == 2
    assert "give one" in capsys.readouterr().err
    assert not out.exists()
    assert cli_main(["experiment", str(grid), "--agents", "rl-lstm"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["runs"] == {
        "merlin__merlin_rl_ColourMatch-v0__s0": "not finished",
        "rl-lstm__merlin_rl_ColourMatch-v0__s0": "ran",
    }
    assert not (out / "merlin__merlin_rl_ColourMatch-v0__s0").exists()
    assert [r["agent"] for r in result["summary"]] == ["rl-lstm"]
    assert cli_main(["experiment", str(grid), "--agents", " merlin "]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert sorted(result["runs"].values()) == ["finished", "ran"]
    assert [r["agent"] for r in result["summary"]] == ["merlin", "rl-lstm"]


def test_keep_must_be_another_folder_than_out(tmp_path, capsys):
    grid = tmp_path / "g.toml"
    grid.write_text(
        GRID.format(out=tmp_path / "o").replace("[train]", f'keep = "{tmp_path / "o"}"\n[train]')
    )
    assert cli_main(["experiment", str(grid)]) == 2
    assert "keep must be another folder" in capsys.readouterr().err
    grid.write_text(GRID.format(out=tmp_path / "o").replace("[train]", "keep = 3\n[train]"))
    assert cli_main(["experiment", str(grid)]) == 2
    assert "keep must be a folder name" in capsys.readouterr().err
    (tmp_path / "f").write_text("x")
    grid.write_text(
        GRID.format(out=tmp_path / "o").replace("[train]", f'keep = "{tmp_path / "f"}"\n[train]')
    )
    assert cli_main(["experiment", str(grid)]) == 2
    assert "is a file" in capsys.readouterr().err
    # a smoke variant keeps nothing unless it says so, and never into the grid's own folders
    from merlin_rl.experiment import read_grid

    base = GRID.format(out=tmp_path / "o").replace("[train]", f'keep = "{tmp_path / "k"}"\n[train]')
    grid.write_text(base + "[quick]\nseeds = [0]\n")
    assert read_grid(grid).keep == tmp_path / "k" and read_grid(grid, quick=True).keep is None
    grid.write_text(base + f'[quick]\nkeep = "{tmp_path / "k"}"\n')
    assert cli_main(["experiment", str(grid), "--quick"]) == 2
    assert "quick.keep must be another folder" in capsys.readouterr().err


@pytest.mark.parametrize("form", ["residual", "direct"])
def test_prior_grad_matters_to_merlin_under_the_residual_posterior_alone(tmp_path, form):
    """What trains the prior changes MERLIN alone (an ablation's z has no prior), and only where
    the posterior reads and adds the prior (--posterior-form residual)."""
    env = "merlin_rl/ColourMatch-v0"

    def edit(rec):
        rec.pop("prior_grad")  # a run from before the setting: the legacy "all"
        rec["posterior_form"] = form

    stale = _stale_after_recording(
        tmp_path,
        ["merlin", "rl-mem", "rl-lstm"],
        [env],
        f"train:\n  prior_grad: kl\n  posterior_form: {form}\n",
        edit,
    )
    assert stale.pop(("merlin", env)) == (
        ["prior_grad: 'all', now 'kl'"] if form == "residual" else []
    )
    assert all(v == [] for v in stale.values()), stale
