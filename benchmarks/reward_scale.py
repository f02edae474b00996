"""Does learning depend on the task's reward scale? (issue: "a learner that is robust to reward
scale"). Trains the same agent on a built-in task with its rewards multiplied by each of
``--scales`` (a vector-env wrapper registered here) and reports, per scale, the env steps and wall
time to reach ``--threshold`` x the scaled maximum return (moving mean of the logged episode
returns), as JSON. Each run writes a run directory under ``--out`` (metrics.csv for the docs).

    python benchmarks/reward_scale.py --env merlin_rl/ColourMatch-v0 --scales 1 0.02 50 \\
        --total-steps 300000 --out docs/runs/reward_scale --jobs 2 [--set epochs=3 ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import platform
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

SCALED_PREFIX = "merlin_rl_bench/Scaled"


class ScaledRewards(gym.vector.VectorWrapper):
    """Multiplies every reward of a vector env by ``scale`` (the task is otherwise unchanged)."""

    def __init__(self, env: gym.vector.VectorEnv, scale: float) -> None:
        super().__init__(env)
        self.scale = scale

    def step(self, actions):
        obs, r, term, trunc, info = self.env.step(actions)
        return obs, np.asarray(r, np.float32) * np.float32(self.scale), term, trunc, info

    def get_state(self):  # exact checkpoints of the built-in task
        return self.env.get_state()

    def set_state(self, state) -> None:
        self.env.set_state(state)


def register_scaled(env_id: str, scale: float) -> str:
    """Register ``env_id`` with rewards x ``scale`` under a new id; returns that id."""
    new_id = f"{SCALED_PREFIX}{env_id.split('/')[-1].split('-v')[0]}x{scale:g}-v0"
    if new_id not in gym.registry:

        def make_vec(num_envs: int = 1, **kwargs: Any) -> gym.vector.VectorEnv:
            return ScaledRewards(
                gym.make_vec(
                    env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs
                ),
                scale,
            )

        gym.register(
            new_id,
            entry_point=gym.spec(env_id).entry_point,
            vector_entry_point=make_vec,
            max_episode_steps=gym.spec(env_id).max_episode_steps,
        )
    return new_id


def steps_to(metrics: Path, target: float, window: int = 3) -> tuple[float | None, float | None]:
    """First (env steps, wall time) where the mean of ``window`` logged returns >= target."""
    rows = list(csv.DictReader(open(metrics)))
    rets = [float(r["episode_return"]) for r in rows]
    for i in range(len(rows)):
        recent = [x for x in rets[max(0, i - window + 1) : i + 1] if np.isfinite(x)]
        if len(recent) == window and np.mean(recent) >= target:
            return float(rows[i]["env_steps"]), float(rows[i]["wall_time"])
    return None, None


def _run(args: tuple[str, float, int, int, str, dict]) -> dict:
    env_id, scale, total, seed, out, overrides = args
    torch.set_num_threads(1)
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env
    from merlin_rl.train import Trainer

    scaled = register_scaled(env_id, scale)
    probe = make_vector_env(env_id, 1, overrides.get("env_kwargs"))
    max_return = float(getattr(probe.unwrapped, "core", probe).max_return)
    probe.close()
    run_dir = Path(out) / f"scale_{scale:g}"
    cfg = make_config("small", env=scaled, total_steps=total, seed=seed, **overrides)
    tr = Trainer(cfg, run_dir=run_dir, progress=False)
    last = tr.train()
    steps, wall = steps_to(run_dir / "metrics.csv", 0.9 * max_return * scale)
    return {
        "scale": scale,
        "max_return": max_return * scale,
        "steps_to_0.9": steps,
        "wall_to_0.9_s": wall,
        "final_return": last.get("episode_return"),
        "final_return_unscaled": last.get("episode_return", float("nan")) / scale,
        "run_dir": str(run_dir),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="merlin_rl/ColourMatch-v0")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.02, 50.0])
    p.add_argument("--total-steps", type=int, default=300_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", default="runs/reward_scale")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=JSON",
        help="Config overrides, e.g. epochs=3 reward_norm='\"off\"'",
    )
    a = p.parse_args()
    overrides = {k: json.loads(v) for k, v in (s.split("=", 1) for s in a.set)}
    jobs = [(a.env, s, a.total_steps, a.seed, a.out, overrides) for s in a.scales]
    if a.jobs > 1:
        with mp.get_context("spawn").Pool(a.jobs) as pool:
            results = pool.map(_run, jobs)
    else:
        results = [_run(j) for j in jobs]
    base = next((r for r in results if r["scale"] == 1.0), None)
    for r in results:
        ok = base is not None and base["steps_to_0.9"] and r["steps_to_0.9"]
        r["steps_ratio_vs_unscaled"] = r["steps_to_0.9"] / base["steps_to_0.9"] if ok else None
    print(
        json.dumps(
            {
                "benchmark": "reward_scale",
                "env": a.env,
                "seed": a.seed,
                "total_steps": a.total_steps,
                "overrides": overrides,
                "machine": platform.machine(),
                "cpus": mp.cpu_count(),
                "torch": torch.__version__,
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
