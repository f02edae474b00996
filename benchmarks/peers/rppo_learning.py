"""Learning curve of RecurrentPPO (sb3-contrib, its defaults, 8 envs) on a task, in merlin-rl's
metrics.csv format (env_steps, wall_time, episode_return, ...), plus a JSON summary with the env
steps and wall time to reach ``--threshold`` x the task's maximum. The peer that the learning
targets in docs/learning.md compare against.

    pip install -e '.[peers]'
    python benchmarks/peers/rppo_learning.py --env merlin_rl/RepeatSymbol-v0 \\
        --total-steps 150000 --out docs/runs/repeat_symbol/rppo

RecurrentPPO sees the task's own Dict observation (``MultiInputLstmPolicy``; SB3 one-hot
encodes a ``Discrete`` entry). Tasks with images need the adaptation of rppo_speed.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ (reward_scale.py)

import torch  # noqa: E402

from reward_scale import steps_to  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="merlin_rl/RepeatSymbol-v0")
    p.add_argument("--total-steps", type=int, default=150_000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-interval", type=int, default=5_000, help="env steps per metrics row")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/rppo")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    import merlin_rl.envs  # noqa: F401  (registers the built-in tasks)
    from merlin_rl.envs import make_vector_env

    probe = make_vector_env(a.env, 1)
    max_return = float(probe.unwrapped.core.max_return)
    probe.close()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    venv = make_vec_env(a.env, n_envs=a.num_envs, seed=a.seed)
    model = RecurrentPPO("MultiInputLstmPolicy", venv, seed=a.seed, verbose=0, device="cpu")
    f = open(out / "metrics.csv", "w", newline="")
    writer = csv.writer(f)
    writer.writerow(["env_steps", "wall_time", "episode_return", "episodes"])
    t0 = time.perf_counter()

    class Log(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []
            self.next = a.log_interval

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
            if self.model.num_timesteps >= self.next:
                mean = sum(self.returns) / len(self.returns) if self.returns else float("nan")
                writer.writerow(
                    [
                        self.model.num_timesteps,
                        round(time.perf_counter() - t0, 3),
                        mean,
                        len(self.returns),
                    ]
                )
                f.flush()
                self.returns = []
                self.next += a.log_interval
            return True

    model.learn(total_timesteps=a.total_steps, callback=Log())
    f.close()
    venv.close()
    steps, wall = steps_to(out / "metrics.csv", 0.9 * max_return)
    print(
        json.dumps(
            {
                "algorithm": "RecurrentPPO (sb3-contrib defaults)",
                "env": a.env,
                "num_envs": a.num_envs,
                "seed": a.seed,
                "total_steps": a.total_steps,
                "threads": a.threads,
                "steps_to_0.9": steps,
                "wall_to_0.9_s": wall,
                "wall_s": round(time.perf_counter() - t0, 1),
                "out": str(out),
            }
        )
    )


if __name__ == "__main__":
    main()
