"""The episode length an environment declares (``episode_length`` of the built-in tasks,
:func:`merlin_rl.envs.declared_episode_length`): no episode is longer, fixed-length tasks are
exactly that long, and third-party envs give their TimeLimit (or None)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from merlin_rl.envs import builtin_ids, declared_episode_length, make_vector_env

# the tasks whose episodes never end early
FIXED_LENGTH = {
    "merlin_rl/ColourMatch-v0",
    "merlin_rl/WaterMaze-v0",
    "merlin_rl/VisuomotorMapping-v0",
    "merlin_rl/RepeatSymbol-v0",
}
# short knobs, so that many episodes end in a few hundred steps
SHORT = {
    "merlin_rl/ColourMatch-v0": {"delay": 5},
    "merlin_rl/WaterMaze-v0": {"episode_steps": 30},
    "merlin_rl/MemoryGame-v0": {"max_steps": 40},
    "merlin_rl/KeyToDoor-v0": {"explore_steps": 5, "distractor_steps": 7, "final_steps": 6},
    "merlin_rl/ActiveVisualMatch-v0": {"explore_steps": 5, "distractor_steps": 7, "final_steps": 6},
    "merlin_rl/VisuomotorMapping-v0": {"trials": 6},
    "merlin_rl/InstructedGoal-v0": {"max_steps": 16, "delay": 3},
    "merlin_rl/RepeatSymbol-v0": {"k": 3, "episode_length": 12},
}
EXPECTED = {
    "merlin_rl/ColourMatch-v0": ({}, 26, {"delay": 5, "cue_steps": 2}, 8),
    "merlin_rl/MemoryGame-v0": ({}, 100, {"max_steps": 40}, 40),
    "merlin_rl/WaterMaze-v0": ({}, 200, {"episode_steps": 30}, 30),
    "merlin_rl/VisuomotorMapping-v0": ({}, 63, {"trials": 6, "feedback_steps": 2}, 16),
    "merlin_rl/KeyToDoor-v0": ({}, 75, {"explore_steps": 5, "distractor_steps": 7}, 27),
    "merlin_rl/ActiveVisualMatch-v0": ({}, 75, {"final_steps": 9}, 69),
    "merlin_rl/InstructedGoal-v0": ({}, 20, {"delay": 30}, 50),
    "merlin_rl/RepeatSymbol-v0": ({}, 51, {"k": 10, "episode_length": 20}, 20),
}


def episode_lengths(env: gym.vector.VectorEnv, steps: int, seed: int = 0) -> list[int]:
    """Lengths of the episodes that end within ``steps`` random steps (NEXT_STEP autoreset: the
    step after an end is a reset step and counts for no episode)."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    b, n = env.num_envs, env.single_action_space.n
    length = np.zeros(b, np.int64)
    fresh = np.zeros(b, bool)
    out: list[int] = []
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(rng.integers(n, size=b))
        length += ~fresh
        end = (term | trunc) & ~fresh
        out.extend(length[end].tolist())
        length[end | fresh] = 0
        fresh = end
    return out


def test_every_builtin_task_is_covered() -> None:
    assert set(EXPECTED) == set(builtin_ids()) == set(SHORT)


@pytest.mark.parametrize("env_id", builtin_ids())
def test_declared_length_per_task(env_id: str) -> None:
    default_knobs, default_length, knobs, length = EXPECTED[env_id]
    for kw, want in ((default_knobs, default_length), (knobs, length)):
        vec = make_vector_env(env_id, 2, kw)
        assert vec.episode_length == want, kw
        assert declared_episode_length(vec, env_id) == want, kw
        single = gym.make(env_id, **kw)
        assert single.unwrapped.episode_length == want, kw
        assert declared_episode_length(single, env_id) == want, kw


@pytest.mark.parametrize("env_id", builtin_ids())
def test_random_episodes_are_never_longer_than_declared(env_id: str) -> None:
    env = make_vector_env(env_id, 8, SHORT[env_id])
    declared = declared_episode_length(env, env_id)
    assert isinstance(declared, int) and declared >= 1
    lengths = episode_lengths(env, 6 * declared)
    assert len(lengths) >= 8, "too few episodes ended"
    assert max(lengths) <= declared
    if env_id in FIXED_LENGTH:
        assert set(lengths) == {declared}


def test_default_random_episodes_are_never_longer_than_declared() -> None:
    for env_id in builtin_ids():
        env = make_vector_env(env_id, 4)
        declared = declared_episode_length(env, env_id)
        lengths = episode_lengths(env, declared + 2)  # every copy finishes its first episode
        assert lengths and max(lengths) <= declared, env_id
        if env_id in FIXED_LENGTH:
            assert set(lengths) == {declared}, env_id


def test_wrapped_builtin_env() -> None:
    env = make_vector_env("merlin_rl/RepeatSymbol-v0", 2, {"episode_length": 9})
    wrapped = gym.wrappers.vector.RecordEpisodeStatistics(env)
    assert declared_episode_length(wrapped, "merlin_rl/RepeatSymbol-v0") == 9


def test_async_builtin_env() -> None:
    env = make_vector_env("merlin_rl/ColourMatch-v0", 2, {"delay": 3}, async_envs=True)
    try:
        assert declared_episode_length(env, "merlin_rl/ColourMatch-v0") == 5
    finally:
        env.close()


def test_gymnasium_time_limit() -> None:
    env = make_vector_env("CartPole-v1", 2)
    assert declared_episode_length(env, "CartPole-v1") == 500
    assert declared_episode_length(gym.make("CartPole-v1"), "CartPole-v1") == 500
    short = make_vector_env("CartPole-v1", 2, {"max_episode_steps": 37})
    assert declared_episode_length(short, "CartPole-v1") == 37
    lengths = episode_lengths(short, 200)
    assert lengths and max(lengths) <= 37
    sync = make_vector_env("Acrobot-v1", 2)  # SyncVectorEnv over TimeLimit-wrapped envs
    assert isinstance(sync, gym.vector.SyncVectorEnv)
    assert declared_episode_length(sync, "Acrobot-v1") == 500
    wrapped = gym.wrappers.TimeLimit(gym.make("merlin_rl/WaterMaze-v0"), max_episode_steps=50)
    assert declared_episode_length(wrapped, "merlin_rl/WaterMaze-v0") == 50  # the smaller


class _Forever(gym.Env):
    """An env that never ends and has no step limit."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        return 0, 0.0, False, False, {}


def test_no_time_limit_is_none_and_never_raises() -> None:
    env_id = "test_episode_length/Forever-v0"
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=_Forever)
    assert gym.spec(env_id).max_episode_steps is None
    vec = make_vector_env(env_id, 2)
    assert declared_episode_length(vec, env_id) is None
    assert declared_episode_length(gym.make(env_id), env_id) is None
    assert declared_episode_length(_Forever(), "no/Such-v9") is None
    assert declared_episode_length(object(), "no/Such-v9") is None  # type: ignore[arg-type]


def test_minigrid_declares_its_max_steps() -> None:
    pytest.importorskip("minigrid")
    env_id = "MiniGrid-MemoryS7-v0"
    env = make_vector_env(env_id, 2)
    declared = declared_episode_length(env, env_id)
    assert declared == env.envs[0].unwrapped.max_steps == 5 * 7**2
    short = make_vector_env(env_id, 2, {"max_steps": 12})
    assert declared_episode_length(short, env_id) == 12
    lengths = episode_lengths(short, 60)
    assert lengths and max(lengths) <= 12
