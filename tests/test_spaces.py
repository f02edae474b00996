"""Observation spaces beyond the built-in task: CHW and float images, Tuple, third-party envs
registered through --env-import, and clear errors for unsupported spaces."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.cli import main as cli_main
from merlin_rl.config import make_config
from merlin_rl.encoders import UnsupportedSpaceError

torch.set_num_threads(1)
CFG = make_config("small", z_dim=8, enc_dim=16, image_channels=4, mlp_hidden=16, mbp_hidden=16,
                  policy_hidden=16, memory_rows=6)


def _run(space: gym.Space, steps: int = 3, b: int = 2):
    agent = Agent(space, gym.spaces.Discrete(3), CFG)
    state = agent.initial_state(b)
    batch = gym.vector.utils.batch_space(space, b)
    batch.seed(0)
    outs = []
    for _ in range(steps):
        obs = agent.mbp.codec.to_tensors(batch.sample(), torch.device("cpu"))
        out, state = agent.step(obs, state)
        outs.append(out)
    pred = agent.evaluate(outs)
    assert all(torch.isfinite(v).all() for v in pred.recon.values())
    return agent, outs


@pytest.mark.parametrize("shape,dtype,high,first", [
    ((8, 8, 3), np.uint8, 255, False),
    ((3, 8, 8), np.uint8, 255, True),
    ((8, 8, 1), np.float32, 1.0, False),
    ((4, 10, 12), np.float32, 255.0, True),
])
def test_image_layouts(shape, dtype, high, first):
    space = gym.spaces.Box(0, high, shape, dtype)
    agent, outs = _run(space)
    m = agent.mbp.codec.modality("obs")
    assert m.kind == "image" and m.channels_first == first
    c = shape[0] if first else shape[-1]
    assert outs[0].obs["obs"].shape[1] == c  # tensors are (B, C, H, W)
    assert 0.0 <= float(outs[0].obs["obs"].min()) and float(outs[0].obs["obs"].max()) <= 1.0


def test_tuple_observations():
    space = gym.spaces.Tuple((gym.spaces.Box(-1, 1, (4,), np.float32), gym.spaces.Discrete(5)))
    agent, outs = _run(space)
    assert [k for k, _ in agent.mbp.codec.items()] == ["0", "1"]
    assert set(agent.evaluate(outs).recon) == {"vector:0", "discrete:1", "action", "reward"}


def test_unsupported_space_names_it():
    with pytest.raises(UnsupportedSpaceError, match="Graph"):
        Agent(gym.spaces.Graph(gym.spaces.Box(0, 1, (2,)), None), gym.spaces.Discrete(2), CFG)
    with pytest.raises(UnsupportedSpaceError, match="Box"):
        Agent(gym.spaces.Box(0, 1, (2, 3, 5, 7), np.float32), gym.spaces.Discrete(2), CFG)


MODULE = '''
import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    observation_space = gym.spaces.Tuple((gym.spaces.Box(0, 255, (3, 6, 6), np.uint8),
                                          gym.spaces.Discrete(4)))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return (np.full((3, 6, 6), 40 * self.t, np.uint8), self.t)

    def step(self, action):
        self.t += 1
        return self._obs(), float(action), self.t >= 3, False, {}


gym.register(id="thirdparty/Corridor-v0", entry_point=Corridor)
'''


def test_env_import_registers_third_party_env(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_envs_pkg.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    rc = cli_main(["train", "--env", "thirdparty/Corridor-v0", "--env-import", "my_envs_pkg",
                   "--total-steps", "40", "--num-envs", "2", "--tau", "4", "--z-dim", "8",
                   "--mbp-hidden", "16", "--policy-hidden", "16", "--mlp-hidden", "16",
                   "--enc-dim", "16", "--image-channels", "4", "--memory-rows", "8",
                   "--run-dir", str(tmp_path / "run"), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    rc = cli_main(["eval", "--checkpoint", str(tmp_path / "run" / "checkpoints" / "final.pt"),
                   "--episodes", "2"])
    assert rc == 0


def test_env_import_failure_is_one_line(tmp_path, capsys):
    rc = cli_main(["train", "--env-import", "no_such_module_xyz", "--run-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no_such_module_xyz" in err and err.count("\n") == 0
