"""Reliability: exact resume after SIGKILL, atomic checkpoints under write failure, NaN guard,
config files, observation checks, --overwrite."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl import checkpoint as ckpt_mod
from merlin_rl.checkpoint import CheckpointError, load_checkpoint
from merlin_rl.cli import main as cli_main
from merlin_rl.config import make_config
from merlin_rl.envs import EnvError
from merlin_rl.learner import Learner
from merlin_rl.train import Trainer, TrainingDiverged
from scripts import TINY as BASE

torch.set_num_threads(1)

TINY = dict(BASE, memory_rows=8, tau=5)
TINY_FLAGS = [
    "--z-dim",
    "8",
    "--enc-dim",
    "16",
    "--image-channels",
    "4",
    "--mlp-hidden",
    "16",
    "--mbp-hidden",
    "16",
    "--policy-hidden",
    "16",
    "--memory-rows",
    "8",
    "--num-envs",
    "4",
    "--tau",
    "5",
    "--env-kwargs",
    '{"delay": 3}',
    "--no-progress",
    "--checkpoint-interval",
    "200",
    "--log-interval",
    "200",
]


def _train_cmd(run_dir: Path, total: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "merlin_rl",
        "train",
        "--run-dir",
        str(run_dir),
        "--total-steps",
        str(total),
        *TINY_FLAGS,
        *extra,
    ]


def _model(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_sigkill_then_resume_gives_identical_parameters(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    total = 1000
    ref = subprocess.run(
        _train_cmd(tmp_path / "ref", total), env=env, capture_output=True, text=True, timeout=300
    )
    assert ref.returncode == 0, ref.stderr[-2000:]

    run = tmp_path / "killed"
    proc = subprocess.Popen(
        _train_cmd(run, total), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    latest = run / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(random.Random().uniform(0.0, 1.5))  # an arbitrary moment after the first checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = load_checkpoint(latest)["env_steps"]
    assert killed_at < total
    res = subprocess.run(
        _train_cmd(run, total, "--resume"), env=env, capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "exactly" in res.stderr
    a, b = (
        _model(tmp_path / "ref" / "checkpoints" / "final.pt"),
        _model(run / "checkpoints" / "final.pt"),
    )
    assert killed_at <= total
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # metrics rows after the resumed checkpoint were not duplicated
    steps = [
        int(line.split(",")[0])
        for line in (run / "metrics.csv").read_text().strip().splitlines()[1:]
    ]
    assert steps == sorted(set(steps))


def test_failed_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    tr = Trainer(make_config("small", **TINY), run_dir=tmp_path, progress=False)
    tr.update(tr.rollout())
    first = tr.checkpoint()
    good = _model(tmp_path / "checkpoints" / "latest.pt")
    tr.update(tr.rollout())
    tr.env_steps += 1000

    def full_disk(obj, f):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_mod.torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="No space left"):
        tr.checkpoint()
    monkeypatch.undo()
    after = _model(tmp_path / "checkpoints" / "latest.pt")
    assert all(torch.equal(good[k], after[k]) for k in good)
    names = [p.name for p in (tmp_path / "checkpoints").iterdir()]
    assert not [n for n in names if n.endswith(".tmp")], names
    assert first.exists()
    tr.env.close()


@pytest.mark.parametrize("policy_epochs", [0, 2])
def test_nan_updates_are_skipped_then_the_run_stops(tmp_path, monkeypatch, policy_epochs):
    """A segment whose joint steps are not finite moves nothing, not even through the
    policy-only epochs (whose own loss stays finite here)."""
    cfg = make_config("small", max_nonfinite=3, policy_epochs=policy_epochs, **TINY)
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    tr.update(tr.rollout())
    tr.checkpoint()
    before = {k: v.clone() for k, v in tr.agent.named_parameters()}
    real = Learner.losses

    def nan_losses(self, *args, **kwargs):
        mbp, pol, logs = real(self, *args, **kwargs)
        return mbp * float("nan"), pol, logs

    monkeypatch.setattr(Learner, "losses", nan_losses)
    for _ in range(2):  # skipped, parameters untouched
        logs = tr.update(tr.rollout())
    assert logs["skipped_updates"] == 2
    assert all(torch.equal(before[k], v) for k, v in tr.agent.named_parameters())
    with pytest.raises(TrainingDiverged, match="3 non-finite updates in a row"):
        tr.update(tr.rollout())
    kept = _model(tmp_path / "checkpoints" / "latest.pt")
    assert all(torch.isfinite(v).all() for v in kept.values() if v.is_floating_point())
    tr.env.close()


def test_one_nan_does_not_stop_training(tmp_path, monkeypatch):
    # one loss per update (the single-graph learner), NaN every other update
    cfg = make_config("small", max_nonfinite=2, epochs=1, minibatches=1, **TINY)
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    real, calls = Learner.losses, {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        mbp, pol, logs = real(self, *args, **kwargs)
        return (mbp * float("nan") if calls["n"] % 2 else mbp), pol, logs

    monkeypatch.setattr(Learner, "losses", flaky)
    for _ in range(6):
        tr.update(tr.rollout())
    assert tr.skipped_updates == 3
    tr.env.close()


def _cli(capsys, *args: str) -> tuple[int, str]:
    rc = cli_main(list(args))
    return rc, capsys.readouterr().err.strip()


def test_config_file_unknown_key_and_wrong_type(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"z_dim": 8, "colour": 3}))
    rc, err = _cli(capsys, "train", "--config", str(bad), "--run-dir", str(tmp_path / "r"))
    assert rc == 2 and err.count("\n") == 0 and "colour" in err
    bad.write_text(json.dumps({"z_dim": "eight"}))
    rc, err = _cli(capsys, "train", "--config", str(bad), "--run-dir", str(tmp_path / "r"))
    assert rc == 2 and "z_dim" in err and "eight" in err
    toml = tmp_path / "bad.toml"
    toml.write_text("z_dim = [")
    rc, err = _cli(capsys, "train", "--config", str(toml), "--run-dir", str(tmp_path / "r"))
    assert rc == 2 and "bad.toml" in err


def test_config_file_is_used_and_flags_win(tmp_path, capsys):
    good = tmp_path / "cfg.toml"
    good.write_text(
        'agent = "rl-lstm"\ntotal_steps = 40\nz_dim = 8\nnum_envs = 2\ntau = 5\n'
        "enc_dim = 16\nimage_channels = 4\nmlp_hidden = 16\nmbp_hidden = 16\n"
        "policy_hidden = 16\n"
    )
    rc, _ = _cli(
        capsys,
        "train",
        "--config",
        str(good),
        "--run-dir",
        str(tmp_path / "r"),
        "--num-envs",
        "4",
        "--no-progress",
    )
    assert rc == 0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["agent"] == "rl-lstm" and cfg["num_envs"] == 4 and cfg["z_dim"] == 8


class OutOfBoundsEnv(gym.Env):
    """Declares uint8 image with values < 100 (via high) but returns 200s after reset."""

    observation_space = gym.spaces.Box(0, 99, (4, 4, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros((4, 4, 3), np.uint8), {}

    def step(self, action):
        return np.full((4, 4, 3), 200, np.uint8), 0.0, False, False, {}


def test_step_observation_outside_space_is_reported(tmp_path):
    if "test/OutOfBounds-v0" not in gym.registry:
        gym.register(id="test/OutOfBounds-v0", entry_point=OutOfBoundsEnv, disable_env_checker=True)
    tr = Trainer(
        make_config("small", **{**TINY, "env": "test/OutOfBounds-v0", "env_kwargs": {}}),
        run_dir=tmp_path,
        progress=False,
    )
    with pytest.raises(EnvError, match="env.step.*does not fit"):
        tr.rollout()
    tr.env.close()


class WrongObsEnv(gym.Env):
    """Declares a (3,) float vector but returns (4,)."""

    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), 0.0, False, False, {}


def test_observation_not_matching_its_space_is_reported(tmp_path, capsys):
    if "test/WrongObs-v0" not in gym.registry:
        gym.register(id="test/WrongObs-v0", entry_point=WrongObsEnv, disable_env_checker=True)
    with pytest.raises(EnvError, match="fit"):
        Trainer(
            make_config("small", **{**TINY, "env": "test/WrongObs-v0", "env_kwargs": {}}),
            run_dir=tmp_path,
            progress=False,
        )


def test_overwrite_replaces_a_run(tmp_path, capsys):
    run = tmp_path / "r"
    args = ["train", "--run-dir", str(run), "--total-steps", "40", *TINY_FLAGS]
    assert _cli(capsys, *args)[0] == 0
    rc, err = _cli(capsys, *args)
    assert rc == 2 and "--overwrite" in err
    assert _cli(capsys, *args, "--overwrite")[0] == 0
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert sum(r.startswith("env_steps") for r in rows) == 1


def test_checkpoint_from_another_agent_is_refused(tmp_path, capsys):
    run = tmp_path / "r"
    assert _cli(capsys, "train", "--run-dir", str(run), "--total-steps", "40", *TINY_FLAGS)[0] == 0
    rc, err = _cli(
        capsys,
        "train",
        "--run-dir",
        str(run),
        "--total-steps",
        "80",
        "--resume",
        "--agent",
        "rl-mem",
        *TINY_FLAGS,
    )
    assert rc == 2 and "agent" in err and "rl-mem" in err


def test_keeps_the_newest_k_checkpoints(tmp_path):
    cfg = make_config(
        "small",
        keep_checkpoints=2,
        checkpoint_interval=20,
        log_interval=20,
        total_steps=120,
        **TINY,
    )
    Trainer(cfg, run_dir=tmp_path, progress=False).train()
    steps = sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*.pt"))
    assert steps == ["step_000000000100.pt", "step_000000000120.pt"]
    final = load_checkpoint(tmp_path / "checkpoints" / "final.pt")
    assert final["env_steps"] == 120
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt")["env_steps"] == 120


def test_resume_uses_the_runs_own_settings(tmp_path, capsys):
    run = tmp_path / "r"
    assert _cli(capsys, "train", "--run-dir", str(run), "--total-steps", "40", *TINY_FLAGS)[0] == 0
    rc, err = _cli(
        capsys, "train", "--run-dir", str(run), "--total-steps", "80", "--resume", "--no-progress"
    )  # no model flags: they come from the checkpoint
    assert rc == 0, err
    assert json.loads((run / "config.json").read_text())["z_dim"] == 8


def test_resume_before_the_first_checkpoint_restarts(tmp_path, capsys):
    run = tmp_path / "r"
    assert _cli(capsys, "train", "--run-dir", str(run), "--total-steps", "40", *TINY_FLAGS)[0] == 0
    import shutil

    shutil.rmtree(run / "checkpoints")  # as if killed before its first checkpoint
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / ".step_000000000020.pt.x.tmp").write_bytes(b"partial")
    rc, err = _cli(
        capsys, "train", "--run-dir", str(run), "--total-steps", "40", "--resume", "--no-progress"
    )
    assert rc == 0, err
    assert "from the beginning" in err
    assert not list((run / "checkpoints").glob(".*.tmp"))
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert sum(r.startswith("env_steps") for r in rows) == 1


def test_checkpoint_from_before_image_scale_keeps_pixels_divided_by_255(tmp_path):
    """Checkpoints written before ``image_scale`` existed divided every uint8 image by 255, and
    before ``replay_view`` the replayed policy read the current MBP's z, and before
    ``policy_input`` the policy read the sample z_t; they load (and resume) with that behaviour,
    not with today's defaults."""
    cfg = make_config("small", total_steps=40, replay_view="acted", **TINY)
    Trainer(cfg, run_dir=tmp_path, progress=False).train()
    path = tmp_path / "checkpoints" / "final.pt"
    ck = torch.load(path, weights_only=True)
    settings = json.loads(ck["config"])
    assert settings["image_scale"] == 255.0  # ColourMatch's pixels: the auto choice is 255
    assert load_checkpoint(path)["config_obj"].replay_view == "acted"
    settings.pop("image_scale")
    settings.pop("replay_view")
    assert settings.pop("policy_input") == "mean"  # today's default
    ck["config"] = json.dumps(settings)
    torch.save(ck, tmp_path / "old.pt")
    old = load_checkpoint(tmp_path / "old.pt")["config_obj"]
    assert old.image_scale == 255.0 and old.replay_view == "current"
    assert old.policy_input == "sample"
