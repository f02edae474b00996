"""Shared machinery of the built-in tasks.

Every built-in task is one :class:`TaskCore` subclass: the game state of B copies held as NumPy
arrays (first axis = copy) and stepped all at once. Two Gymnasium faces wrap the same core:

* :class:`TaskEnv` (``gym.make``): a core with B = 1;
* :class:`TaskVectorEnv` (``gym.make_vec``, what training uses): a core with B copies, autoreset
  mode ``NEXT_STEP`` like Gymnasium's own vector envs.

Randomness comes from :class:`BatchRNG`, one counter-based stream per copy, so copy ``i`` of a
batched env seeded with ``s`` draws exactly the numbers that a single env seeded with ``s + i``
draws (Gymnasium's convention for vector seeds), whatever the other copies do. Batched and single
envs therefore give identical trajectories for the same seeds and actions.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SEED_SALT = np.uint64(0x5851F42D4C957F2D)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele et al. 2014), elementwise on a uint64 array."""
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


class BatchRNG:
    """B independent random streams drawn together, one per copy.

    Stream ``i`` is SplitMix64 over ``key_i + n * golden`` for n = 0, 1, 2, ...: draw number n of
    copy i depends only on that copy's seed and on how many numbers it has drawn before, never on
    the other copies. Draws take a ``mask``: only the copies in it consume numbers (the values
    returned for the others are not to be used)."""

    def __init__(self, num_envs: int) -> None:
        self.num_envs = num_envs
        self.key = np.zeros(num_envs, np.uint64)
        self.counter = np.zeros(num_envs, np.uint64)

    def seed(self, seeds: np.ndarray, mask: np.ndarray | None = None) -> None:
        """Start the streams of the copies in ``mask`` (all if None) from integer seeds [B]."""
        s = np.asarray(seeds)
        s = s if s.dtype == np.uint64 else s.astype(np.int64).view(np.uint64)
        key = splitmix64(s ^ _SEED_SALT)
        if mask is None:
            self.key, self.counter = key.copy(), np.zeros(self.num_envs, np.uint64)
        else:
            self.key[mask], self.counter[mask] = key[mask], np.uint64(0)

    def random(self, shape: tuple[int, ...] = (), mask: np.ndarray | None = None) -> np.ndarray:
        """Uniform floats in [0, 1), shape [B, *shape]; each copy in ``mask`` consumes prod(shape)."""
        k = int(np.prod(shape, dtype=np.int64))
        n = self.counter[:, None] + np.arange(k, dtype=np.uint64)
        x = splitmix64(self.key[:, None] + n * _GOLDEN)
        if mask is None:
            self.counter += np.uint64(k)
        else:
            self.counter[mask] += np.uint64(k)
        return ((x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)).reshape(
            (self.num_envs, *shape)
        )

    def integers(
        self, high: int | np.ndarray, shape: tuple[int, ...] = (), mask: np.ndarray | None = None
    ) -> np.ndarray:
        """Integers in [0, high), shape [B, *shape]; ``high`` may be an array broadcast to it
        (e.g. [B, 1] for a per-copy bound)."""
        u = self.random(shape, mask)
        high = np.asarray(high)
        return np.minimum((u * high).astype(np.int64), np.maximum(high - 1, 0))

    def permutation(self, n: int, mask: np.ndarray | None = None) -> np.ndarray:
        """A random permutation of range(n) per copy, shape [B, n]."""
        return np.argsort(self.random((n,), mask), axis=1, kind="stable")

    def get_state(self) -> dict[str, np.ndarray]:
        return {
            "rng_key": self.key.view(np.int64).copy(),
            "rng_counter": self.counter.view(np.int64).copy(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.key = np.asarray(state["rng_key"], np.int64).copy().view(np.uint64)
        self.counter = np.asarray(state["rng_counter"], np.int64).copy().view(np.uint64)


def check_int(task: str, name: str, value: Any, low: int, high: int | None = None) -> int:
    """Validate an integer difficulty knob; ValueError names the task, the knob and the range."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{task}: {name} must be {allowed}, got {value!r}")
    return int(value)


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of an (H, W, C) image by an integer factor (for render)."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


_ESTIMATING: list[bool] = [False]
_RANDOM_RETURNS: dict[tuple, float] = {}


def estimate_return(
    core_cls: type["TaskCore"],
    knobs: dict[str, Any],
    policy=None,
    episodes: int = 1024,
    seed: int = 0,
    max_steps: int = 100_000,
) -> float:
    """Mean return over the first episode of ``episodes`` copies of ``core_cls(**knobs)`` under
    ``policy(core) -> actions`` (None: uniformly random actions; that result is cached per
    knobs). A task's ``random_return`` for knobs other than the documented defaults, and how the
    documented numbers are measured. While it runs, :func:`estimating` is True, so the core it
    builds does not estimate again."""
    key = (core_cls, tuple(sorted(knobs.items())), episodes, seed)
    if policy is None and key in _RANDOM_RETURNS:
        return _RANDOM_RETURNS[key]
    _ESTIMATING[0] = True
    try:
        core = core_cls(episodes, **knobs)
    finally:
        _ESTIMATING[0] = False
    core.rng.seed(seed * episodes + np.arange(episodes))
    alive = np.ones(episodes, bool)
    core.reset(alive.copy())
    rng = np.random.default_rng(seed)
    total = np.zeros(episodes)
    for _ in range(max_steps):
        acts = rng.integers(core.action_space.n, size=episodes) if policy is None else policy(core)
        reward, term, trunc = core.step(acts, alive)
        total += np.where(alive, reward, 0.0)
        alive &= ~(term | trunc)
        if not alive.any():
            break
    if policy is None:
        _RANDOM_RETURNS[key] = float(total.mean())
    return float(total.mean())


def estimating() -> bool:
    """True while :func:`estimate_return` builds its core."""
    return _ESTIMATING[0]


class TaskCore:
    """Game state of B copies of one task; subclasses implement the game.

    Subclasses set ``name``, ``observation_space`` (single copy, a ``Dict``), ``action_space``
    (``Discrete``), ``max_return``, ``random_return``, ``episode_length`` (an int: the most steps
    an episode can take with the knobs in use, its exact length where episodes never end early)
    and ``state_keys`` (the array attributes that hold all the game state, for exact
    checkpoint/resume), and implement :meth:`reset`, :meth:`step`, :meth:`observation`,
    :meth:`render` and :meth:`oracle`. They draw randomness
    only from ``self.rng`` with the mask of the copies concerned, and never loop over copies."""

    name: ClassVar[str] = "task"
    state_keys: ClassVar[tuple[str, ...]] = ()
    observation_space: spaces.Dict
    action_space: spaces.Discrete
    max_return: float
    random_return: float
    episode_length: int

    def __init__(self, num_envs: int) -> None:
        self.num_envs = check_int(self.name, "num_envs", num_envs, 1)
        self.rng = BatchRNG(self.num_envs)

    def reset(self, mask: np.ndarray) -> None:
        """Start a new episode in the copies in ``mask`` (bool [B])."""
        raise NotImplementedError

    def step(
        self, actions: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply ``actions`` (int [B]) to the copies in ``mask``; returns reward float32 [B],
        terminated and truncated bool [B] (all zero outside ``mask``)."""
        raise NotImplementedError

    def observation(self) -> dict[str, np.ndarray]:
        """The current observation of every copy, each entry with a leading B axis."""
        raise NotImplementedError

    def render(self, index: int = 0) -> np.ndarray:
        """An RGB uint8 picture of copy ``index`` (for people: may show what the agent cannot)."""
        raise NotImplementedError

    def oracle(self) -> np.ndarray:
        """A scripted policy with access to the hidden state: actions int [B] that reach the
        documented maximum return (used by the tests and for the pictures in docs/tasks.md)."""
        raise NotImplementedError

    def get_state(self) -> dict[str, np.ndarray]:
        state = {k: np.array(getattr(self, k), copy=True) for k in self.state_keys}
        return {**state, **self.rng.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        for k in self.state_keys:
            old = getattr(self, k)
            setattr(self, k, np.asarray(state[k], dtype=old.dtype).copy())
        self.rng.set_state(state)


class TaskEnv(gym.Env):
    """One copy of a built-in task (``gym.make``); ``core_cls`` names the task's core."""

    core_cls: ClassVar[type[TaskCore]]
    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"{self.core_cls.name}: render_mode must be None or 'rgb_array', "
                f"got {render_mode!r}"
            )
        self.core = self.core_cls(1, **knobs)
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self.render_mode = render_mode
        self.max_return, self.random_return = self.core.max_return, self.core.random_return
        self.episode_length = int(self.core.episode_length)  # the most steps of an episode
        self._all = np.ones(1, bool)
        self._seeded = False

    def _obs(self) -> dict[str, np.ndarray]:
        return {k: v[0] for k, v in self.core.observation().items()}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.core.rng.seed(np.array([int(seed) % 2**64], np.uint64))
        elif not self._seeded:
            self.core.rng.seed(self.np_random.integers(2**62, size=1))
        self._seeded = True
        self.core.reset(self._all)
        return self._obs(), {}

    def step(self, action: Any):
        if not self.action_space.contains(action):
            raise ValueError(f"{self.core.name}: action {action!r} is not in {self.action_space}")
        reward, term, trunc = self.core.step(np.array([action], np.int64), self._all)
        return self._obs(), float(reward[0]), bool(term[0]), bool(trunc[0]), {}

    def render(self) -> np.ndarray:
        return self.core.render(0)

    def get_state(self) -> dict[str, np.ndarray]:
        return self.core.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.core.set_state(state)
        self._seeded = True


class TaskVectorEnv(VectorEnv):
    """B copies of a built-in task stepped together in NumPy (autoreset mode ``NEXT_STEP``)."""

    core_cls: ClassVar[type[TaskCore]]
    metadata = {
        "render_modes": ["rgb_array"],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_fps": 8,
    }

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **knobs: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(
                f"{self.core_cls.name}: render_mode must be None or 'rgb_array', "
                f"got {render_mode!r}"
            )
        self.core = self.core_cls(num_envs, **knobs)
        self.num_envs = self.core.num_envs
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = render_mode
        self.max_return, self.random_return = self.core.max_return, self.core.random_return
        self.episode_length = int(self.core.episode_length)  # the most steps of an episode
        self._autoreset = np.zeros(self.num_envs, bool)
        self._all = np.ones(self.num_envs, bool)
        self._seeded = False

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """Reset every copy, or with ``options={"reset_mask": bool [B]}`` only those (Gymnasium
        1.x). ``seed``: an int s seeds copy i with s + i; a list gives one seed (or None:
        random) per copy; None keeps the streams going (random ones on the first reset)."""
        mask = self._all
        if options:
            unknown = set(options) - {"reset_mask"}
            if unknown:
                raise ValueError(
                    f"{self.core.name}: unknown reset options {sorted(unknown)}; "
                    f"supported: 'reset_mask'"
                )
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_:
                raise ValueError(
                    f"{self.core.name}: reset_mask must be a bool array of shape "
                    f"({self.num_envs},), got {mask.dtype} {mask.shape}"
                )
        seeds = self._seeds(seed)
        if seeds is not None:
            self.core.rng.seed(seeds, mask)
        self._seeded = True
        self.core.reset(mask)
        self._autoreset[mask] = False
        return self.core.observation(), {}

    def _seeds(self, seed: int | list[int | None] | None) -> np.ndarray | None:
        """Per-copy seeds as uint64 [B] (None: keep the current streams)."""
        b = self.num_envs
        if seed is None:
            if self._seeded:
                return None
            seed = [None] * b
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seed = [int(seed) + i for i in range(b)]
        seed = list(seed)
        if len(seed) != b:
            raise ValueError(
                f"{self.core.name}: reset(seed=...) takes an int or a list of {b} "
                f"seeds, got {len(seed)}"
            )
        fresh = np.random.SeedSequence().generate_state(b, np.uint64)
        out = np.empty(b, np.uint64)
        for i, s in enumerate(seed):  # b Python ints at reset(seed=...) only, never per step
            if s is None:
                out[i] = fresh[i]
            elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0:
                out[i] = int(s) % 2**64
            else:
                raise ValueError(
                    f"{self.core.name}: seeds must be integers >= 0 or None, got {s!r}"
                )
        return out

    def step(self, actions: Any):
        actions = np.asarray(actions).reshape(self.num_envs).astype(np.int64)
        n = self.single_action_space.n
        if ((actions < 0) | (actions >= n)).any():
            raise ValueError(f"{self.core.name}: actions must be in [0, {n}), got {actions}")
        resetting = self._autoreset
        reward, term, trunc = self.core.step(actions, ~resetting)
        if resetting.any():
            self.core.reset(resetting)
            reward, term, trunc = (
                np.where(resetting, 0, x).astype(x.dtype) for x in (reward, term, trunc)
            )
        self._autoreset = term | trunc
        return self.core.observation(), reward, term, trunc, {}

    def render(self) -> np.ndarray:
        return self.core.render(0)

    def get_state(self) -> dict[str, np.ndarray]:
        """Everything needed to continue exactly (for checkpoints): game arrays and RNG."""
        return {**self.core.get_state(), "autoreset": self._autoreset.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.core.set_state(state)
        self._autoreset = np.asarray(state["autoreset"], bool).copy()
        self._seeded = True
