"""The best VisuomotorMapping return an agent can expect when it has to discover the mapping.

The task's declared maximum (``trials``, 32 at the defaults) is the oracle's, which is told the
mapping. A real agent learns it within the episode from reward alone. This script plays an agent
with a perfect memory against the env, seeing only what the policy sees (the image and the
reward): on a response step (grey frame) it gives the action it remembers as right for this
picture, or else the first action it has not yet tried on it. No agent that knows only what it
has seen can do better in expectation (the mapping is uniform and independent per image, so every
untried action is equally likely to be right). It prints JSON: the mean return, its standard
error, and the normalised score (R - R_random) / (R_max - R_random) that this return gets.

    python experiments/visuomotor_ceiling.py [--episodes 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json

import gymnasium as gym
import numpy as np

from merlin_rl.cli import _positive, _seed  # the CLI's range checks (exit code 2)

import merlin_rl.envs  # noqa: F401  (registers the built-in tasks)
from merlin_rl.envs.visuomotor_mapping import COLOURS, FRAME_GREY


def play(episodes: int, seed: int, **knobs: int) -> np.ndarray:
    """Returns of ``episodes`` episodes of the perfect-memory discoverer ([episodes])."""
    env = gym.make("merlin_rl/VisuomotorMapping-v0", **knobs)
    n_actions = int(env.action_space.n)
    returns = np.zeros(episodes)
    obs, _ = env.reset(seed=seed)
    for e in range(episodes):
        right: dict[bytes, int] = {}  # picture -> its rewarded action
        tried: dict[bytes, int] = {}  # picture -> actions tried so far (in order 0, 1, ...)
        done = False
        while not done:
            image = obs["image"]
            bw = max(1, image.shape[0] // 8)  # the frame's width
            picture = image[bw:-bw, bw:-bw].tobytes()  # the 4 x 4 grid inside the frame
            respond = bool((image[0, 0] == COLOURS[FRAME_GREY]).all())
            action = right.get(picture, tried.get(picture, 0)) if respond else 0
            obs, reward, term, trunc, _ = env.step(action)
            if respond:
                tried[picture] = action + 1
                if reward > 0:
                    right[picture] = action
            returns[e] += reward
            done = term or trunc
        obs, _ = env.reset()
        assert max(tried.values(), default=0) <= n_actions
    return returns


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=_positive, default=2000)
    p.add_argument("--seed", type=_seed, default=0)
    a = p.parse_args()
    env = gym.make("merlin_rl/VisuomotorMapping-v0").unwrapped
    r_max, r_random = env.core.max_return, env.core.random_return
    returns = play(a.episodes, a.seed)
    mean = float(returns.mean())
    print(
        json.dumps(
            {
                "task": "merlin_rl/VisuomotorMapping-v0",
                "episodes": a.episodes,
                "seed": a.seed,
                "discoverer_return": round(mean, 3),
                "standard_error": round(float(returns.std() / np.sqrt(len(returns))), 3),
                "max_return": r_max,
                "random_return": r_random,
                "normalised": round((mean - r_random) / (r_max - r_random), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
