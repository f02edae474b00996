"""Acting (DESIGN.md §2): stepping the B environments with the agent for one segment of tau steps
and storing what the learner needs. The learner is in learner.py; train.py orchestrates both.

Under the replay learner the agent acts without autograd and the segment keeps the state at its
start, the episode starts, the noise and the actions, so that learner.replay can re-run it with
autograd. Under the single-graph update (K = 1, one minibatch) acting keeps the graph.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from merlin_rl.agent import Agent, AgentState, StepNoise, StepOutput
from merlin_rl.config import ConfigError
from merlin_rl.distributed import all_sum
from merlin_rl.encoders import (
    PIXEL_SCALE,
    auto_image_scale,
    integer_image_keys,
    integer_image_max,
)
from merlin_rl.envs import EnvError, check_observation, first_line


def autoreset_mode(env: gym.vector.VectorEnv) -> str:
    """'next' (Gymnasium's default) or 'same'; other modes are refused."""
    mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    mode = getattr(mode, "value", mode)
    if mode == gym.vector.AutoresetMode.NEXT_STEP.value:
        return "next"
    if mode == gym.vector.AutoresetMode.SAME_STEP.value:
        return "same"
    raise ConfigError(
        f"vector env autoreset mode {mode!r} is not supported; allowed: NextStep, SameStep"
    )


@dataclass
class Segment:
    """tau acted steps of B environments, time-major, with what the replay learner needs to re-run
    them: the state before the first step, the episode starts, the noise and the actions."""

    outputs: list[StepOutput]
    rewards: Tensor  # (T, B) r_t, divided by the reward scale (what the losses see)
    dones: Tensor  # (T, B) episode ended (terminated or truncated) at t
    terminals: Tensor  # (T, B) terminated at t
    valid: Tensor  # (T, B) 1 where the transition belongs to an episode (not an autoreset step)
    bootstrap: Tensor  # (B,) V of the observation after the segment
    start_state: AgentState  # (detached) recurrent state and memory before step 0's reset
    starts: Tensor  # (T, B) bool, an episode starts at t (the state is reset before step t)
    noise: list[StepNoise]  # eps of z and the uniforms of a, per step
    actions: Tensor  # (T, B) a_t
    log_probs: Tensor  # (T, B) log pi(a_t) when acting (PPO's old policy)
    # (B,) the policy's own V~ after the segment (--baseline policy), else None
    policy_bootstrap: Tensor | None = None

    @property
    def with_graph(self) -> bool:
        """Whether the acting pass kept its autograd graph (the single-graph A2C update)."""
        return self.outputs[0].z.requires_grad


class EpisodeTracker:
    """Returns and lengths of finished episodes, vectorised over environments."""

    def __init__(self, num_envs: int) -> None:
        self.ret = np.zeros(num_envs)
        self.len = np.zeros(num_envs, np.int64)
        self.recent: deque[tuple[float, int]] = deque(maxlen=100)
        self.since_log: list[tuple[float, int]] = []
        self.count = 0

    def update(
        self,
        rewards: np.ndarray,
        done: np.ndarray,
        valid: np.ndarray,
        unlogged: np.ndarray | None = None,
    ) -> None:
        """Add one step (B,); episodes that end where ``unlogged`` is set (cut short by
        ``--desync cut``) are dropped, not recorded."""
        self.ret += rewards * valid
        self.len += valid
        ended = done & valid
        if unlogged is not None and unlogged.any():
            self.ret[unlogged], self.len[unlogged] = 0.0, 0
            ended = ended & ~unlogged
        if ended.any():
            finished = list(zip(self.ret[ended].tolist(), self.len[ended].tolist()))
            self.recent.extend(finished)
            self.since_log.extend(finished)
            self.count += len(finished)
            self.ret[ended] = 0.0
            self.len[ended] = 0

    def recent_return(self) -> float:
        return float(np.mean([r for r, _ in self.recent])) if self.recent else float("nan")

    def pop_episodes(self) -> list[tuple[float, int]]:
        """(return, length) of the episodes finished since the last call, in env order."""
        eps, self.since_log = self.since_log, []
        return eps

    def pop_since_log(self) -> list[float]:
        """[sum of returns, sum of lengths, count] of the episodes finished since the last call."""
        eps, self.since_log = self.since_log, []
        return [float(sum(r for r, _ in eps)), float(sum(n for _, n in eps)), float(len(eps))]


def reset_env(env: gym.vector.VectorEnv, seed: int | None, options: dict | None = None) -> Any:
    """``env.reset(seed=seed, options=options)``'s observations, checked against the space
    (EnvError if not)."""
    try:
        obs, _ = env.reset(seed=seed, options=options)
    except (ValueError, TypeError) as e:  # e.g. observations that cannot be batched
        raise EnvError(
            f"env.reset() failed: {str(e).splitlines()[0] if str(e) else e!r}; "
            f"do its observations fit its space {env.single_observation_space}?"
        ) from e
    except Exception as e:  # noqa: BLE001 - the env's own error, in one line
        raise EnvError(f"env {_env_id(env)!r}: reset() raised {first_line(e)}") from e
    check_observation(env, obs, "env.reset()")
    return obs


def probe_image_scale(env: gym.vector.VectorEnv, seed: int) -> float:
    """``--image-scale 0`` (auto): the divisor of the integer image inputs, from the first
    observations of every environment after ``reset(seed=seed)`` (the same on every rank), by
    :func:`encoders.auto_image_scale`; 255 without integer images (nothing is reset then)."""
    space = env.single_observation_space
    if not integer_image_keys(space):
        return PIXEL_SCALE
    return auto_image_scale(integer_image_max(space, reset_env(env, seed)))


class EnvLoop:
    """Steps a vector env and keeps the autoreset bookkeeping (Gymnasium 1.x).

    Under ``NEXT_STEP`` autoreset, the call after an episode ends is a reset step: its action is
    ignored and its transition is marked invalid (it never enters the losses); the observation it
    returns starts a new episode. Under ``SAME_STEP`` the observation returned with ``done`` already
    starts the new episode; a truncation there is not bootstrapped (treated as a termination).

    ``desync`` (``--desync cut``): copies that start together stay in step on a task of fixed
    episode length, so every update sees one phase of the episode. Each copy's second episode is
    therefore cut (truncated, bootstrapped as usual) after k steps, k uniform in [1, L - 1] with L
    the length of the copy's first episode; the cut episode is not logged. The cut copy is reset
    alone (``reset(options={"reset_mask": ...})``), in place of the env's own autoreset.
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        agent: Agent,
        device: torch.device,
        seed: int,
        desync: bool = False,
    ) -> None:
        self.env, self.agent, self.device = env, agent, device
        self.mode = autoreset_mode(env)
        b = env.num_envs
        self.desync = desync
        # under desync every copy is reset through reset_mask, so an env that cannot reset copies
        # alone says so now rather than at the first cut
        options = {"reset_mask": np.ones(b, bool)} if desync else None
        try:
            obs = reset_env(env, seed, options)
        except EnvError as e:
            if desync:
                raise EnvError(f"{e} (--desync cut resets copies alone; use --desync off)") from e
            raise
        self.checked_step = False
        self.obs = agent.mbp.codec.to_tensors(obs, device)
        self.episode_start = torch.ones(b, dtype=torch.bool, device=device)
        self.pending_reset = np.zeros(b, bool)
        self.episodes = EpisodeTracker(b)
        # --desync cut: where in its second episode each copy is cut (a fraction of its first
        # episode's length), and when: -1 while the first episode runs, then the step, 0 if none
        self.cut_u = np.random.default_rng([seed, 0xD5]).random(b)
        self.cut_at = np.full(b, -1 if desync else 0, np.int64)
        self.cutting = np.zeros(b, bool)  # NEXT_STEP: cut on the last call, reset on this one

    @property
    def can_save(self) -> bool:
        """Whether the environments can save and restore their state (built-in tasks can)."""
        return hasattr(self.env, "get_state") and hasattr(self.env, "set_state")

    def get_state(self) -> dict[str, Any]:
        """Environment and bookkeeping state for an exact resume (tensors and plain values)."""
        t = self.episodes
        env_state = {
            k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v
            for k, v in self.env.get_state().items()
        }
        return {
            "env": env_state,
            "obs": self.obs,
            "episode_start": self.episode_start,
            "pending_reset": torch.as_tensor(self.pending_reset),
            "ret": torch.as_tensor(t.ret),
            "len": torch.as_tensor(t.len),
            "recent": list(t.recent),
            "count": t.count,
            "cut_u": torch.as_tensor(self.cut_u),
            "cut_at": torch.as_tensor(self.cut_at),
            "cutting": torch.as_tensor(self.cutting),
        }

    def set_state(self, s: dict[str, Any]) -> None:
        self.env.set_state(
            {k: v.numpy() if isinstance(v, Tensor) else v for k, v in s["env"].items()}
        )
        self.obs = {k: v.to(self.device) for k, v in s["obs"].items()}
        self.episode_start = s["episode_start"].to(self.device)
        self.pending_reset = s["pending_reset"].numpy().copy()
        t = self.episodes
        t.ret, t.len = s["ret"].numpy().copy(), s["len"].numpy().copy()
        t.recent.clear()
        t.recent.extend(tuple(x) for x in s["recent"])
        t.count = int(s["count"])
        if "cut_at" in s:  # checkpoints before --desync: no cut to come
            self.cut_u = s["cut_u"].numpy().copy()
            self.cut_at = s["cut_at"].numpy().copy()
            self.cutting = s["cutting"].numpy().copy()
        else:
            self.cut_at = np.zeros_like(self.cut_at)
            self.cutting = np.zeros_like(self.cutting)

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Apply actions; returns (rewards, dones, terminals, valid) as tensors (B,)."""
        valid = ~self.pending_reset
        try:
            obs, r, term, trunc, _ = self.env.step(self.agent.env_action(action))
        except Exception as e:  # noqa: BLE001 - the env's own error, in one line
            raise EnvError(f"env {_env_id(self.env)!r}: step() raised {first_line(e)}") from e
        if not self.checked_step:  # once: a wrong space would otherwise fail deep in a module
            check_observation(self.env, obs, "env.step()")
            self.checked_step = True
        r = np.asarray(r, np.float32)
        term, trunc = np.asarray(term, bool), np.asarray(trunc, bool)
        obs = self.agent.mbp.codec.to_tensors(obs, self.device)
        if self.cutting.any():  # cut on the last call: this was their reset step, made one here
            obs = self._reset_copies(self.cutting, obs)
            r, term, trunc = (
                np.where(self.cutting, 0, x).astype(x.dtype) for x in (r, term, trunc)
            )
            self.cutting = np.zeros_like(self.cutting)
        done = term | trunc
        cut = self._cuts(done, valid) if self.desync else np.zeros_like(done)
        done = done | cut  # a cut is a truncation: term stays False (bootstrapped under NEXT_STEP)
        self.episodes.update(r, done, valid, cut)
        if self.mode == "next":
            start = self.pending_reset
            self.pending_reset = done & valid
            self.cutting = cut
        else:
            start = done
            # the value of the final observation is not computed under SAME_STEP, so a time-limit
            # truncation is treated as a termination (no bootstrap)
            term = done
            if cut.any():
                obs = self._reset_copies(cut, obs)
        self.obs = obs
        self.episode_start = torch.as_tensor(start, device=self.device)
        as_t = lambda x: torch.as_tensor(x, device=self.device)  # noqa: E731
        return as_t(r), as_t(done), as_t(term), as_t(valid)

    def _cuts(self, done: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """--desync cut: the copies (B,) whose second episode is cut at this step; draws the
        cut of the copies whose first episode ends here."""
        n = self.episodes.len + valid  # steps of each copy's episode, this one included
        live = (self.cut_at > 0) & valid
        cut = live & ~done & (n >= self.cut_at)
        self.cut_at[cut | (live & done)] = 0  # the second episode is cut, or ended first
        first = (self.cut_at < 0) & done & valid
        if first.any():
            length = n[first]
            k = 1 + np.floor(self.cut_u[first] * (length - 1)).astype(np.int64)
            self.cut_at[first] = np.where(length > 1, k, 0)
        return cut

    def _reset_copies(self, mask: np.ndarray, obs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Reset the copies in ``mask`` (B,) alone; ``obs`` with their first observations."""
        fresh = self.agent.mbp.codec.to_tensors(
            reset_env(self.env, None, {"reset_mask": mask.copy()}), self.device
        )
        m = torch.as_tensor(mask, device=self.device)
        return {
            k: torch.where(m.view(-1, *[1] * (v.dim() - 1)), fresh[k], v) for k, v in obs.items()
        }


def _env_id(env: gym.vector.VectorEnv) -> str:
    return str(getattr(getattr(env, "spec", None), "id", None) or type(env).__name__)


class ReturnTracker:
    """Discounted returns G_t = gamma G_{t-1} + r_t per environment (reset after an episode ends),
    counted over valid steps: their second moment sets the agent's reward scale."""

    def __init__(self, num_envs: int, gamma: float, device: torch.device) -> None:
        self.gamma = gamma
        self.G = torch.zeros(num_envs, dtype=torch.float64, device=device)

    def step(self, rewards: Tensor, done: Tensor, valid: Tensor) -> tuple[float, float]:
        """Advance G by one step of raw rewards (B,); returns (sum of G^2, count) over valid envs."""
        v = valid.to(torch.float64)
        self.G = self.G * self.gamma + rewards.to(torch.float64) * v
        moments = (float((self.G.square() * v).sum()), float(v.sum()))
        self.G = torch.where(done & valid, torch.zeros_like(self.G), self.G)
        return moments


class Actor:
    """Runs segments of ``tau`` steps: the acting half of the training loop."""

    def __init__(
        self,
        agent: Agent,
        loop: "EnvLoop",
        step_fn: Callable[..., Any],
        noise_fn: Callable[[], StepNoise],
        tau: int,
        gamma: float,
        dist: Any = None,
    ) -> None:
        self.agent, self.loop, self.step_fn, self.noise_fn = agent, loop, step_fn, noise_fn
        self.tau, self.dist = tau, dist  # dist: under torchrun the return moments sum over ranks
        self.returns = ReturnTracker(loop.env.num_envs, gamma, loop.device)

    def collect(self, state: AgentState, keep_graph: bool) -> tuple[Segment, AgentState]:
        """Act for tau steps from ``state``; returns the segment and the state after it.

        ``keep_graph``: keep autograd's graph (single-graph update); else act under no_grad.
        Each step's reward first updates the return moments (summed over ranks), then is divided
        by the reward scale they give, for the agent's input r_{t-1} and for the losses: scaling
        the task's rewards by c changes nothing the agent sees."""
        loop, agent = self.loop, self.agent
        start_state = state.detach()
        outs, rewards, dones, terms, valids, starts, noises = ([] for _ in range(7))
        with torch.set_grad_enabled(keep_graph and torch.is_grad_enabled()):
            for _ in range(self.tau):
                starts.append(loop.episode_start)
                state = state.reset(loop.episode_start)
                noise = self.noise_fn()
                out, state = self.step_fn(loop.obs, state, noise=noise)
                r, done, term, valid = loop.step(out.action)
                scaled = r * self._update_scale(r, done, valid)
                state.prev_reward = scaled[:, None]
                outs.append(out)
                noises.append(noise)
                for xs, x in (
                    (rewards, scaled),
                    (dones, done),
                    (terms, term),
                    (valids, valid),
                ):
                    xs.append(x)
        with torch.no_grad():  # V of the next observation, without advancing the state
            peek_state = state.reset(loop.episode_start)
            peek = self.step_fn(loop.obs, peek_state, sample=False)[0]
            bootstrap = agent.values([peek])[0]  # z = mu_q (sample=False)
            policy_bootstrap = peek.policy_value  # V~ (B,); Q~ (B, A) is not a bootstrap
            if policy_bootstrap is not None and policy_bootstrap.dim() > 1:
                policy_bootstrap = None
        seg = Segment(
            outputs=outs,
            rewards=torch.stack(rewards),
            dones=torch.stack(dones),
            terminals=torch.stack(terms),
            valid=torch.stack(valids).float(),
            bootstrap=bootstrap,
            start_state=start_state,
            starts=torch.stack(starts),
            noise=noises,
            actions=torch.stack([o.action for o in outs]),
            log_probs=torch.stack([o.log_prob for o in outs]).detach(),
            policy_bootstrap=policy_bootstrap,
        )
        return seg, state

    def _update_scale(self, rewards: Tensor, done: Tensor, valid: Tensor) -> float:
        """Add one step's return moments (summed over ranks) to the agent's; the new scale."""
        sq, n = self.returns.step(rewards, done, valid)
        if self.dist is not None:
            sq, n = all_sum([sq, n], self.dist, self.loop.device)
        self.agent.return_sq_sum += sq
        self.agent.return_count += n
        return self.agent.reward_scale()
