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
}


def builtin_ids() -> list[str]:
    """The ids of the built-in tasks, in the order of the docs."""
    return [BUILTIN_PREFIX + k for k in TASKS]


def register_builtin() -> None:
    """Register every built-in task (single and batched entry points) with Gymnasium."""
    for suffix, (module, stem) in TASKS.items():
        env_id = BUILTIN_PREFIX + suffix
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=f"merlin_rl.envs.{module}:{stem}Env",
                         vector_entry_point=f"merlin_rl.envs.{module}:{stem}VectorEnv")


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
            raise EnvError(f"--env-import {name!r} failed while being imported: "
                           f"{first_line(e)}") from e


def make_vector_env(env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None,
                    async_envs: bool = False) -> gym.vector.VectorEnv:
    """Make B copies of ``env_id``: the batched NumPy implementation for built-in tasks,
    Gymnasium's ``SyncVectorEnv`` for anything else, or with ``async_envs`` one subprocess per copy
    (Gymnasium's ``AsyncVectorEnv``, for slow external environments). Checks that the action
    space is Discrete."""
    if ":" in env_id:  # Gymnasium would import the module named before the colon
        raise EnvError(f"env id {env_id!r}: the 'module:id' form is not accepted (it imports "
                       "code); use --env-import MODULE and the plain id")
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as e:
        builtin = sorted(k for k in gym.registry if k.startswith(BUILTIN_PREFIX))
        raise EnvError(f"unknown env id {env_id!r} ({e.__class__.__name__}); built-in tasks: "
                       f"{', '.join(builtin)}; or any registered Gymnasium id") from None
    kwargs = dict(env_kwargs or {})
    reserved = sorted(RESERVED_KWARGS & set(kwargs))
    if reserved:  # gym.make_vec's own arguments, not the env's
        raise EnvError(f"--env-kwargs may not set {reserved} (arguments of the vector env "
                       "factory, not of the env)")
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
    if not isinstance(act, gym.spaces.Discrete):
        env.close()
        raise UnsupportedSpaceError(
            f"env {env_id!r} has action space {act}; supported: Discrete (categorical policy)")
    return env


def check_observation(env: gym.vector.VectorEnv, obs: Any, when: str) -> None:
    """Raise EnvError if a batch of observations does not fit the env's observation space."""
    space = env.observation_space
    if space.contains(obs):
        return
    if isinstance(space, gym.spaces.Dict) and isinstance(obs, dict):
        for key, sub in space.spaces.items():
            if key not in obs:
                raise EnvError(f"{when}: observation has no key {key!r}; the space has "
                               f"{list(space.spaces)}")
            if not sub.contains(obs[key]):
                a = np.asarray(obs[key])
                if _not_finite(a):
                    raise EnvError(f"{when}: observation {key!r} holds NaN or inf")
                raise EnvError(f"{when}: observation {key!r} (shape {a.shape}, dtype {a.dtype}) "
                               f"does not fit its space {sub}")
    a = np.asarray(obs) if not isinstance(obs, dict) else None
    if a is not None and _not_finite(a):
        raise EnvError(f"{when}: observation holds NaN or inf")
    got = f"shape {a.shape}, dtype {a.dtype}" if a is not None else f"keys {list(obs)}"
    raise EnvError(f"{when}: observation ({got}) does not fit the observation space {space}")


def _not_finite(a: np.ndarray) -> bool:
    return a.dtype.kind in "fc" and not np.isfinite(a).all()
