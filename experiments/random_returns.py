"""A task's random return: the mean episode return of a uniformly random policy.

    python experiments/random_returns.py ENV_ID [ENV_ID ...] [--episodes 300] [--first-seed 1000]
        [--env-import popgym]

The normalised score of a grid ((R - R_random) / (R_max - R_random), experiment.py) needs each
third-party task's R_random in the grid file's ``references``. This plays ``--episodes`` episodes
per env, episode i reset with seed ``--first-seed + i`` and actions drawn from the action space
(seeded the same way), and prints one JSON line per env: the mean return, its standard error, the
mean episode length.
"""

from __future__ import annotations

import argparse
import json
import math

import gymnasium as gym
import numpy as np

from merlin_rl.envs import import_env_modules


def random_return(env_id: str, episodes: int, first_seed: int) -> dict:
    """Mean and standard error of the return of ``episodes`` uniformly random episodes."""
    env = gym.make(env_id)
    returns, lengths = [], []
    for i in range(episodes):
        env.reset(seed=first_seed + i)
        env.action_space.seed(first_seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            _, r, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(r)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    env.close()
    r = np.asarray(returns)
    return {
        "env": env_id,
        "episodes": episodes,
        "first_seed": first_seed,
        "random_return": round(float(r.mean()), 4),
        "stderr": round(float(r.std(ddof=1) / math.sqrt(len(r))), 4) if len(r) > 1 else None,
        "mean_length": round(float(np.mean(lengths)), 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("envs", nargs="+", metavar="ENV_ID")
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--env-import", default="", help="modules to import first, comma-separated")
    a = p.parse_args()
    if a.episodes < 1:
        p.error(f"--episodes must be >= 1, got {a.episodes}")
    import_env_modules(a.env_import)
    for env_id in a.envs:
        print(json.dumps(random_return(env_id, a.episodes, a.first_seed)), flush=True)


if __name__ == "__main__":
    main()
