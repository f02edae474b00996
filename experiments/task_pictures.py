"""Render one picture per built-in task for docs/tasks.md: the env's rgb_array render after a few
oracle steps, saved as docs/tasks/<Task>.png.

    python experiments/task_pictures.py [--only merlin_rl/WaterMaze-v0] [--steps 6] [--out docs/tasks]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from merlin_rl.envs import BUILTIN_PREFIX, builtin_ids  # noqa: E402


def picture(env_id: str, steps: int, out: Path, seed: int = 1) -> Path:
    env = gym.make(env_id, render_mode="rgb_array").unwrapped
    env.reset(seed=seed)
    for _ in range(steps):
        *_, term, trunc, _ = env.step(int(env.core.oracle()[0]))
        if term or trunc:
            env.reset()
    frame = env.render()
    path = out / f"{env_id.removeprefix(BUILTIN_PREFIX).removesuffix('-v0')}.png"
    plt.imsave(path, frame)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="one task id (default: all built-in tasks)")
    p.add_argument("--steps", type=int, default=6, help="oracle steps before the picture")
    p.add_argument("--out", default="docs/tasks")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for env_id in [a.only] if a.only else builtin_ids():
        print(picture(env_id, a.steps, out))


if __name__ == "__main__":
    main()
