"""Calibration probe: MiniGrid-MemoryS7 with its symbolic image codes spread over 0..250."""

import gymnasium as gym
import numpy as np


class Spread(gym.ObservationWrapper):
    def observation(self, obs):
        obs = dict(obs)
        obs["image"] = np.minimum(obs["image"].astype(np.int32) * 25, 255).astype(np.uint8)
        return obs


def make(**kw):
    import minigrid  # noqa: F401

    return Spread(gym.make("MiniGrid-MemoryS7-v0", **kw))


gym.register("MGScaled-MemoryS7-v0", entry_point="mgscale:make", max_episode_steps=245)
