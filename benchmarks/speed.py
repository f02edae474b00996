"""Training env steps/s (rollout + update) and the raw env steps/s of a task, as JSON.

    python benchmarks/speed.py [--env merlin_rl/ColourMatch-v0] [--agent merlin] [--num-envs B]
        [--set NAME=VALUE ...]

Both numbers come from the same process on the same machine, so their ratio is meaningful.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from merlin_rl.config import make_config
from merlin_rl.envs import make_vector_env
from merlin_rl.train import Trainer


def env_steps_per_s(env_id: str, num_envs: int, seconds: float) -> float:
    env = make_vector_env(env_id, num_envs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            env.step(rng.integers(env.single_action_space.n, size=num_envs))
        n += 100 * num_envs
    rate = n / (time.perf_counter() - t0)
    env.close()
    return rate


def train_steps_per_s(
    env_id: str,
    agent: str,
    num_envs: int,
    preset: str,
    segments: int,
    settings: dict | None = None,
) -> dict:
    cfg = make_config(
        preset, env=env_id, agent=agent, num_envs=num_envs, total_steps=10**12, **(settings or {})
    )
    tr = Trainer(cfg, run_dir="/tmp/merlin-rl-bench", progress=False)
    for _ in range(2):  # warm-up
        tr.update(tr.rollout())
    t_roll = t_upd = 0.0
    for _ in range(segments):
        t0 = time.perf_counter()
        seg = tr.rollout()
        t1 = time.perf_counter()
        tr.update(seg)
        t_upd += time.perf_counter() - t1
        t_roll += t1 - t0
    steps = segments * cfg.tau * num_envs
    tr.env.close()
    return {
        "train_steps_per_s": steps / (t_roll + t_upd),
        "rollout_steps_per_s": steps / t_roll,
        "update_ms_per_segment": 1000 * t_upd / segments,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="merlin_rl/ColourMatch-v0")
    p.add_argument("--agent", default="merlin")
    p.add_argument("--preset", default="small")
    p.add_argument("--num-envs", type=int, default=None, help="default: the preset's")
    p.add_argument("--segments", type=int, default=20)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a training setting (config field) to change, repeatable, e.g. "
        "latent_input_norm=none; the value is read as JSON, else as a string",
    )
    args = p.parse_args()
    settings = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            p.error(f"--set {item!r}: expected NAME=VALUE")
        try:
            settings[name] = json.loads(value)
        except json.JSONDecodeError:
            settings[name] = value
    if args.num_envs is None:
        args.num_envs = make_config(args.preset).num_envs
    out = {
        "env": args.env,
        "agent": args.agent,
        "preset": args.preset,
        "num_envs": args.num_envs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "settings": settings,
    }
    out.update(
        train_steps_per_s(args.env, args.agent, args.num_envs, args.preset, args.segments, settings)
    )
    out["env_steps_per_s_1"] = env_steps_per_s(args.env, 1, 2.0)
    out["env_steps_per_s_batched"] = env_steps_per_s(args.env, args.num_envs, 2.0)
    out["env_fraction_of_training"] = out["train_steps_per_s"] / out["env_steps_per_s_batched"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
