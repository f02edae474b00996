"""Training: the :class:`Trainer` orchestrates acting (acting.py: segments of tau steps over B
environments) and learning (learner.py: truncated BPTT through the agent and its memory, two Adam
optimisers), and owns metrics, TensorBoard and checkpoints (DESIGN.md §2)."""

from __future__ import annotations

import csv
import dataclasses
import os
import random
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from merlin_rl.acting import (
    Actor,
    EnvLoop,
    EpisodeTracker,
    Segment,
    autoreset_mode,
    probe_image_scale,
)
from merlin_rl.agent import Agent, AgentState, StepNoise
from merlin_rl.checkpoint import (
    CheckpointError,
    link_atomic,
    load_checkpoint,
    load_model_state,
    prune_checkpoints,
    save_checkpoint,
)
from merlin_rl.config import EVAL_MAX_STEPS, Config, ConfigError, auto_memory_rows
from merlin_rl.distributed import (
    all_sum,
    barrier,
    broadcast_parameters,
    init_distributed,
    world_size_from_env,
)
from merlin_rl.envs import (
    EnvError,
    declared_episode_length,
    first_line,
    import_env_modules,
    make_vector_env,
)
from merlin_rl.learner import Learner, TrainingDiverged
from merlin_rl.limits import check_memory

__all__ = [
    "Trainer",
    "TrainingDiverged",
    "EnvLoop",
    "EpisodeTracker",
    "Segment",
    "RunLog",
    "autoreset_mode",
    "evaluate",
    "resolve_device",
]


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for but no CUDA GPU is available; use cpu or auto"
        )
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    """Owns the environments, the agent, the optimisers and the run directory."""

    def __init__(
        self, cfg: Config, run_dir: str | os.PathLike | None = None, progress: bool = True
    ) -> None:
        self.cfg = cfg
        device = resolve_device(cfg.device)
        world = world_size_from_env()
        if cfg.num_envs % world:
            raise ConfigError(
                f"--num-envs {cfg.num_envs} must be divisible by the number of processes ({world})"
            )
        self.dist = init_distributed(device.type)
        if device.type == "cuda" and self.dist.enabled:
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.local_envs = cfg.num_envs // world  # this rank's share of the environments
        check_memory(cfg, device)  # refuse sizes that cannot fit before allocating anything
        seed_everything(cfg.seed)
        import_env_modules(cfg.env_import)
        self.env = make_vector_env(cfg.env, self.local_envs, cfg.env_kwargs, cfg.async_envs)
        autoreset_mode(self.env)  # refuse unsupported modes before building anything
        if cfg.memory_rows == 0:  # auto: N covers the declared episode (recorded in config.json)
            length = declared_episode_length(self.env, cfg.env)
            cfg = dataclasses.replace(cfg, memory_rows=auto_memory_rows(length))
            self.cfg = cfg
        if cfg.image_scale == 0:  # auto, from the first observations (recorded in config.json)
            cfg = dataclasses.replace(cfg, image_scale=probe_image_scale(self.env, cfg.seed))
            self.cfg = cfg
        self.agent = Agent(self.env.single_observation_space, self.env.single_action_space, cfg).to(
            self.device
        )
        broadcast_parameters(self.agent, self.dist)
        # the per-step cell, optionally compiled (one graph for acting with noise, one for the peek)
        self.step_fn = (
            torch.compile(self.agent.step, dynamic=False) if cfg.compile else self.agent.step
        )
        # One noise stream for the global batch, sliced per rank: env i draws the same random
        # numbers whatever the number of processes.
        self.noise_gen = torch.Generator().manual_seed(cfg.seed)
        self.learner = Learner(self.agent, cfg, self.dist, self.device)
        self.env_steps = 0
        self.updates = 0
        self.resumed_from: int | None = None
        # called with the path after each checkpoint is written (the CLI's --overwrite uses it)
        self.on_checkpoint: Callable[[Path], None] | None = None
        self.progress = progress
        self.run_dir = Path(run_dir or cfg.run_dir or default_run_dir(cfg))
        self.cfg = cfg = dataclasses.replace(cfg, run_dir=str(self.run_dir))
        if self.dist.is_main:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                for stale in (self.run_dir / "checkpoints").glob(".*.tmp"):
                    stale.unlink()  # left by a process killed while writing a checkpoint
                if not os.access(self.run_dir, os.W_OK):
                    raise PermissionError(13, "not writable")
            except OSError as e:
                raise ConfigError(
                    f"--run-dir {str(self.run_dir)!r} cannot be written: {e.strerror or e}"
                ) from None
        self.loop = EnvLoop(
            self.env, self.agent, self.device, cfg.seed + self.dist.rank, cfg.desync == "cut"
        )
        self.episodes = self.loop.episodes
        self.state = self.agent.initial_state(self.local_envs, self.device)
        self.actor = Actor(
            self.agent,
            self.loop,
            self.step_fn,
            lambda: self._noise(),
            cfg.tau,
            cfg.gamma,
            self.dist if self.dist.enabled else None,
        )

    # the learner's optimisers and counters, under the names checkpoints and tools use
    opt_mbp = property(lambda self: self.learner.opt_mbp)
    opt_policy = property(lambda self: self.learner.opt_policy)
    skipped_updates = property(lambda self: self.learner.skipped_updates)
    nonfinite_streak = property(lambda self: self.learner.nonfinite_streak)

    def _noise(self) -> StepNoise:
        b, lo = self.cfg.num_envs, self.dist.rank * self.local_envs
        eps = torch.randn(b, self.agent.mbp.z_dim, generator=self.noise_gen)[
            lo : lo + self.local_envs
        ]
        u = torch.rand(b, generator=self.noise_gen)[lo : lo + self.local_envs]
        return StepNoise(eps=eps.to(self.device), uniform=u.to(self.device))

    # ------------------------------------------------------------------------ acting, learning
    def rollout(self) -> Segment:
        """Act for tau steps (acting.Actor), with the graph kept only for the single-graph update."""
        self.actor.loop = self.loop
        seg, self.state = self.actor.collect(self.state, keep_graph=self.learner.single_graph)
        self.env_steps += self.cfg.tau * self.cfg.num_envs
        return seg

    def losses(self, seg: Segment) -> tuple[Tensor, Tensor, dict[str, float]]:
        """MBP and policy loss of an acted segment (single-graph form; for checks and tools)."""
        return self.learner.acted_losses(seg)[:3]

    def update(self, seg: Segment) -> dict[str, float]:
        """All gradient steps for the segment (learner.Learner.update); then the recurrent state is
        cut from the graph (truncated BPTT: nothing flows across windows)."""
        try:
            logs = self.learner.update(seg, self.env_steps)
        except TrainingDiverged as e:
            latest = self.run_dir / "checkpoints" / "latest.pt"
            raise TrainingDiverged(
                f"{e}. The last good parameters are in {latest}"
                if latest.exists()
                else f"{e} before the first checkpoint"
            ) from None
        self.state = self.state.detach()
        self.updates += 1
        return logs

    # ------------------------------------------------------------------------------ checkpoints
    def _run_state(self) -> dict[str, Any] | None:
        """Environment, recurrent and memory state for an exact resume (single process only)."""
        if self.dist.enabled or not self.loop.can_save:
            return None
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        return {
            "loop": self.loop.get_state(),
            "agent": self.state.to_dict(),
            "return_G": self.actor.returns.G,
            "num_envs": self.local_envs,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": [kind, torch.as_tensor(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python_rng": random.getstate(),
        }

    def checkpoint(self, final: bool = False) -> Path:
        """Rank 0 writes ``checkpoints/step_<env steps>.pt`` atomically, points ``latest.pt`` (and
        ``final.pt``) at it and keeps the newest ``keep_checkpoints``; all ranks wait for it."""
        ckpt_dir = self.run_dir / "checkpoints"
        path = ckpt_dir / f"step_{self.env_steps:012d}.pt"
        barrier(self.dist)
        error = ""
        if self.dist.is_main:
            extra = {
                "noise_rng": self.noise_gen.get_state(),
                "run_state": self._run_state(),
                "skipped_updates": self.skipped_updates,
                "nonfinite_streak": self.nonfinite_streak,
            }
            previous = (ckpt_dir / "latest.pt").exists()
            try:
                save_checkpoint(
                    path,
                    self.cfg,
                    self.agent,
                    self.opt_mbp,
                    self.opt_policy,
                    self.env_steps,
                    self.updates,
                    extra,
                )
                link_atomic(path, ckpt_dir / "latest.pt")
                if final:
                    link_atomic(path, ckpt_dir / "final.pt")
                prune_checkpoints(ckpt_dir, self.cfg.keep_checkpoints)
            except (OSError, RuntimeError) as e:  # RuntimeError: torch's writer on a full disk
                if isinstance(e, RuntimeError):
                    e = OSError(first_line(e).split(": ", 1)[-1].split(". ")[0])
                error = f"writing checkpoint {str(path)!r} failed ({e.strerror or e}); " + (
                    "the previous checkpoint is intact"
                    if previous
                    else "no checkpoint has been written yet"
                )
        # every rank learns whether rank 0 succeeded (instead of waiting for it forever)
        if all_sum([float(bool(error))], self.dist, self.device)[0] > 0:
            raise CheckpointError(error or "rank 0 failed to write a checkpoint")
        if self.dist.is_main and self.on_checkpoint is not None:
            self.on_checkpoint(path)
        return path

    def load(self, path: str | os.PathLike) -> bool:
        """Continue from a checkpoint (written by any number of processes). Returns True when
        the run continues exactly (environments, recurrent state, memory and random streams
        restored: single process, built-in tasks); otherwise the environments start afresh."""
        ckpt = load_checkpoint(path, self.cfg)
        load_model_state(self.agent, ckpt["model"], path)
        try:
            self.opt_mbp.load_state_dict(ckpt["opt_mbp"])
            self.opt_policy.load_state_dict(ckpt["opt_policy"])
            exact = self._load_run_state(ckpt)
            self.learner.set_learning_rates(self.env_steps)  # the settings' rates, not the file's
            return exact
        except (EnvError, ConfigError):
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as e:
            raise CheckpointError(
                f"checkpoint {str(path)!r} has a damaged optimiser or run state: {first_line(e)}"
            ) from e

    def _load_run_state(self, ckpt: dict[str, Any]) -> bool:
        """Counters, and the exact run state where it applies (see ``load``)."""
        self.env_steps, self.updates = int(ckpt["env_steps"]), int(ckpt["updates"])
        self.learner.skipped_updates = int(ckpt.get("skipped_updates", 0))
        self.learner.nonfinite_streak = int(ckpt.get("nonfinite_streak", 0))
        self.resumed_from = self.env_steps
        run_state = ckpt.get("run_state")
        if (
            run_state is not None
            and not self.dist.enabled
            and self.loop.can_save
            and run_state["num_envs"] == self.local_envs
            and "noise_rng" in ckpt
        ):
            self.noise_gen.set_state(ckpt["noise_rng"])
            self.loop.set_state(run_state["loop"])
            if "return_G" in run_state:
                self.actor.returns.G = run_state["return_G"].to(self.device)
            self.state = AgentState.from_dict(
                {k: v.to(self.device) for k, v in run_state["agent"].items()}
            )
            torch.set_rng_state(run_state["torch_rng"])
            kind, keys, pos, has_gauss, gauss = run_state["numpy_rng"]
            np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
            random.setstate(run_state["python_rng"])
            return True
        # fresh environments with fresh random streams (not a replay of the run's first episodes)
        seed = (self.cfg.seed + 1_000_003 * self.updates) % 2**31
        self.noise_gen.manual_seed(seed)
        self.loop = EnvLoop(
            self.env, self.agent, self.device, seed + self.dist.rank, self.cfg.desync == "cut"
        )
        self.actor.returns.G.zero_()
        self.episodes = self.loop.episodes
        self.state = self.agent.initial_state(self.local_envs, self.device)
        return False

    # ------------------------------------------------------------------------------------- train
    def train(self) -> dict[str, float]:
        """Train until ``total_steps`` env steps; returns the last metrics row.

        Every rank trains; rank 0 alone shows progress and writes metrics, TensorBoard and
        checkpoints. Logged losses and episode statistics are reduced over ranks."""
        from tqdm import tqdm

        cfg, main = self.cfg, self.dist.is_main
        log = RunLog(self.run_dir, cfg, self.resumed_from) if main else None
        start_time, start_steps = time.time(), self.env_steps
        last_log, last_ckpt = self.env_steps, self.env_steps
        sums: dict[str, float] = {}
        n_sums = 0
        row: dict[str, float] = {}
        bar = tqdm(
            total=cfg.total_steps,
            initial=self.env_steps,
            disable=not (self.progress and main),
            unit="step",
            dynamic_ncols=True,
        )
        try:
            while self.env_steps < cfg.total_steps:
                seg = self.rollout()
                logs = self.update(seg)
                if log is not None and self.updates % cfg.tb_images_every == 0:
                    log.images(self.agent, seg, self.env_steps)
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                n_sums += 1
                elapsed = time.time() - start_time
                fps = (self.env_steps - start_steps) / max(elapsed, 1e-9)
                bar.update(cfg.tau * cfg.num_envs)
                bar.set_postfix(fps=f"{fps:.0f}", ret=f"{self.episodes.recent_return():.3f}")
                done = self.env_steps >= cfg.total_steps
                # log and checkpoint at multiples of their intervals (the same steps on resume)
                if self.env_steps // cfg.log_interval > last_log // cfg.log_interval or done:
                    keys = list(sums)
                    totals = all_sum(
                        [sums[k] for k in keys] + self.episodes.pop_since_log(),
                        self.dist,
                        self.device,
                    )
                    ret_sum, len_sum, n_eps = totals[-3:]
                    world = self.dist.world_size
                    row = {
                        "env_steps": self.env_steps,
                        "updates": self.updates,
                        "wall_time": round(elapsed, 3),
                        "episode_return": ret_sum / n_eps if n_eps else float("nan"),
                        "episode_length": len_sum / n_eps if n_eps else float("nan"),
                        "episodes": int(n_eps),
                        "fps": round(fps, 1),
                    }
                    row.update({k: v / (n_sums * world) for k, v in zip(keys, totals)})
                    sums, n_sums = {}, 0
                    if log is not None:
                        log.write(row)
                    last_log = self.env_steps
                if (
                    self.env_steps // cfg.checkpoint_interval > last_ckpt // cfg.checkpoint_interval
                    and not done
                ):
                    self.checkpoint()
                    last_ckpt = self.env_steps
            self.checkpoint(final=True)
            if log is not None:
                log.hparams(cfg, row)
        finally:
            bar.close()
            if log is not None:
                log.close()
            self.env.close()
        return row


class RunLog:
    """The run directory's config.json, metrics.csv (one row per log interval) and TensorBoard."""

    def __init__(self, run_dir: Path, cfg: Config, resumed_from: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(cfg.to_json())
        self.path = run_dir / "metrics.csv"
        purge = None
        self.wall_offset = 0.0  # a resumed run's wall_time continues from its last kept row
        if resumed_from is not None:  # drop what was logged after the checkpoint we resume from
            purge = resumed_from + 1
            if self.path.exists():
                with open(self.path, newline="") as f:
                    rows = list(csv.reader(f))
                keep = rows[:1] + [r for r in rows[1:] if r and int(float(r[0])) <= resumed_from]
                col = rows[0].index("wall_time") if rows and "wall_time" in rows[0] else None
                if col is not None and len(keep) > 1 and len(keep[-1]) > col:
                    self.wall_offset = float(keep[-1][col])
                tmp = self.path.with_suffix(".csv.tmp")
                with open(tmp, "w", newline="") as f:
                    csv.writer(f).writerows(keep)
                os.replace(tmp, self.path)
        self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=purge)
        self.file = None
        self.csv: csv.DictWriter | None = None

    def write(self, row: dict[str, float]) -> None:
        """Append ``row`` (its wall_time is shifted in place by a resumed run's offset)."""
        if self.wall_offset and "wall_time" in row:
            row["wall_time"] = round(row["wall_time"] + self.wall_offset, 3)
        if self.csv is None:
            names = list(row)
            new = not self.path.exists() or self.path.stat().st_size == 0
            if not new:  # a resumed run keeps the file's columns (an older version may log fewer)
                with open(self.path, newline="") as f:
                    names = next(csv.reader(f), None) or names
            self.file = open(self.path, "a", newline="")
            self.csv = csv.DictWriter(self.file, fieldnames=names, extrasaction="ignore")
            if new:
                self.csv.writeheader()
        self.csv.writerow(row)
        self.file.flush()
        step = int(row["env_steps"])
        for k, v in row.items():
            if k != "env_steps" and np.isfinite(v):
                self.writer.add_scalar(k if "/" in k else f"charts/{k}", v, step)
        self.writer.flush()

    @torch.no_grad()
    def images(self, agent: Agent, seg: Segment, step: int) -> None:
        """TensorBoard images of env 0: its last observed image beside the MBP's reconstruction,
        and the segment's read weights (time x memory row; mean of the MBP heads | policy)."""
        last = seg.outputs[-1]
        for name, m in agent.mbp.codec.items():
            if m.kind == "image" and agent.mbp.decoders:
                obs = last.obs[name][:1]
                rec = m.reconstruct(agent.mbp.decoder_input(last.z[:1], name))
                self.writer.add_image(f"reconstruction/{name}", torch.cat([obs, rec], -1)[0], step)
        if last.mbp_weights is not None:
            mbp = torch.stack([o.mbp_weights[0].mean(0) for o in seg.outputs]).cpu()  # (T, N)
            pol = torch.stack([o.policy_weights[0].mean(0) for o in seg.outputs]).cpu()
            gap = torch.zeros(mbp.shape[0], 1)
            self.writer.add_image(
                "memory/read_weights", torch.cat([mbp, gap, pol], 1), step, dataformats="HW"
            )

    def hparams(self, cfg: Config, row: dict[str, float]) -> None:
        """The resolved settings beside the final metrics (TensorBoard's HPARAMS tab)."""
        hp = {
            k: v
            for k, v in dataclasses.asdict(cfg).items()
            if isinstance(v, (int, float, str, bool))
        }
        final = {
            f"hparam/{k}": float(row[k])
            for k in ("episode_return", "fps")
            if k in row and np.isfinite(row[k])
        }
        self.writer.add_hparams(hp, final, run_name="hparams")

    def close(self) -> None:
        self.writer.close()
        if self.file is not None:
            self.file.close()


def default_run_dir(cfg: Config) -> str:
    env = cfg.env.split("/")[-1]
    return os.path.join("runs", f"{cfg.agent}_{env}_s{cfg.seed}_{time.strftime('%Y%m%d-%H%M%S')}")


@torch.no_grad()
def evaluate(
    agent: Agent,
    cfg: Config,
    episodes: int,
    greedy: bool = False,
    seed: int = 12345,
    device: torch.device | str = "cpu",
    max_steps: int = EVAL_MAX_STEPS,
) -> dict[str, Any]:
    """Run ``episodes`` full episodes (in parallel envs) and summarise their returns.

    Each env copy takes at most ``max_steps`` steps: an env whose episodes never end (no time
    limit) stops there. The episodes finished by then are summarised and ``stopped_at_max_steps``
    says so; if none finished, :class:`EnvError` says the env may never end."""
    b = min(episodes, cfg.num_envs)
    quota = -(-episodes // b)  # each env runs the same number of episodes: no bias to short ones
    loop = EnvLoop(make_vector_env(cfg.env, b, cfg.env_kwargs), agent, torch.device(device), seed)
    state = agent.initial_state(b, device)
    tracker = loop.episodes
    per_env: list[list[tuple[float, int]]] = [[] for _ in range(b)]
    steps = 0
    while steps < max_steps and min(len(x) for x in per_env) < quota:
        steps += 1
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state, sample=not greedy)
        r, done, _, valid = loop.step(out.action)
        state.prev_reward = (r * agent.reward_scale())[:, None]
        ended = (done & valid).nonzero().flatten().tolist()
        finished = tracker.pop_episodes()
        for i, ep in zip(ended, finished):
            per_env[i].append(ep)
    loop.env.close()
    episodes_run = [ep for x in per_env for ep in x[:quota]][:episodes]
    if not episodes_run:
        raise EnvError(
            f"eval: no episode of {cfg.env!r} ended within {max_steps:,} steps of each env copy; "
            "the env may never end (give it a time limit, or raise --max-steps)"
        )
    returns = [x for x, _ in episodes_run]
    lengths = [n for _, n in episodes_run]
    return {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "episodes": len(returns),
        "mean_length": float(np.mean(lengths)),
        "greedy": greedy,
        # True: fewer episodes than asked, and the long ones are missing from the mean
        "stopped_at_max_steps": len(returns) < episodes,
    }
