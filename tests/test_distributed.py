"""Data-parallel training (torch.distributed, gloo on CPU): 2 ranks x B/2 envs take the same update
as 1 rank x B envs; a torchrun run writes one run directory that resumes single-process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

torch.set_num_threads(1)

TINY = dict(
    z_dim=8,
    enc_dim=16,
    image_channels=4,
    mlp_hidden=16,
    decoder_hidden=16,  # a tiny model: float noise of 512-wide decoders exceeds the tolerance
    mbp_hidden=16,
    policy_hidden=16,
    memory_rows=8,
    tau=6,
    env="test/Deterministic-v0",
)


class DeterministicEnv(gym.Env):
    """No randomness at all: the observation depends on the step and the last action; reward 1
    for action (t mod 3); 5 steps per episode."""

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Dict(
            {
                "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
                "vector": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
            }
        )
        self.action_space = gym.spaces.Discrete(3)
        self.t, self.last = 0, 0

    def _obs(self):
        img = np.full((8, 8, 3), 30 * self.t + 10 * self.last, np.uint8)
        return {"image": img, "vector": np.array([self.t / 5, self.last / 3], np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.last = 0, 0
        return self._obs(), {}

    def step(self, action):
        reward = float(int(action) == self.t % 3)
        self.t, self.last = self.t + 1, int(action)
        return self._obs(), reward, self.t >= 5, False, {}


def _register() -> None:
    if "test/Deterministic-v0" not in gym.registry:
        gym.register(id="test/Deterministic-v0", entry_point=DeterministicEnv)


def _one_update(
    num_envs: int,
    run_dir: str,
    epochs: int = 1,
    target_kl: float = 0.0,
    policy_epochs: int = 0,
) -> dict[str, torch.Tensor]:
    """One segment's update: the single-graph A2C step (epochs 1) or the replay learner with
    ``epochs`` epochs over one minibatch of all environments (the same batch on any number of
    ranks; minibatches over environments group them differently per rank), stopped early by
    ``target_kl`` when it is > 0, then ``policy_epochs`` epochs of the policy alone."""
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    _register()
    tr = Trainer(
        make_config(
            "small",
            num_envs=num_envs,
            seed=7,
            epochs=epochs,
            minibatches=1,
            target_kl=target_kl,
            policy_epochs=policy_epochs,
            **TINY,
        ),
        run_dir=run_dir,
        progress=False,
    )
    tr.update(tr.rollout())
    tr.env.close()
    return {k: v.detach().clone() for k, v in tr.agent.state_dict().items()}


def _worker(
    rank: int,
    world: int,
    port: int,
    out_dir: str,
    epochs: int = 1,
    target_kl: float = 0.0,
    policy_epochs: int = 0,
) -> None:
    os.environ.update(
        WORLD_SIZE=str(world),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    params = _one_update(4, os.path.join(out_dir, "run"), epochs, target_kl, policy_epochs)
    if rank == 0:
        torch.save(params, os.path.join(out_dir, "params.pt"))
    from merlin_rl.distributed import DistContext, exit_without_teardown, shutdown

    shutdown(DistContext(rank=rank, world_size=world, local_rank=rank), wait=True)
    exit_without_teardown(0)  # as the CLI's ranks do (gloo's teardown aborts a rank now and then)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "epochs,target_kl,policy_epochs", [(1, 0.0, 0), (2, 0.0, 0), (3, 1e-12, 0), (2, 0.0, 2)]
)
def test_two_ranks_take_the_same_update_as_one(tmp_path, epochs, target_kl, policy_epochs):
    """... also when the KL early stop ends the epochs (every rank stops at the same step), and
    with policy-only epochs after the joint ones."""
    single = _one_update(4, str(tmp_path / "single"), epochs, target_kl, policy_epochs)
    mp.spawn(
        _worker,
        args=(2, _free_port(), str(tmp_path), epochs, target_kl, policy_epochs),
        nprocs=2,
        join=True,
    )
    dist_params = torch.load(tmp_path / "params.pt", weights_only=True)
    for k, v in single.items():
        torch.testing.assert_close(dist_params[k], v, rtol=1e-5, atol=1e-6, msg=k)
    # and the update did something (not a trivially equal pair of untouched models)
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    _register()
    initial = Trainer(
        make_config("small", num_envs=4, seed=7, **TINY),
        run_dir=str(tmp_path / "init"),
        progress=False,
    ).agent.state_dict()
    assert any(not torch.equal(initial[k], single[k]) for k in single)


def test_num_envs_must_split_evenly(monkeypatch):
    from merlin_rl.config import ConfigError, make_config
    from merlin_rl.train import Trainer

    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ConfigError, match="divisible"):
        Trainer(
            make_config("small", num_envs=4, **{**TINY, "env": "merlin_rl/ColourMatch-v0"}),
            run_dir="/nonexistent",
            progress=False,
        )


SMALL_FLAGS = [
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
    "--env-kwargs",
    '{"delay": 3}',
    "--tau",
    "5",
    "--no-progress",
]


def test_torchrun_run_resumes_single_process(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "merlin_rl",
        "train",
        "--total-steps",
        "400",
        "--num-envs",
        "4",
        "--run-dir",
        str(run_dir),
        "--log-interval",
        "100",
        *SMALL_FLAGS,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["processes"] == 2 and summary["env_steps"] >= 400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # one run directory
    assert (run_dir / "checkpoints" / "final.pt").is_file()
    rows = (run_dir / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) >= 2 and rows[0].startswith("env_steps")  # one header: rank 0 alone writes
    assert sum(r.startswith("env_steps") for r in rows) == 1

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "merlin_rl",
            "train",
            "--resume",
            "--run-dir",
            str(run_dir),
            "--total-steps",
            "600",
            "--num-envs",
            "4",
            *SMALL_FLAGS,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["processes"] == 1 and summary["env_steps"] >= 600
    assert "resumed from" in res.stderr


def test_async_envs_run_in_subprocesses(tmp_path):
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    cfg = make_config(
        "small",
        num_envs=2,
        async_envs=True,
        **{**TINY, "env": "merlin_rl/ColourMatch-v0", "env_kwargs": {"delay": 2}},
    )
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    try:
        assert isinstance(tr.env, gym.vector.AsyncVectorEnv)
        logs = tr.update(tr.rollout())
        assert np.isfinite(logs["loss/mbp"]) and np.isfinite(logs["loss/policy"])
        assert tr.episodes.count > 0  # episodes of 4 steps finished inside the 6-step segment
    finally:
        tr.env.close()


def test_a_torchrun_rank_leaves_without_the_interpreters_teardown(monkeypatch):
    """After a normal end, a rank launched by torchrun leaves through exit_without_teardown (no
    interpreter teardown, where gloo aborted a finished rank now and then); a single process, and a
    rank whose command failed, return as before."""
    from merlin_rl import cli, distributed

    left = []

    def fake_exit(code: int) -> None:
        left.append(code)

    monkeypatch.setattr(distributed, "exit_without_teardown", fake_exit)
    monkeypatch.setattr(cli, "_train", lambda args: 0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["train"]) == 0 and left == [0]

    def failing(args):
        raise cli.ConfigError("bad")

    monkeypatch.setattr(cli, "_train", failing)
    assert cli.main(["train"]) == 2 and left == [0]
    monkeypatch.setattr(cli, "_train", lambda args: 0)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert cli.main(["train"]) == 0 and left == [0]
