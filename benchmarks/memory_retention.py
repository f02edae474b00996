"""What a full memory keeps, per allocation rule (DESIGN.md §1, correction): an agent acts for one
episode of a task longer than its memory (default: WaterMaze, 200 steps, N = 64 rows) and the JSON
reports, per allocation, which episode steps the rows hold at the end: how many of the last N steps
are held, how many rows were rewritten after the memory filled, and the rows' age spread.

The agent is MERLIN with its reads as they are at initialisation (``--checkpoint`` for a trained
one), so this measures the rule, not a learned use of it.

    python benchmarks/memory_retention.py [--env merlin_rl/WaterMaze-v0] [--rows 64] [--envs 8]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from merlin_rl.acting import EnvLoop
from merlin_rl.agent import Agent
from merlin_rl.config import ALLOCATIONS, make_config
from merlin_rl.envs import declared_episode_length, make_vector_env


@torch.no_grad()
def retention(env_id: str, allocation: str, rows: int, envs: int, seed: int) -> dict:
    cfg = make_config(
        "small", env=env_id, memory_rows=rows, allocation=allocation, seed=seed, num_envs=envs
    )
    torch.manual_seed(seed)
    env = make_vector_env(env_id, envs)
    length = declared_episode_length(env, env_id)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    loop = EnvLoop(env, agent, torch.device("cpu"), seed)
    state = agent.initial_state(envs)
    for _ in range(length):  # exactly one episode (the first step starts it)
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        r, _, _, _ = loop.step(out.action)
        state.prev_reward = r[:, None]
    env.close()
    held = state.memory.write_step.numpy()  # (B, N): episode step of each row's event
    last = held >= length - rows
    rewritten = [len(set(h[h >= rows].tolist())) for h in held]  # distinct rows holding late steps
    return {
        "allocation": allocation,
        "episode_length": length,
        "rows": rows,
        "last_n_steps_held_mean": float(last.sum(1).mean()),
        "last_n_steps_held_min": int(last.sum(1).min()),
        "steps_after_fill_held_mean": float(np.mean(rewritten)),
        "oldest_step_held_mean": float(held.min(1).mean()),
        "newest_step_held_mean": float(held.max(1).mean()),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="merlin_rl/WaterMaze-v0")
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = [retention(a.env, alloc, a.rows, a.envs, a.seed) for alloc in ALLOCATIONS]
    print(
        json.dumps(
            {"benchmark": "memory_retention", "env": a.env, "seed": a.seed, "results": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
