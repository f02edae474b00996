"""Built-in tasks (registered under ``merlin_rl/``) and the vector-env factory used by training."""

from __future__ import annotations

import importlib
from typing import Any

import gymnasium as gym
import numpy as np

from merlin_rl.encoders import UnsupportedSpaceError

BUILTIN_PREFIX = "merlin_rl/"
RESERVED_KWARGS = {"num_envs", "vectorization_mode", "vector_kwargs", "wrappers", "id"}


class EnvError(ValueError):
    """The environment cannot be made or used; the message says why."""


# id suffix -> (module, class-name stem); each module defines <Stem>Env and <Stem>VectorEnv.
TASKS: dict[str, tuple[str, str]] = {
    "ColourMatch-v0": ("colour_match", "ColourMatch"),
    "MemoryGame-v0": ("memory_game", "MemoryGame"),
    "WaterMaze-v0": ("water_maze", "WaterMaze"),
    "VisuomotorMapping-v0": ("visuomotor_mapping", "VisuomotorMapping"),
    "KeyToDoor-v0": ("key_to_door", "KeyToDoor"),
    "ActiveVisualMatch-v0": ("active_visual_match", "ActiveVisualMatch"),
    "InstructedGoal-v0": ("instructed_goal", "InstructedGoal"),
    "RepeatSymbol-v0": ("repeat_symbol", "RepeatSymbol"),
}


def builtin_ids() -> list[str]:
    """The ids of the built-in tasks, in the order of the docs."""
    return [BUILTIN_PREFIX + k for k in TASKS]


def register_builtin() -> None:
    """Register every built-in task (single and batched entry points) with Gymnasium."""
    for suffix, (module, stem) in TASKS.items():
        env_id = BUILTIN_PREFIX + suffix
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=f"merlin_rl.envs.{module}:{stem}Env",
                vector_entry_point=f"merlin_rl.envs.{module}:{stem}VectorEnv",
            )


register_builtin()


def first_line(e: BaseException) -> str:
    """``Type: first line of the message`` of an exception, for one-line errors."""
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def import_env_modules(modules: str) -> None:
    """Import the comma-separated modules that register third-party environments (only ever
    called with the user's own ``--env-import``, never with a value read from a file)."""
    for name in filter(None, (m.strip() for m in modules.split(","))):
        try:
            importlib.import_module(name)
        except KeyboardInterrupt:
            raise
        except ImportError as e:
            raise EnvError(f"--env-import {name!r} cannot be imported: {e}") from e
        except BaseException as e:  # noqa: BLE001 - SyntaxError, SystemExit, errors it raises
            raise EnvError(
                f"--env-import {name!r} failed while being imported: {first_line(e)}"
            ) from e


def make_vector_env(
    env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None, async_envs: bool = False
) -> gym.vector.VectorEnv:
    """Make B copies of ``env_id``: the batched NumPy implementation for built-in tasks,
    Gymnasium's ``SyncVectorEnv`` for anything else, or with ``async_envs`` one subprocess per copy
    (Gymnasium's ``AsyncVectorEnv``, for slow external environments). Checks that the action
    space is Discrete; a 1-D MultiDiscrete one is offered as its joint actions
    (:class:`JointActions`)."""
    if ":" in env_id:  # Gymnasium would import the module named before the colon
        raise EnvError(
            f"env id {env_id!r}: the 'module:id' form is not accepted (it imports "
            "code); use --env-import MODULE and the plain id"
        )
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as e:
        builtin = sorted(k for k in gym.registry if k.startswith(BUILTIN_PREFIX))
        raise EnvError(
            f"unknown env id {env_id!r} ({e.__class__.__name__}); built-in tasks: "
            f"{', '.join(builtin)}; or any registered Gymnasium id"
        ) from None
    kwargs = dict(env_kwargs or {})
    reserved = sorted(RESERVED_KWARGS & set(kwargs))
    if reserved:  # gym.make_vec's own arguments, not the env's
        raise EnvError(
            f"--env-kwargs may not set {reserved} (arguments of the vector env "
            "factory, not of the env)"
        )
    if async_envs:
        mode = "async"
    else:
        mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
    try:
        env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        raise EnvError(f"env {env_id!r} needs a package that is not installed: {e}") from None
    except (TypeError, ValueError) as e:  # bad keyword arguments for the task
        raise EnvError(f"env {env_id!r} rejected its arguments {kwargs}: {e}") from e
    except Exception as e:  # noqa: BLE001 - a third-party constructor that fails
        raise EnvError(f"env {env_id!r} could not be created: {first_line(e)}") from e
    act = env.single_action_space
    if _flattenable(act):
        return JointActions(env)
    if not isinstance(act, gym.spaces.Discrete):
        env.close()
        raise UnsupportedSpaceError(
            f"env {env_id!r} has action space {act}; supported: Discrete (categorical policy), "
            f"or a 1-D MultiDiscrete of at most {MAX_JOINT_ACTIONS} joint actions"
        )
    return env


MAX_JOINT_ACTIONS = 4096  # a MultiDiscrete action space is flattened up to this many actions


def _flattenable(space: gym.Space) -> bool:
    return (
        isinstance(space, gym.spaces.MultiDiscrete)
        and space.nvec.ndim == 1
        and 0 < int(np.prod(space.nvec.astype(np.float64))) <= MAX_JOINT_ACTIONS
    )


class JointActions(gym.vector.VectorActionWrapper):
    """A 1-D ``MultiDiscrete`` action space (nvec (D,)) as one ``Discrete`` of prod(nvec) joint
    actions, so the categorical policy covers it (POPGym-style games): joint action k is the
    multi-index ``np.unravel_index(k, nvec)`` (row-major, the last entry fastest) plus the
    space's ``start``, for the whole batch (B,) -> (B, D) at once."""

    def __init__(self, env: gym.vector.VectorEnv) -> None:
        super().__init__(env)
        inner = env.single_action_space
        self.nvec = inner.nvec.astype(np.int64)
        self.start = np.asarray(inner.start, np.int64)
        self.dtype = inner.dtype
        self.single_action_space = gym.spaces.Discrete(int(np.prod(self.nvec)))
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, env.num_envs)

    def actions(self, actions: Any) -> np.ndarray:
        """Joint actions (B,) -> the env's multi-indices (B, D)."""
        index = np.unravel_index(np.asarray(actions, np.int64), tuple(self.nvec))
        return (np.stack(index, -1) + self.start).astype(self.dtype)

    # Gymnasium's VectorWrapper does not pass these on (the episode-length lookup of an
    # AsyncVectorEnv asks its workers through get_attr)
    def get_attr(self, name: str) -> tuple[Any, ...]:
        return self.env.get_attr(name)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        return self.env.call(name, *args, **kwargs)

    def set_attr(self, name: str, values: Any) -> None:
        self.env.set_attr(name, values)


def action_layout(env: gym.vector.VectorEnv) -> gym.Space:
    """The env's own action space per copy (a MultiDiscrete one before :class:`JointActions`):
    two envs whose policies' actions mean the same have equal layouts."""
    return env.env.single_action_space if isinstance(env, JointActions) else env.single_action_space


def _positive_int(value: Any) -> int | None:
    """``value`` as an int if it is a positive integer (not a bool), else None."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    return None


def _sub_envs(env: gym.Env | gym.vector.VectorEnv) -> list[Any]:
    """The single envs of a ``SyncVectorEnv`` (wrappers included), else []."""
    envs = getattr(env.unwrapped, "envs", None) if isinstance(env, gym.vector.VectorEnv) else None
    return list(envs) if isinstance(envs, (list, tuple)) else []


def _time_limit(env: Any) -> int | None:
    """The ``max_episode_steps`` of the outermost TimeLimit wrapper around ``env``, if any."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return _positive_int(getattr(env, "_max_episode_steps", None))
        env = env.env
    return None


def _spec_limit(spec: Any) -> int | None:
    """The episode-step limit a Gymnasium ``EnvSpec`` gives: ``max_episode_steps`` passed to
    ``make``/``make_vec`` (kept in ``spec.kwargs``) over the registered one."""
    if spec is None:
        return None
    kwargs = getattr(spec, "kwargs", None) or {}
    passed = _positive_int(kwargs.get("max_episode_steps"))  # None there: the registered one
    return passed if passed is not None else _positive_int(getattr(spec, "max_episode_steps", None))


def _minigrid_steps(env: gym.Env | gym.vector.VectorEnv, spec: Any) -> int | None:
    """MiniGrid truncates inside the env at its ``max_steps`` (no TimeLimit, no spec limit)."""
    entry = str(getattr(spec, "entry_point", "") or "")
    if not entry.startswith("minigrid"):
        return None
    subs = _sub_envs(env)
    if subs:
        return _positive_int(getattr(subs[0].unwrapped, "max_steps", None))
    if isinstance(env, gym.vector.VectorEnv):  # e.g. AsyncVectorEnv: ask a worker
        return _positive_int(env.get_attr("max_steps")[0])
    return _positive_int(getattr(env.unwrapped, "max_steps", None))


def _builtin_length(env: gym.Env | gym.vector.VectorEnv, env_id: str) -> int | None:
    """The episode length a built-in task's core declares, wherever the core lives."""
    from merlin_rl.envs.base import TaskEnv, TaskVectorEnv

    inner = env.unwrapped
    if isinstance(inner, (TaskEnv, TaskVectorEnv)):
        return _positive_int(inner.episode_length)
    subs = _sub_envs(env)
    if subs:
        single = subs[0].unwrapped
        return _positive_int(single.episode_length) if isinstance(single, TaskEnv) else None
    if isinstance(env, gym.vector.VectorEnv) and env_id.startswith(BUILTIN_PREFIX):
        return _positive_int(env.get_attr("episode_length")[0])  # AsyncVectorEnv
    return None


def declared_episode_length(env: gym.vector.VectorEnv | gym.Env, env_id: str) -> int | None:
    """The most steps an episode of ``env`` (made from ``env_id``) can take, as declared:

    * a built-in task: its core's ``episode_length`` for the knobs in use (the exact length for
      tasks whose episodes never end early);
    * otherwise the step limit of its Gymnasium spec (``max_episode_steps``, as passed to
      ``make_vec`` or as registered; also a TimeLimit wrapper around a ``SyncVectorEnv``'s
      envs), then the ``max_steps`` of a MiniGrid env (MiniGrid truncates inside the env);
    * else None (nothing declares a length; the env may run for ever).

    A built-in task made with a shorter step limit gives the smaller of the two. Never raises:
    whatever cannot be read counts as not declared."""
    lengths: list[int] = []
    try:
        spec = getattr(env.unwrapped, "spec", None) or getattr(env, "spec", None)
    except Exception:  # noqa: BLE001 -- a foreign env's attribute access may fail in any way
        spec = None
    if spec is None:
        try:
            spec = gym.spec(env_id)
        except Exception:  # noqa: BLE001 -- unknown id, or a bad one
            spec = None
    for source in (
        lambda: _builtin_length(env, env_id),
        lambda: _spec_limit(spec),
        lambda: _time_limit(env) if isinstance(env, gym.Env) else None,
        lambda: min(filter(None, map(_time_limit, _sub_envs(env))), default=None),
    ):
        try:
            value = source()
        except Exception:  # noqa: BLE001
            value = None
        if value is not None:
            lengths.append(value)
    if lengths:
        return min(lengths)
    try:
        return _minigrid_steps(env, spec)
    except Exception:  # noqa: BLE001
        return None


def check_observation(env: gym.vector.VectorEnv, obs: Any, when: str) -> None:
    """Raise EnvError if a batch of observations does not fit the env's observation space."""
    space = env.observation_space
    if space.contains(obs):
        return
    if isinstance(space, gym.spaces.Dict) and isinstance(obs, dict):
        for key, sub in space.spaces.items():
            if key not in obs:
                raise EnvError(
                    f"{when}: observation has no key {key!r}; the space has {list(space.spaces)}"
                )
            if not sub.contains(obs[key]):
                a = np.asarray(obs[key])
                if _not_finite(a):
                    raise EnvError(f"{when}: observation {key!r} holds NaN or inf")
                raise EnvError(
                    f"{when}: observation {key!r} (shape {a.shape}, dtype {a.dtype}) "
                    f"does not fit its space {sub}"
                )
    a = np.asarray(obs) if not isinstance(obs, dict) else None
    if a is not None and _not_finite(a):
        raise EnvError(f"{when}: observation holds NaN or inf")
    got = f"shape {a.shape}, dtype {a.dtype}" if a is not None else f"keys {list(obs)}"
    raise EnvError(f"{when}: observation ({got}) does not fit the observation space {space}")


def _not_finite(a: np.ndarray) -> bool:
    return a.dtype.kind in "fc" and not np.isfinite(a).all()
