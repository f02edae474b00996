"""Learning curve of RecurrentPPO (sb3-contrib, its defaults, 8 envs) on a task, in merlin-rl's
metrics.csv format (env_steps, wall_time, episode_return, ...), plus a JSON summary with the env
steps and wall time to reach ``--threshold`` x the task's maximum. The peer that the learning
targets in docs/learning.md compare against.

    pip install -e '.[peers]'
    python benchmarks/peers/rppo_learning.py --env merlin_rl/RepeatSymbol-v0 \\
        --total-steps 150000 --out docs/runs/repeat_symbol/rppo

RecurrentPPO sees the task's own Dict observation (``MultiInputLstmPolicy``; SB3 one-hot
encodes a ``Discrete`` entry). Where the observation holds an image, SB3's NatureCNN cannot take
it (it needs >= 36x36 pixels; the tasks' are 16x16), so the image is flattened instead
(rppo_speed.py's ``flatten-extractor``: each key flattened and concatenated); the JSON records the
adaptation. Keys SB3 cannot take at all (MiniGrid's ``mission`` string) are dropped
(``--drop-keys``). ``--wall-budget S`` stops the run after S seconds (the issue's "same wall-clock
budget as MERLIN's run"), whichever of that and ``--total-steps`` comes first.

Besides metrics.csv the run directory gets a config.json (agent "rppo", env, seed) and a
summary.csv with `merlin-rl experiment`'s columns (threshold 0.9 x the task's maximum), which
experiments/results_table.py reads beside the grid's.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ (reward_scale.py)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/peers/ (rppo_speed.py)

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

from reward_scale import steps_to  # noqa: E402


def _reference(text: str) -> tuple[float, float]:
    """'RANDOM,MAX' -> (random, max), two finite numbers with max > random."""
    import math

    parts = text.split(",")
    try:
        lo, hi = (float(x) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be RANDOM,MAX (two numbers), got {text!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise argparse.ArgumentTypeError(f"needs finite numbers with MAX > RANDOM, got {text!r}")
    return lo, hi


def _has_image(space: gym.Space) -> bool:
    subs = space.spaces.values() if isinstance(space, gym.spaces.Dict) else [space]
    return any(isinstance(s, gym.spaces.Box) and len(s.shape) >= 2 for s in subs)


class DropKeys(gym.ObservationWrapper):
    """A Dict observation without the given keys."""

    def __init__(self, env: gym.Env, keys: list[str]) -> None:
        super().__init__(env)
        if not isinstance(env.observation_space, gym.spaces.Dict):
            self.keys = []
            return
        self.keys = [k for k in keys if k in env.observation_space.spaces]
        self.observation_space = gym.spaces.Dict(
            {k: v for k, v in env.observation_space.spaces.items() if k not in self.keys}
        )

    def observation(self, obs):
        if not self.keys:
            return obs
        return {k: v for k, v in obs.items() if k not in self.keys}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default="merlin_rl/RepeatSymbol-v0")
    p.add_argument("--total-steps", type=int, default=150_000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-interval", type=int, default=5_000, help="env steps per metrics row")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="runs/rppo")
    p.add_argument("--wall-budget", type=float, default=0.0, help="seconds; 0 = no limit")
    p.add_argument("--env-import", default="", help="module(s) that register the env")
    p.add_argument("--drop-keys", default="mission", help="comma-separated Dict keys to drop")
    p.add_argument(
        "--reference",
        type=_reference,
        default=None,
        help="RANDOM,MAX returns (MAX > RANDOM) if the env declares none",
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.env_import:
        from merlin_rl.envs import import_env_modules

        import_env_modules(a.env_import)
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    import merlin_rl.envs  # noqa: F401  (registers the built-in tasks)
    from merlin_rl.envs import make_vector_env

    if a.reference:
        random_return, max_return = a.reference
    else:
        probe = make_vector_env(a.env, 1)
        core = probe.unwrapped.core
        random_return, max_return = float(core.random_return), float(core.max_return)
        probe.close()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    drop = [k for k in a.drop_keys.split(",") if k]
    wrapper = (lambda e: DropKeys(e, drop)) if drop else None  # noqa: E731
    venv = make_vec_env(a.env, n_envs=a.num_envs, seed=a.seed, wrapper_class=wrapper)
    adaptation, policy_kwargs = "none (the task's Dict observation)", None
    if _has_image(venv.observation_space):
        from rppo_speed import ADAPTATIONS, _flatten_dict_extractor

        adaptation = "flatten-extractor: " + ADAPTATIONS["flatten-extractor"][1]
        policy_kwargs = {"features_extractor_class": _flatten_dict_extractor()}
    model = RecurrentPPO(
        "MultiInputLstmPolicy",
        venv,
        seed=a.seed,
        verbose=0,
        device="cpu",
        policy_kwargs=policy_kwargs,
    )
    (out / "config.json").write_text(
        json.dumps({"agent": "rppo", "env": a.env, "seed": a.seed, "num_envs": a.num_envs})
    )
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
            over = bool(a.wall_budget) and time.perf_counter() - t0 >= a.wall_budget
            if self.model.num_timesteps >= self.next or (over and self.returns):
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
            return not over

    model.learn(total_timesteps=a.total_steps, callback=Log())
    f.close()
    venv.close()
    steps, wall = steps_to(out / "metrics.csv", 0.9 * max_return)
    from merlin_rl.experiment import summary_row

    row = summary_row("rppo", a.env, [out], 0.9 * max_return, (random_return, max_return), 0.9)
    with open(out / "summary.csv", "w", newline="") as sf:
        w = csv.DictWriter(sf, fieldnames=list(row))
        w.writeheader()
        w.writerow(row)
    print(
        json.dumps(
            {
                "algorithm": "RecurrentPPO (sb3-contrib defaults)",
                "env": a.env,
                "num_envs": a.num_envs,
                "seed": a.seed,
                "total_steps": a.total_steps,
                "threads": a.threads,
                "adaptation": adaptation,
                "env_steps": int(model.num_timesteps),
                "steps_to_0.9": steps,
                "wall_to_0.9_s": wall,
                "wall_s": round(time.perf_counter() - t0, 1),
                "out": str(out),
            }
        )
    )


if __name__ == "__main__":
    main()
