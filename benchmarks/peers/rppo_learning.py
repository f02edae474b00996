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
(``--drop-keys``). ``--env-kwargs JSON`` sets the env's knobs, as ``merlin-rl train``'s does (a
bad knob or bad JSON: one line, exit 2, nothing written). ``--wall-budget S`` stops the run after
S seconds (the issue's "same wall-clock budget as MERLIN's run"), whichever of that and
``--total-steps`` comes first.

Long runs resume: every ``--checkpoint-interval`` env steps the model's parameters and optimiser
state (``get_parameters()``, saved with ``torch.save`` and read back with ``weights_only=True``:
no pickled code, unlike SB3's own ``load``), the step count and the wall time so far go to
``checkpoint.pt``. Started again with the same ``--out``, env, seed and envs, a run that has a
checkpoint and no summary.csv continues from it (metrics rows after the checkpoint are dropped;
the wall time and ``--wall-budget`` count the earlier sessions). The resume is not exact: the
envs start new episodes, the LSTM state starts at zero and the unfinished rollout is collected
again. A finished run (summary.csv) is never overwritten: that is an error. Its checkpoint is
deleted when it finishes.

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


def _env_kwargs(text: str) -> dict:
    """--env-kwargs: a JSON object (its values plain data; nothing in it is imported or run)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r} ({e.msg})")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {text!r}")
    return value


def _resume_point(out: Path, identity: dict) -> dict | None:
    """The checkpoint to continue from, None to start afresh; exit 2 (one line) on a finished run
    or one of another env, seed or number of envs."""
    if (out / "summary.csv").exists():
        _fail(f"{out} holds a finished run (summary.csv); choose another --out")
    ckpt = out / "checkpoint.pt"
    if not ckpt.exists():
        return None
    try:
        saved = json.loads((out / "config.json").read_text())
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (a damaged run directory: say so, touch nothing)
        _fail(f"cannot resume {out}: {type(e).__name__}: {e}")
    if saved != identity:
        _fail(f"{out} holds a run of {saved}, not {identity}; choose another --out")
    return state


def _fail(message: str) -> None:
    print(f"rppo_learning: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _save_checkpoint(out: Path, model, wall: float, next_log: int) -> None:
    """Parameters and optimiser state (tensors only), step count and wall time, atomically."""
    state = {
        "params": model.get_parameters(),
        "num_timesteps": int(model.num_timesteps),
        "wall": float(wall),
        "next_log": int(next_log),
    }
    tmp = out / "checkpoint.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(out / "checkpoint.pt")


def _drop_rows_after(metrics: Path, steps: int) -> None:
    """Keep the metrics rows logged up to the checkpoint (later ones are logged again)."""
    with open(metrics, newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if r and int(float(r[0])) <= steps]
    with open(metrics, "w", newline="") as f:
        csv.writer(f).writerows(kept)


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
        "--env-kwargs",
        type=_env_kwargs,
        default={},
        help="JSON object of the env's knobs, as merlin-rl train's --env-kwargs",
    )
    p.add_argument(
        "--checkpoint-interval",
        type=int,
        default=25_000,
        help="env steps between checkpoints (a stopped run resumes from the last); 0 = none",
    )
    p.add_argument("--n-steps", type=int, default=None, help=argparse.SUPPRESS)  # smoke tests
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
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

    try:  # the env and its knobs are checked before anything is written
        probe = make_vector_env(a.env, 1, a.env_kwargs)
    except (ValueError, TypeError, gym.error.Error) as e:
        _fail(f"--env {a.env} --env-kwargs {json.dumps(a.env_kwargs)}: {e}")
    if a.reference:
        random_return, max_return = a.reference
    else:
        core = probe.unwrapped.core
        random_return, max_return = float(core.random_return), float(core.max_return)
    probe.close()
    out = Path(a.out)
    identity = {"agent": "rppo", "env": a.env, "seed": a.seed, "num_envs": a.num_envs}
    if a.env_kwargs:  # recorded only when given, so that earlier runs' identities still match
        identity["env_kwargs"] = a.env_kwargs
    resume = _resume_point(out, identity)
    out.mkdir(parents=True, exist_ok=True)
    drop = [k for k in a.drop_keys.split(",") if k]
    wrapper = (lambda e: DropKeys(e, drop)) if drop else None  # noqa: E731
    venv = make_vec_env(
        a.env, n_envs=a.num_envs, seed=a.seed, wrapper_class=wrapper, env_kwargs=a.env_kwargs
    )
    adaptation, policy_kwargs = "none (the task's Dict observation)", None
    if _has_image(venv.observation_space):
        from rppo_speed import ADAPTATIONS, _flatten_dict_extractor

        adaptation = "flatten-extractor: " + ADAPTATIONS["flatten-extractor"][1]
        policy_kwargs = {"features_extractor_class": _flatten_dict_extractor()}
    overrides = {k: v for k, v in (("n_steps", a.n_steps), ("batch_size", a.batch_size)) if v}
    model = RecurrentPPO(
        "MultiInputLstmPolicy",
        venv,
        seed=a.seed,
        verbose=0,
        device="cpu",
        policy_kwargs=policy_kwargs,
        **overrides,
    )
    done, wall_before, next_log = 0, 0.0, a.log_interval
    if resume is not None:
        model.set_parameters(resume["params"], exact_match=True, device="cpu")
        done, wall_before = int(resume["num_timesteps"]), float(resume["wall"])
        model.num_timesteps, next_log = done, int(resume["next_log"])
        _drop_rows_after(out / "metrics.csv", done)
        print(f"rppo_learning: resuming {out} at {done} env steps", file=sys.stderr)
    else:
        (out / "config.json").write_text(json.dumps(identity))
        with open(out / "metrics.csv", "w", newline="") as f0:
            csv.writer(f0).writerow(["env_steps", "wall_time", "episode_return", "episodes"])
    f = open(out / "metrics.csv", "a", newline="")
    writer = csv.writer(f)
    t0 = time.perf_counter() - wall_before

    class Log(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []
            self.next = next_log
            self.next_checkpoint = done + a.checkpoint_interval

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
            if a.checkpoint_interval and self.model.num_timesteps >= self.next_checkpoint:
                _save_checkpoint(out, self.model, time.perf_counter() - t0, self.next)
                self.next_checkpoint = self.model.num_timesteps + a.checkpoint_interval
            return not over

    if a.total_steps > done:
        model.learn(
            total_timesteps=a.total_steps - done, callback=Log(), reset_num_timesteps=resume is None
        )
    f.close()
    venv.close()
    (out / "checkpoint.pt").unlink(missing_ok=True)  # finished: summary.csv marks it
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
