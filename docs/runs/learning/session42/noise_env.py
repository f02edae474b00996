"""A task whose reward does not depend on the actions, registered as ``NoiseReward-v0``.

Each step shows an 8-d standard normal vector and pays +1 or -1 by a fair coin; the agent picks
one of 4 actions, which changes nothing; an episode lasts 50 steps. Any change in the policy is
the learner's noise (docs/learning.md, forty-second session). Used with
``PYTHONPATH=docs/runs/learning/session42 merlin-rl train --env NoiseReward-v0 --env-import noise_env``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class NoiseReward(gym.Env):
    """Observations N(0, I_8), reward +-1 with probability 1/2 each, 4 actions, 50 steps."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (8,), np.float32)
    action_space = gym.spaces.Discrete(4)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.standard_normal(8).astype(np.float32), {}

    def step(self, action: int):
        self.t += 1
        obs = self.np_random.standard_normal(8).astype(np.float32)
        reward = float(self.np_random.choice((-1.0, 1.0)))
        return obs, reward, False, self.t >= 50, {}


gym.register("NoiseReward-v0", entry_point=NoiseReward)
