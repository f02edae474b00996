"""Env steps/s of every built-in task: one copy through ``gym.make`` and B batched copies through
the task's NumPy ``VectorEnv`` (what training uses), as JSON.

    python benchmarks/envs.py [--only merlin_rl/WaterMaze-v0] [--num-envs 64] [--seconds 2]

Random actions are drawn before timing; observations are produced every step (as in training).
Goal (issue 4): every task >= 50,000 env steps/s with 64 batched copies on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import gymnasium as gym
import numpy as np

from merlin_rl.envs import builtin_ids

GOAL = 50_000


def _rate(step, batch: int, n_act: int, seconds: float) -> float:
    acts = np.random.default_rng(0).integers(n_act, size=(1000, batch))
    n, i, t0 = 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(50):
            step(acts[i % 1000])
            i += 1
        n += 50 * batch
    return n / (time.perf_counter() - t0)


def single_rate(env_id: str, seconds: float) -> float:
    env = gym.make(env_id)
    env.reset(seed=0)

    def step(a: np.ndarray) -> None:
        *_, term, trunc, _ = env.step(int(a[0]))
        if term or trunc:
            env.reset()

    return _rate(step, 1, env.action_space.n, seconds)


def batched_rate(env_id: str, num_envs: int, seconds: float) -> float:
    env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    return _rate(env.step, num_envs, env.single_action_space.n, seconds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="one task id (default: every built-in task)")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--seconds", type=float, default=2.0, help="timing budget per measurement")
    a = p.parse_args()
    tasks = {}
    for env_id in [a.only] if a.only else builtin_ids():
        batched = batched_rate(env_id, a.num_envs, a.seconds)
        tasks[env_id] = {
            "single_steps_per_s": round(single_rate(env_id, a.seconds)),
            f"batched_{a.num_envs}_steps_per_s": round(batched),
            "meets_goal": batched >= GOAL,
        }
    print(
        json.dumps(
            {
                "benchmark": "envs",
                "num_envs": a.num_envs,
                "goal_steps_per_s": GOAL,
                "machine": platform.processor() or platform.machine(),
                "numpy": np.__version__,
                "tasks": tasks,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
