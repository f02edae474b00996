"""Training env steps/s of RecurrentPPO (sb3-contrib) beside MERLIN's, same task and process; JSON.

    pip install sb3-contrib            # or: pip install -e '.[peers]'
    python benchmarks/peers/rppo_speed.py [--seconds 60] [--num-envs 8] [--device cpu]
                                          [--threads T] [--rounds R]
                                          [--adaptation flatten-extractor|flatten-wrapper]

RecurrentPPO runs with sb3-contrib's defaults (n_steps 128, batch 128, 10 epochs, one LSTM of 256
units for the actor and one for the critic, 64-64 MLP heads) on ``merlin_rl/ColourMatch-v0`` in
SB3's usual ``make_vec_env`` (a DummyVecEnv of ``--num-envs`` single envs, each in a Monitor).
Its observation is a Dict holding a 16x16 RGB image, and SB3's NatureCNN (the extractor SB3 picks
for image spaces) needs images of at least 36x36, so one adaptation is needed (recorded in the
JSON under ``adaptation``):

* ``flatten-extractor`` (default): ``MultiInputLstmPolicy`` with a features extractor that
  flattens each key of the Dict and concatenates them (768 features), i.e. the non-image branch
  of SB3's own CombinedExtractor. SB3 still preprocesses the image (scaled to [0, 1]).
* ``flatten-wrapper``: Gymnasium's ``FlattenObservation`` wrapper and ``MlpLstmPolicy`` (the
  pixels then reach the network unscaled, as SB3 does for a non-image Box).

RecurrentPPO is timed over whole iterations (collect n_steps x envs steps, then train) for
``--seconds`` after one untimed warm-up iteration (or exactly ``--iterations`` iterations).
MERLIN is timed by ``benchmarks/throughput.py``'s :func:`measure` (the real Trainer; default
preset, ``--num-envs`` envs, default task) for the same budget, in this same process. The ratio is
``merlin.train_steps_per_s / rppo.steps_per_s``. With ``--rounds R`` the two alternate R times
(the order swaps each round) and the ratio reported is the median of the rounds.

Training env steps/s is the natural unit for both (one env step = one frame of the task), but the
two algorithms do different amounts of learning per step: see ``gradient_steps_per_1000_env_steps``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ (throughput.py)

import gymnasium as gym  # noqa: E402
import torch  # noqa: E402

import throughput  # noqa: E402
from merlin_rl.config import DEFAULT_ENV, ConfigError  # noqa: E402
from merlin_rl.envs import EnvError  # noqa: E402

PEERS_REQUIREMENT = "sb3-contrib>=2.9.2"  # tested: 2.9.2 with torch 2.13.0, gymnasium 1.4.0
ADAPTATIONS = {
    "flatten-extractor": (
        "MultiInputLstmPolicy",
        "Dict observation kept; features extractor = flatten each key and concatenate (the "
        "non-image branch of SB3's CombinedExtractor), because NatureCNN needs images >= 36x36 "
        "and ColourMatch's are 16x16; SB3 scales the uint8 image to [0, 1] before it",
    ),
    "flatten-wrapper": (
        "MlpLstmPolicy",
        "gymnasium.wrappers.FlattenObservation on each env (Box of 768 uint8 values) and "
        "MlpLstmPolicy; SB3 does not rescale a non-image Box, so pixels enter unscaled",
    ),
}


def require_sb3() -> tuple[Any, Any]:
    """Import sb3-contrib, or exit 2 with a message saying how to install it."""
    try:
        import sb3_contrib
        import stable_baselines3
    except ImportError as e:
        print(
            f"rppo_speed.py: error: sb3-contrib is not installed ({e.name} missing); install it "
            f"with pip install '{PEERS_REQUIREMENT}' or pip install -e '.[peers]'",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    return sb3_contrib, stable_baselines3


def _flatten_dict_extractor():
    from stable_baselines3.common.preprocessing import get_flattened_obs_dim
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class FlattenDictExtractor(BaseFeaturesExtractor):
        """Each key of a Dict observation flattened, then concatenated (no CNN)."""

        def __init__(self, observation_space: gym.spaces.Dict) -> None:
            dim = sum(get_flattened_obs_dim(s) for s in observation_space.spaces.values())
            super().__init__(observation_space, features_dim=dim)
            self.keys = list(observation_space.spaces)

        def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
            return torch.cat([observations[k].flatten(1) for k in self.keys], dim=1)

    return FlattenDictExtractor


def measure_rppo(
    env_id: str = DEFAULT_ENV,
    num_envs: int = 8,
    seconds: float = 60.0,
    iterations: int | None = None,
    device: str = "cpu",
    seed: int = 0,
    adaptation: str = "flatten-extractor",
    n_steps: int | None = None,
    batch_size: int | None = None,
    n_epochs: int | None = None,
) -> dict[str, Any]:
    """Train RecurrentPPO (sb3-contrib defaults unless ``n_steps``/``batch_size``/``n_epochs`` are
    given) and
    time whole iterations after one warm-up iteration."""
    require_sb3()
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    if adaptation not in ADAPTATIONS:
        raise ConfigError(
            f"--adaptation {adaptation!r} is not known; allowed: {', '.join(ADAPTATIONS)}"
        )
    throughput.check_device(device)
    policy, description = ADAPTATIONS[adaptation]
    wrapper = gym.wrappers.FlattenObservation if adaptation == "flatten-wrapper" else None
    policy_kwargs = (
        {"features_extractor_class": _flatten_dict_extractor()}
        if adaptation == "flatten-extractor"
        else None
    )
    overrides = {
        k: v
        for k, v in (("n_steps", n_steps), ("batch_size", batch_size), ("n_epochs", n_epochs))
        if v is not None
    }
    venv = make_vec_env(env_id, n_envs=num_envs, seed=seed, wrapper_class=wrapper)
    model = RecurrentPPO(
        policy, venv, device=device, seed=seed, verbose=0, policy_kwargs=policy_kwargs, **overrides
    )
    grad_steps = [0]
    opt_step = model.policy.optimizer.step

    def counted_step(*args: Any, **kwargs: Any) -> Any:
        grad_steps[0] += 1
        return opt_step(*args, **kwargs)

    model.policy.optimizer.step = counted_step
    warmup = 1

    class Timer(BaseCallback):
        """Marks the start of each rollout (= the end of the previous iteration's training) and
        stops at the first step of the rollout that starts after the budget."""

        def __init__(self) -> None:
            super().__init__()
            self.starts: list[tuple[float, int, int]] = []  # (time, env steps, gradient steps)
            self.ends: list[float] = []  # rollout ends (training starts)
            self.stop = False

        def _on_rollout_start(self) -> None:
            now = time.perf_counter()
            self.starts.append((now, self.model.num_timesteps, grad_steps[0]))
            done = len(self.starts) - 1 - warmup  # measured iterations completed
            if iterations is not None:
                self.stop = done >= iterations
            else:
                self.stop = done >= 1 and now - self.starts[warmup][0] >= seconds

        def _on_rollout_end(self) -> None:
            self.ends.append(time.perf_counter())

        def _on_step(self) -> bool:
            return not self.stop

    timer = Timer()
    try:
        model.learn(total_timesteps=10**12, callback=timer)
    finally:
        venv.close()
    marks, ends = timer.starts, timer.ends
    first, last = marks[warmup], marks[-1]
    n_iter = len(marks) - 1 - warmup
    wall = last[0] - first[0]
    steps = last[1] - first[1]
    collect = sum(ends[i] - marks[i][0] for i in range(warmup, len(marks) - 1))
    train = wall - collect
    n_params = sum(p.numel() for p in model.policy.parameters())
    pol = model.policy
    hp = {
        "policy": policy,
        "n_steps": model.n_steps,
        "batch_size": model.batch_size,
        "n_epochs": model.n_epochs,
        "learning_rate": model.learning_rate,
        "gamma": model.gamma,
        "gae_lambda": model.gae_lambda,
        "lstm_hidden_size": pol.lstm_hidden_state_shape[-1],
        "n_lstm_layers": pol.lstm_hidden_state_shape[0],
        "shared_lstm": pol.shared_lstm,
        "enable_critic_lstm": pol.enable_critic_lstm,
        "net_arch": pol.net_arch,
        "features_dim": pol.features_dim,
        "features_extractor": type(pol.features_extractor).__name__,
    }
    return {
        "algorithm": "RecurrentPPO",
        "num_envs": num_envs,
        "device": str(model.device),
        "sb3_defaults": not overrides,
        "overrides": overrides,
        "adaptation": {"name": adaptation, "policy": policy, "description": description},
        "vec_env": f"{type(venv).__name__} of {num_envs} x gym.make({env_id!r}) in Monitor "
        f"(make_vec_env); as the model sees it: {type(model.get_env()).__name__}",
        "hyperparameters": hp,
        "parameters": n_params,
        "iterations_timed": n_iter,
        "env_steps_timed": steps,
        "wall_s": round(wall, 3),
        "steps_per_s": round(steps / wall, 2),
        "rollout_steps_per_s": round(steps / collect, 2),
        "train_ms_per_iteration": round(1000 * train / n_iter, 3),
        "train_fraction": round(train / wall, 4),
        "gradient_steps_per_1000_env_steps": round(1000 * (last[2] - first[2]) / steps, 3),
    }


def measure_merlin(
    num_envs: int = 8,
    seconds: float = 60.0,
    updates: int | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> dict[str, Any]:
    """MERLIN's training throughput (default task, default preset) from throughput.measure."""
    r = throughput.measure(
        env=DEFAULT_ENV,
        agent="merlin",
        preset="small",
        num_envs=num_envs,
        device=device,
        seconds=seconds,
        updates=updates,
        breakdown_updates=0,
        env_seconds=0.0,
        acting=False,
        seed=seed,
    )
    keep = (
        "agent",
        "preset",
        "num_envs",
        "tau",
        "device",
        "parameters",
        "segments_timed",
        "env_steps_timed",
        "train_steps_per_s",
        "rollout_steps_per_s",
        "update_ms_per_segment",
        "update_fraction",
    )
    out = {k: r[k] for k in keep}
    out["wall_s"] = round(r["segments_timed"] * r["segment_ms"] / 1000, 3)
    out["gradient_steps_per_1000_env_steps"] = round(1000 / (r["tau"] * r["num_envs"]), 3)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    sb3_contrib, sb3 = require_sb3()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    rounds = []
    for r in range(args.rounds):
        res: dict[str, Any] = {}
        order = ("merlin", "rppo") if r % 2 == 0 else ("rppo", "merlin")
        for name in order:
            if name == "merlin":
                res["merlin"] = measure_merlin(
                    args.num_envs, args.seconds, args.merlin_updates, args.device, args.seed
                )
            else:
                res["rppo"] = measure_rppo(
                    DEFAULT_ENV,
                    args.num_envs,
                    args.seconds,
                    args.iterations,
                    args.device,
                    args.seed,
                    args.adaptation,
                    args.n_steps,
                    args.batch_size,
                    args.n_epochs,
                )
        res["order"] = list(order)
        res["ratio_merlin_over_rppo"] = round(
            res["merlin"]["train_steps_per_s"] / res["rppo"]["steps_per_s"], 4
        )
        rounds.append(res)
    last = rounds[-1]
    out: dict[str, Any] = {
        "benchmark": "rppo_speed",
        "env": DEFAULT_ENV,
        "num_envs": args.num_envs,
        "torch": torch.__version__,
        "sb3_contrib": sb3_contrib.__version__,
        "stable_baselines3": sb3.__version__,
        "peers_requirement": PEERS_REQUIREMENT,
        **throughput.thread_info(),
        "machine": throughput.machine_info(),
        "budget": {
            "seconds": args.seconds,
            "rppo_iterations": args.iterations,
            "merlin_updates": args.merlin_updates,
            "rounds": args.rounds,
        },
        "adaptation": last["rppo"]["adaptation"],
        "rppo": last["rppo"],
        "merlin": last["merlin"],
        "ratio_merlin_over_rppo": round(
            statistics.median(x["ratio_merlin_over_rppo"] for x in rounds), 4
        ),
    }
    if args.rounds > 1:
        out["rounds"] = [
            {
                "order": x["order"],
                "merlin_steps_per_s": x["merlin"]["train_steps_per_s"],
                "rppo_steps_per_s": x["rppo"]["steps_per_s"],
                "ratio_merlin_over_rppo": x["ratio_merlin_over_rppo"],
            }
            for x in rounds
        ]
    out["peak_rss_mb"] = throughput.peak_rss_mb()
    out["machine"]["load_average_end"] = throughput.load_average()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="wall-clock budget of each algorithm's timing (default 60)",
    )
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    p.add_argument("--rounds", type=int, default=1, help="alternate the two this many times")
    p.add_argument("--adaptation", default="flatten-extractor", choices=tuple(ADAPTATIONS))
    p.add_argument("--seed", type=int, default=0)
    smoke = p.add_argument_group("fixed-size runs (smoke tests; the defaults are the real thing)")
    smoke.add_argument(
        "--iterations",
        type=int,
        default=None,
        help="time exactly this many RecurrentPPO iterations instead of --seconds",
    )
    smoke.add_argument(
        "--merlin-updates",
        type=int,
        default=None,
        help="time exactly this many MERLIN segments instead of --seconds",
    )
    smoke.add_argument(
        "--n-steps",
        type=int,
        default=None,
        help="override RecurrentPPO's n_steps (default: sb3-contrib's, 128)",
    )
    smoke.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="override RecurrentPPO's batch_size (default: sb3-contrib's, 128)",
    )
    smoke.add_argument(
        "--n-epochs",
        type=int,
        default=None,
        help="override RecurrentPPO's n_epochs (default: sb3-contrib's, 10)",
    )
    args = p.parse_args(argv)
    for name in (
        "num_envs",
        "rounds",
        "threads",
        "iterations",
        "merlin_updates",
        "n_steps",
        "batch_size",
        "n_epochs",
    ):
        v = getattr(args, name)
        if v is not None and v <= 0:
            p.error(f"--{name.replace('_', '-')} must be a positive integer, got {v}")
    if args.seconds <= 0:
        p.error("--seconds must be > 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        out = run(args)
    except (ConfigError, EnvError) as e:
        print(f"rppo_speed.py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
