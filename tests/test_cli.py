"""The ``merlin-rl`` command: tiny end-to-end runs as subprocesses, and bad input.

Every ``python -m merlin_rl`` process imports torch (2-4 s on a small shared CPU), so the tests
keep the number of processes low: the three training runs start together, the bad-input cases run
through ``merlin_rl.cli.main`` in this process (the same code path ``__main__`` calls, exit code
from its return value or ``SystemExit``), and a few of them are repeated as real subprocesses to
check the process's exit status and stderr.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch

from merlin_rl.checkpoint import load_checkpoint

TINY = [
    "--num-envs",
    "4",
    "--log-interval",
    "160",
    "--no-progress",
    "--z-dim",
    "8",
    "--mbp-hidden",
    "16",
    "--policy-hidden",
    "16",
    "--mlp-hidden",
    "16",
    "--enc-dim",
    "16",
    "--image-channels",
    "4",
    "--memory-rows",
    "8",
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
AGENTS = ("merlin", "rl-mem", "rl-lstm")
TIMEOUT = 180


def cli_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "merlin_rl", *map(str, args)]


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_cmd(*args), cwd=cwd, env=ENV, capture_output=True, text=True, timeout=TIMEOUT
    )


def train_args(run_dir: Path, total_steps: int = 640, *extra) -> list[str]:
    return [
        "train",
        "--total-steps",
        str(total_steps),
        "--run-dir",
        str(run_dir),
        *TINY,
        *map(str, extra),
    ]


def cli_inproc(capsys, *args) -> subprocess.CompletedProcess:
    """Run ``merlin_rl.cli.main(args)`` here; an uncaught exception shows up as a traceback."""
    from merlin_rl.cli import main

    capsys.readouterr()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    except Exception:  # what the real process would print before dying with exit code 1
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, 1, out.out, out.err + traceback.format_exc())
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out.out, out.err)


def read_metrics(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def assert_clean_error(proc: subprocess.CompletedProcess, *names: str) -> None:
    """Exit 2, stderr one line 'merlin-rl: error: ...' naming each of ``names``, no traceback."""
    detail = f"rc={proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, detail
    assert proc.returncode == 2, detail
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("merlin-rl: error:"), detail
    for name in names:
        assert name in lines[0], f"{name!r} not named in the error\n{detail}"


# ------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """One tiny training run per agent, started together; shared by the tests that read them."""
    root = tmp_path_factory.mktemp("cli_runs")
    procs = {}
    for agent in AGENTS:
        run_dir = root / agent
        procs[agent] = (
            subprocess.Popen(
                cli_cmd(*train_args(run_dir), "--agent", agent),
                cwd=root,
                env=ENV,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            run_dir,
        )
    out = {}
    try:
        for agent, (p, run_dir) in procs.items():
            stdout, stderr = p.communicate(timeout=TIMEOUT)
            out[agent] = (
                subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr),
                run_dir,
            )
    finally:
        for p, _ in procs.values():
            if p.poll() is None:
                p.kill()
    return out


@pytest.fixture
def merlin_run(runs) -> Path:
    proc, run_dir = runs["merlin"]
    assert proc.returncode == 0, proc.stderr
    return run_dir


def check_run_dir(run_dir: Path, agent: str, total_steps: int = 640) -> None:
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["agent"] == agent and cfg["total_steps"] == total_steps and cfg["z_dim"] == 8

    rows = read_metrics(run_dir)
    assert rows, "metrics.csv has no rows"
    columns = set(rows[0])
    for col in ("env_steps", "wall_time", "episode_return", "episode_length", "fps"):
        assert col in columns, f"metrics.csv lacks {col}; has {sorted(columns)}"
    loss_cols = [c for c in columns if "loss" in c]
    assert "loss/policy" in loss_cols and "loss/return" in loss_cols, loss_cols
    if agent == "merlin":
        assert "loss/kl" in loss_cols and any(c.startswith("loss/recon") for c in loss_cols)
    for row in rows:
        for c in loss_cols:
            assert math.isfinite(float(row[c])), (c, row[c])
    assert [int(r["env_steps"]) for r in rows] == [160, 320, 480, 640]
    assert any(math.isfinite(float(r["episode_return"])) for r in rows)
    for r in rows:
        if math.isfinite(float(r["episode_return"])):
            assert 0.0 <= float(r["episode_return"]) <= 1.0
            assert float(r["episode_length"]) == 26.0  # default ColourMatch: 1 + 24 + 1

    events = list(run_dir.rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events), "no TensorBoard events file"

    for name in ("latest.pt", "final.pt"):
        ckpt = load_checkpoint(run_dir / "checkpoints" / name)
        assert ckpt["env_steps"] == total_steps
        assert ckpt["config_obj"].agent == agent
        assert isinstance(ckpt["model"], dict) and ckpt["model"]
        assert all(
            torch.isfinite(v).all()
            for v in ckpt["model"].values()
            if torch.is_tensor(v) and v.is_floating_point()
        )
    # no leftover temporary files from the atomic save
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    assert {"final.pt", "latest.pt"} <= set(names)
    assert all(n.startswith("step_") for n in set(names) - {"final.pt", "latest.pt"})


def check_eval_result(proc: subprocess.CompletedProcess, agent: str, episodes: int = 5) -> None:
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["episodes"] == episodes
    assert 0.0 <= result["mean_return"] <= 1.0 and result["std_return"] >= 0.0
    assert result["agent"] == agent and result["env_steps"] == 640


def test_train_and_eval_merlin(merlin_run):
    check_run_dir(merlin_run, "merlin")
    proc = cli(
        "eval",
        "--checkpoint",
        merlin_run / "checkpoints" / "final.pt",
        "--episodes",
        "5",
        cwd=merlin_run.parent,
    )
    check_eval_result(proc, "merlin")


@pytest.mark.parametrize("agent", ["rl-mem", "rl-lstm"])
def test_train_and_eval_baselines(runs, agent, capsys):
    proc, run_dir = runs[agent]
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["env_steps"] == 640
    check_run_dir(run_dir, agent)
    proc = cli_inproc(
        capsys, "eval", "--checkpoint", run_dir / "checkpoints" / "final.pt", "--episodes", "5"
    )
    check_eval_result(proc, agent)


def test_resume_continues_from_checkpoint(merlin_run, tmp_path):
    run_dir = tmp_path / "resumed"
    shutil.copytree(merlin_run, run_dir)
    rows_before = read_metrics(run_dir)
    proc = cli(*train_args(run_dir, 800), "--agent", "merlin", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "at 640 env steps" in proc.stderr
    assert last_json(proc.stdout)["env_steps"] == 800
    ckpt = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    old = load_checkpoint(merlin_run / "checkpoints" / "final.pt")
    assert ckpt["env_steps"] == 800
    assert ckpt["updates"] == old["updates"] + 2  # 160 more steps = 2 updates of 4 envs x tau 20
    rows = read_metrics(run_dir)
    assert rows[: len(rows_before)] == rows_before  # appended, header not repeated
    assert [int(r["env_steps"]) for r in rows[len(rows_before) :]] == [800]


@pytest.mark.parametrize(
    "flag, value, key",
    [
        ("--z-dim", "12", "z_dim"),
        ("--image-decoder", "conv", "image_decoder"),
        ("--image-output", "sigmoid", "image_output"),
    ],
)
def test_resume_with_different_model_is_refused(merlin_run, tmp_path, capsys, flag, value, key):
    run_dir = tmp_path / "mismatch"
    shutil.copytree(merlin_run, run_dir)
    proc = cli_inproc(capsys, *train_args(run_dir, 800), "--resume", flag, value)
    assert_clean_error(proc, key)


@pytest.mark.parametrize(
    "agent, flags, want",
    [
        ("merlin", ["--lr-policy", "0.0123", "--adam-eps", "1e-5"], (None, 0.0123, 1e-5)),
        (
            "rl-lstm",
            ["--ablation-mbp-lr", "policy", "--lr-policy", "0.0021"],
            (0.0021, 0.0021, None),
        ),
    ],
)
def test_resume_steps_at_the_learning_settings_given_now(runs, tmp_path, agent, flags, want):
    """The optimisers' state comes from the checkpoint, their rates and eps from the settings
    that config.json records (on the old code: the checkpoint's rates, whatever was given)."""
    proc, run = runs[agent]
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "resumed"
    shutil.copytree(run, run_dir)
    proc = cli(*train_args(run_dir, 800), "--agent", agent, "--resume", *flags, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ckpt = load_checkpoint(run_dir / "checkpoints" / "final.pt")
    lr_mbp, lr_policy, eps = want
    groups = {k: ckpt[k]["param_groups"] for k in ("opt_mbp", "opt_policy")}
    assert [g["lr"] for g in groups["opt_policy"]] == [lr_policy]
    if lr_mbp is not None:
        assert [g["lr"] for g in groups["opt_mbp"]] == [lr_mbp]
    if eps is not None:
        assert all(g["eps"] == eps for gs in groups.values() for g in gs)
    recorded = json.loads((run_dir / "config.json").read_text())
    assert recorded["lr_policy"] == lr_policy


def test_resume_from_another_runs_checkpoint_is_refused(runs, tmp_path, capsys):
    """A merlin checkpoint copied into an rl-lstm run: refused before anything changes (on the old
    code it continued as merlin and rewrote the run's config.json)."""
    run_dir = tmp_path / "mixed"
    shutil.copytree(runs["rl-lstm"][1], run_dir)
    shutil.copy(runs["merlin"][1] / "checkpoints" / "latest.pt", run_dir / "checkpoints")
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    proc = cli_inproc(capsys, *train_args(run_dir, 800), "--resume")
    assert_clean_error(proc, "another run's checkpoint", "agent")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_resume_with_another_seed_is_refused(merlin_run, tmp_path, capsys):
    run_dir = tmp_path / "reseeded"
    shutil.copytree(merlin_run, run_dir)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    proc = cli_inproc(capsys, *train_args(run_dir, 800), "--resume", "--seed", "5")
    assert_clean_error(proc, "--seed 5", "another run")
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_resume_goes_on_with_the_settings_the_run_last_recorded(merlin_run, tmp_path):
    """A run resumed with a larger --total-steps and stopped before its next checkpoint: config.json
    says 800, the checkpoint 640. Resumed again without the flag it goes on to 800 (on the old
    code: "finished" at 640, the checkpoint's budget)."""
    run_dir = tmp_path / "extended"
    shutil.copytree(merlin_run, run_dir)
    config = run_dir / "config.json"
    config.write_text(config.read_text().replace('"total_steps": 640', '"total_steps": 800'))
    proc = cli("train", "--run-dir", run_dir, "--resume", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc.stdout)["env_steps"] == 800


def test_resume_without_checkpoint(tmp_path, capsys):
    proc = cli_inproc(capsys, *train_args(tmp_path / "empty", 80), "--resume")
    assert_clean_error(proc, "latest.pt")


def test_train_notes_the_settings_that_change_nothing(tmp_path, capsys):
    """A setting given that does nothing for the run gets one note (on the old code: silence)."""
    proc = cli_inproc(
        capsys, *train_args(tmp_path / "a", 80), "--agent", "merlin", "--ablation-mbp-lr", "policy"
    )
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if "note:" in line]
    assert notes == [
        "merlin-rl: note: --ablation-mbp-lr changes nothing for --agent merlin on "
        "merlin_rl/ColourMatch-v0; recorded in config.json as given"
    ]
    proc = cli_inproc(
        capsys, *train_args(tmp_path / "b", 80), "--agent", "rl-lstm", "--ablation-mbp-lr", "policy"
    )
    assert proc.returncode == 0, proc.stderr
    assert "note:" not in proc.stderr  # it does change RL-LSTM


# ------------------------------------------------------------------------------ bad input
BAD_TRAIN = {
    "unknown-env": (["--env", "NoSuchEnv-v9"], ["NoSuchEnv-v9"]),
    "unknown-agent": (["--agent", "foo"], ["foo"]),
    "num-envs-0": (["--num-envs", "0"], ["--num-envs", "0"]),
    "total-steps-negative": (["--total-steps", "-5"], ["--total-steps", "-5"]),
    "gamma-too-big": (["--gamma", "1.5"], ["--gamma", "1.5"]),
    "lam-zero": (["--lam", "0"], ["--lam"]),
    "baseline-unknown": (["--baseline", "oracle"], ["--baseline", "oracle"]),
    "policy-value-cost-negative": (["--policy-value-cost", "-1"], ["--policy-value-cost", "-1"]),
    "policy-minibatches-negative": (["--policy-minibatches", "-1"], ["--policy-minibatches", "-1"]),
    "continuous-actions": (["--env", "Pendulum-v1"], ["Pendulum-v1"]),
    "env-kwargs-bad-delay": (["--env-kwargs", '{"delay": 0}'], ["delay"]),
    "env-kwargs-unknown": (["--env-kwargs", '{"colour": 1}'], ["colour"]),
    "env-kwargs-not-object": (["--env-kwargs", "[1]"], ["--env-kwargs"]),
    "seed-negative": (["--seed", "-1"], ["--seed", "-1"]),
    "lr-nan": (["--lr-mbp", "nan"], ["--lr-mbp", "nan"]),
    "resume-without-run-dir-is-not-the-case-here": (["--resume", "--run-dir", ""], ["--resume"]),
    "run-dir-unwritable": (["--run-dir", "/proc/merlin-rl-nope"], ["/proc/merlin-rl-nope"]),
}


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_train_bad_input(tmp_path, capsys, case):
    args, names = BAD_TRAIN[case]
    proc = cli_inproc(
        capsys,
        "train",
        "--run-dir",
        tmp_path / "run",
        "--total-steps",
        "80",
        "--no-progress",
        *args,
    )
    assert_clean_error(proc, *names)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_eval_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "nope" / "final.pt"
    assert_clean_error(
        cli_inproc(capsys, "eval", "--checkpoint", missing, "--episodes", "2"), str(missing)
    )


def test_eval_random_bytes(tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(os.urandom(4096))
    assert_clean_error(
        cli_inproc(capsys, "eval", "--checkpoint", junk, "--episodes", "2"), str(junk)
    )


@pytest.mark.parametrize("keep", [0.5, 5000, 100])
def test_eval_truncated_checkpoint(merlin_run, tmp_path, capsys, keep):
    """A cut file is named damaged, whichever error torch raises (a cut zip's OSError, too)."""
    data = (merlin_run / "checkpoints" / "final.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: int(len(data) * keep) if keep < 1 else keep])
    proc = cli_inproc(capsys, "eval", "--checkpoint", cut, "--episodes", "2")
    assert_clean_error(proc, str(cut))
    assert "damaged" in proc.stderr


def test_eval_not_a_merlin_checkpoint(tmp_path, capsys):
    other = tmp_path / "tensor.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    assert_clean_error(
        cli_inproc(capsys, "eval", "--checkpoint", other, "--episodes", "2"), str(other)
    )


def test_eval_bad_episodes(merlin_run, capsys):
    proc = cli_inproc(
        capsys, "eval", "--checkpoint", merlin_run / "checkpoints" / "final.pt", "--episodes", "0"
    )
    assert_clean_error(proc, "--episodes")


class _OpensAFile:
    """Unpickling this calls open(path, 'w'): proof that code ran if the file appears."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_eval_rejects_pickled_objects(tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(
        {"format_version": 1, "config": "{}", "model": {}, "payload": _OpensAFile(str(marker))},
        evil,
    )
    proc = cli("eval", "--checkpoint", evil, "--episodes", "2", cwd=tmp_path)
    assert_clean_error(proc, str(evil))
    assert not marker.exists(), "unpickling ran code from the checkpoint"

    plain = tmp_path / "namespace.pt"
    torch.save({"format_version": 1, "ns": argparse.Namespace(a=1)}, plain)
    assert_clean_error(
        cli_inproc(capsys, "eval", "--checkpoint", plain, "--episodes", "2"), str(plain)
    )


def test_bad_input_in_real_process(tmp_path):
    """The same kind of error from the real command (the pickled-object test above also runs one):
    exit status 2, one stderr line, no traceback."""
    proc = cli(
        "train", "--env", "NoSuchEnv-v9", "--run-dir", tmp_path / "r", "--no-progress", cwd=tmp_path
    )
    assert_clean_error(proc, "NoSuchEnv-v9")


# ------------------------------------------------------------------------------ help
def test_help(tmp_path, capsys):
    proc = cli("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "usage" in proc.stdout.lower() and "train" in proc.stdout and "eval" in proc.stdout
    for sub, flag in (("train", "--total-steps"), ("eval", "--checkpoint")):
        proc = cli_inproc(capsys, sub, "--help")
        assert proc.returncode == 0 and flag in proc.stdout


def test_no_command_is_an_error(capsys):
    proc = cli_inproc(capsys)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
