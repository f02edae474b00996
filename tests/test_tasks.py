"""Every built-in task: Gymnasium's env checker, batched == single for the same seeds, exact
save/restore, the oracle reaches the documented maximum return, a random policy stays near the
documented random return, and training runs on it. Task-specific checks live in test_<task>.py."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from merlin_rl.envs import builtin_ids
from merlin_rl.envs.base import BatchRNG, TaskEnv, TaskVectorEnv

TASKS = builtin_ids()


def _episodes_done(
    env: TaskVectorEnv, policy, episodes: int, max_steps: int = 200_000
) -> np.ndarray:
    """Run ``policy(core) -> actions`` until ``episodes`` episodes have ended; their returns."""
    env.reset(seed=7)
    ret = np.zeros(env.num_envs)
    done: list[float] = []
    fresh = np.zeros(env.num_envs, bool)  # NEXT_STEP: the step after an end is a reset step
    for _ in range(max_steps):
        _, r, term, trunc, _ = env.step(policy(env.core))
        ret += np.where(fresh, 0.0, r)
        end = (term | trunc) & ~fresh
        done.extend(ret[end].tolist())
        ret[end] = 0.0
        fresh = end
        if len(done) >= episodes:
            return np.asarray(done[:episodes])
    raise AssertionError(f"only {len(done)} of {episodes} episodes ended in {max_steps} steps")


def _assert_obs_equal(a: dict, b: dict, where: str) -> None:
    assert a.keys() == b.keys(), where
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"{where}: observation {k!r}")


@pytest.mark.parametrize("env_id", TASKS)
def test_check_env(env_id: str) -> None:
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker reports problems as warnings
        warnings.filterwarnings("ignore", message=".*(render modes|no spec|render_fps).*")
        check_env(env.unwrapped)
    assert isinstance(env.observation_space, gym.spaces.Dict)
    assert isinstance(env.action_space, gym.spaces.Discrete)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.max() > frame.min()  # not blank


@pytest.mark.parametrize("env_id", TASKS)
def test_batched_equals_single(env_id: str) -> None:
    """Copy i of a batched env seeded s == a single env (gym.make) seeded s + i, over several
    episodes with the same actions, including the NEXT_STEP autoreset."""
    b, seed = 3, 11
    vec = gym.make_vec(env_id, num_envs=b, vectorization_mode="vector_entry_point")
    singles = [gym.make(env_id) for _ in range(b)]
    obs, _ = vec.reset(seed=seed)
    single_obs = [e.reset(seed=seed + i)[0] for i, e in enumerate(singles)]
    for i in range(b):
        _assert_obs_equal({k: v[i] for k, v in obs.items()}, single_obs[i], f"reset, copy {i}")
    n_act = vec.single_action_space.n
    acts = np.random.default_rng(0).integers(n_act, size=(600, b))
    pending = np.zeros(b, bool)
    ends = 0
    for t, a in enumerate(acts):
        obs, r, term, trunc, _ = vec.step(a)
        for i, e in enumerate(singles):
            if pending[i]:
                o, ri, te, tr = e.reset()[0], 0.0, False, False
            else:
                o, ri, te, tr, _ = e.step(int(a[i]))
            where = f"step {t}, copy {i}"
            _assert_obs_equal({k: v[i] for k, v in obs.items()}, o, where)
            assert (float(r[i]), bool(term[i]), bool(trunc[i])) == (ri, te, tr), where
        pending = term | trunc
        ends += int(pending.sum())
    assert ends >= 1, "no episode ended in 600 random steps; shorten the test's episodes"


@pytest.mark.parametrize("env_id", TASKS)
def test_state_round_trip(env_id: str) -> None:
    """get_state / set_state continue exactly (what checkpoints rely on)."""
    env = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point")
    env.reset(seed=3)
    acts = np.random.default_rng(1).integers(env.single_action_space.n, size=(120, 4))
    for a in acts[:40]:
        env.step(a)
    state = env.get_state()
    first = [env.step(a) for a in acts[40:]]
    env.set_state(state)
    again = [env.step(a) for a in acts[40:]]
    for (o1, r1, te1, tr1, _), (o2, r2, te2, tr2, _) in zip(first, again):
        _assert_obs_equal(o1, o2, "after set_state")
        np.testing.assert_array_equal(r1, r2)
        np.testing.assert_array_equal(te1 | tr1, te2 | tr2)


@pytest.mark.parametrize("env_id", TASKS)
def test_oracle_reaches_max_and_random_stays_near_random_return(env_id: str) -> None:
    env = gym.make_vec(env_id, num_envs=16, vectorization_mode="vector_entry_point")
    core = env.unwrapped.core
    oracle = _episodes_done(env, lambda c: c.oracle(), 32)
    tol = getattr(core, "oracle_tolerance", 1e-6)
    assert oracle.mean() >= core.max_return - tol, (oracle.mean(), core.max_return)
    assert oracle.max() <= core.max_return + 1e-6 or getattr(core, "max_return_is_mean", False)
    rng = np.random.default_rng(5)
    n = env.single_action_space.n
    rand = _episodes_done(env, lambda c: rng.integers(n, size=c.num_envs), 400)
    rtol = getattr(core, "random_tolerance", 0.1 * max(abs(core.max_return), 1.0))
    assert abs(rand.mean() - core.random_return) <= rtol, (rand.mean(), core.random_return)
    assert rand.mean() < oracle.mean()


@pytest.mark.parametrize("env_id", TASKS)
def test_bad_knob_is_a_clear_error(env_id: str) -> None:
    with pytest.raises(TypeError, match="no_such_knob"):
        gym.make(env_id, no_such_knob=1)


@pytest.mark.parametrize("env_id", TASKS)
def test_train_runs_on_task(env_id: str, tmp_path) -> None:
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    torch.manual_seed(0)
    cfg = make_config(
        "small",
        env=env_id,
        num_envs=2,
        tau=4,
        total_steps=16,
        z_dim=8,
        enc_dim=16,
        image_channels=4,
        mlp_hidden=16,
        mbp_hidden=16,
        policy_hidden=16,
        memory_rows=8,
        log_interval=8,
        checkpoint_interval=16,
    )
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    tr.train()
    assert tr.env_steps >= 16
    assert (tmp_path / "checkpoints" / "final.pt").exists()


def test_batch_rng_streams_are_independent_of_the_batch() -> None:
    a, b = BatchRNG(3), BatchRNG(1)
    a.seed(np.array([5, 6, 7]))
    b.seed(np.array([6]))
    mask = np.array([True, False, True])
    a.random((4,), mask)  # copy 1 does not draw
    x = a.random((2, 3))[1]
    np.testing.assert_array_equal(x, b.random((2, 3))[0])
    u = a.random((10_000,))
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    ints = a.integers(np.array([[2], [3], [5]]), (1000,))
    assert [int(r.max()) for r in ints] == [1, 2, 4] and ints.min() == 0
    p = a.permutation(6)
    assert (np.sort(p, axis=1) == np.arange(6)).all()


def test_task_classes_share_the_base() -> None:
    for env_id in TASKS:
        spec = gym.spec(env_id)
        single = gym.make(env_id).unwrapped
        assert isinstance(single, TaskEnv), env_id
        assert spec.vector_entry_point is not None


@pytest.mark.parametrize("env_id", TASKS)
def test_reset_mask_resets_only_those_copies(env_id: str) -> None:
    env = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    env.reset(seed=5)
    for a in np.random.default_rng(2).integers(env.single_action_space.n, size=(7, 3)):
        env.step(a)
    before = env.get_state()
    env.reset(options={"reset_mask": np.array([False, True, False])})
    after = env.get_state()
    for k in before:
        if k in ("rng_key", "rng_counter", "autoreset"):
            continue
        for i in (0, 2):  # untouched copies keep their state exactly
            np.testing.assert_array_equal(np.asarray(after[k])[i], np.asarray(before[k])[i], k)
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.array([True, False])})


def test_seeds_big_none_and_negative() -> None:
    env_id = TASKS[0]
    vec = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point")
    single = gym.make(env_id)
    obs, _ = vec.reset(seed=2**64 - 1)  # copy 1 gets (2**64 - 1 + 1) mod 2**64 = 0
    _assert_obs_equal({k: v[1] for k, v in obs.items()}, single.reset(seed=0)[0], "wrapped seed")
    vec.reset(seed=[3, None])
    with pytest.raises(ValueError, match="seeds must be integers >= 0"):
        vec.reset(seed=-1)


def test_random_return_is_estimated_for_non_default_knobs() -> None:
    knobs = {"size": 10, "num_objects": 1, "max_steps": 20}
    env = gym.make_vec(
        "merlin_rl/InstructedGoal-v0", num_envs=32, vectorization_mode="vector_entry_point", **knobs
    )
    core = env.unwrapped.core
    rng = np.random.default_rng(9)
    measured = _episodes_done(env, lambda c: rng.integers(4, size=c.num_envs), 1500).mean()
    assert core.random_return < 0.2  # far from the default-knob 0.26
    assert abs(core.random_return - measured) < 0.03, (core.random_return, measured)
