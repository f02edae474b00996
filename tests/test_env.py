"""The built-in ColourMatch task (single and batched) and the trainer's autoreset bookkeeping."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import merlin_rl.envs  # noqa: F401  (registers merlin_rl/ColourMatch-v0)
from merlin_rl.agent import Agent
from merlin_rl.config import make_config
from merlin_rl.envs import make_vector_env
from merlin_rl.envs.colour_match import PALETTE, ColourMatchEnv, ColourMatchVectorEnv
from merlin_rl.train import EnvLoop

ENV_ID = "merlin_rl/ColourMatch-v0"


def cue_index(image: np.ndarray, num_colours: int = 4) -> int:
    """Index of the palette colour that fills ``image`` (H, W, 3); fails if it is not a cue frame."""
    assert (image == image[0, 0]).all(), "cue frame is not a single colour"
    matches = np.flatnonzero((PALETTE[:num_colours] == image[0, 0]).all(axis=1))
    assert len(matches) == 1, f"first frame colour {image[0, 0]} is not in the palette"
    return int(matches[0])


# ------------------------------------------------------------------------------ single env
def test_check_env_passes():
    env = gym.make(ENV_ID)
    check_env(env.unwrapped, skip_render_check=False)
    env.close()
    check_env(ColourMatchEnv(delay=3, num_colours=6, image_size=8))


def test_single_env_oracle_gets_full_return():
    env = gym.make(ENV_ID)
    for ep in range(20):
        obs, _ = env.reset(seed=ep)
        cue = cue_index(obs["image"])
        total, steps, terminated = 0.0, 0, False
        while not terminated:
            obs, r, terminated, truncated, _ = env.step(cue)
            assert not truncated
            total += r
            steps += 1
        assert total == 1.0
        assert steps == 1 + 24 + 1  # cue_steps + delay + 1 with the defaults
    env.close()


def test_single_env_wrong_answer_gets_zero_and_reward_only_at_choice():
    env = ColourMatchEnv(delay=3, cue_steps=2)
    obs, _ = env.reset(seed=1)
    cue = cue_index(obs["image"])
    rewards = []
    terminated = False
    while not terminated:
        obs, r, terminated, _, _ = env.step((cue + 1) % 4)
        rewards.append(r)
    assert rewards == [0.0] * 6
    # the correct action before the choice step earns nothing
    obs, _ = env.reset(seed=2)
    cue = cue_index(obs["image"])
    rewards = [env.step(cue)[1] for _ in range(6)]
    assert rewards == [0.0] * 5 + [1.0]


def test_single_env_reset_is_seeded():
    env = ColourMatchEnv(delay=2)
    cues_a = [cue_index(env.reset(seed=s)[0]["image"]) for s in range(30)]
    cues_b = [cue_index(env.reset(seed=s)[0]["image"]) for s in range(30)]
    assert cues_a == cues_b
    assert len(set(cues_a)) > 1  # the cue actually varies


# ------------------------------------------------------------------------------ vector env
def run_vector_oracle(
    env: gym.vector.VectorEnv,
    num_colours: int,
    min_episodes: int,
    rng: np.random.Generator | None = None,
) -> list[float]:
    """Step ``env``; with ``rng`` act at random, otherwise answer the remembered cue colour.

    Tracks NEXT_STEP autoreset: the observation returned by the step after ``terminated`` is the
    first frame of the next episode."""
    b = env.num_envs
    obs, _ = env.reset(seed=0)
    start = np.ones(b, bool)
    cue = np.zeros(b, np.int64)
    ret = np.zeros(b)
    pending = np.zeros(b, bool)
    returns: list[float] = []
    while len(returns) < min_episodes:
        for i in np.flatnonzero(start):
            cue[i] = cue_index(obs["image"][i], num_colours)
        actions = rng.integers(num_colours, size=b) if rng is not None else cue.copy()
        obs, r, term, trunc, _ = env.step(actions)
        assert not trunc.any()
        r = np.asarray(r, np.float64)
        assert (r[pending] == 0).all()
        ret += np.where(pending, 0.0, r)
        for i in np.flatnonzero(term & ~pending):
            returns.append(float(ret[i]))
            ret[i] = 0.0
        start = pending
        pending = term & ~pending
    return returns


def test_vector_env_oracle_gets_full_return():
    env = make_vector_env(ENV_ID, 8)
    assert isinstance(env, ColourMatchVectorEnv)
    returns = run_vector_oracle(env, 4, min_episodes=40)
    env.close()
    assert returns and all(r == 1.0 for r in returns)


def test_vector_env_oracle_with_kwargs():
    env = make_vector_env(ENV_ID, 8, {"delay": 3, "num_colours": 8, "cue_steps": 2})
    returns = run_vector_oracle(env, 8, min_episodes=40)
    env.close()
    assert all(r == 1.0 for r in returns)


def test_random_policy_return_near_chance():
    env = make_vector_env(ENV_ID, 64, {"delay": 2})
    returns = run_vector_oracle(env, 4, min_episodes=3000, rng=np.random.default_rng(0))
    env.close()
    # Bernoulli(0.25) mean over >= 3000 episodes: std ~0.008
    assert abs(np.mean(returns) - 0.25) < 0.04, np.mean(returns)
    assert set(returns) <= {0.0, 1.0}


def test_vector_env_spaces():
    env = make_vector_env(ENV_ID, 5, {"image_size": 8, "num_colours": 3})
    assert env.num_envs == 5
    assert env.single_action_space == gym.spaces.Discrete(3)
    assert env.single_observation_space["image"].shape == (8, 8, 3)
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (5, 8, 8, 3) and obs["image"].dtype == np.uint8
    assert env.observation_space.contains(obs)
    obs, r, term, trunc, info = env.step(np.zeros(5, np.int64))
    assert env.observation_space.contains(obs)
    assert r.shape == term.shape == trunc.shape == (5,)
    env.close()


def test_vector_env_autoreset_next_step():
    delay, cue_steps = 3, 1
    length = cue_steps + delay + 1
    env = make_vector_env(ENV_ID, 4, {"delay": delay, "cue_steps": cue_steps})
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, _ = env.reset(seed=3)
    cue = np.array([cue_index(im) for im in obs["image"]])
    for episode in range(3):
        for t in range(length):
            obs, r, term, trunc, _ = env.step(cue)
            if t < length - 1:
                assert not term.any(), f"terminated early at step {t + 1} of episode {episode}"
                assert (r == 0).all()
            else:
                assert term.all(), f"episode did not end after {length} steps"
                assert (r == 1.0).all()
            assert not trunc.any()
        # autoreset step: the action is ignored, reward 0, not terminated, first frame of a new ep
        obs, r, term, trunc, _ = env.step(cue)
        assert (r == 0).all() and not term.any() and not trunc.any()
        cue = np.array([cue_index(im) for im in obs["image"]])
    env.close()


def test_vector_env_autoreset_step_ignores_action_and_episode_length():
    """An action at the autoreset step does not advance the new episode; each env independently."""
    delay, cue_steps = 3, 2
    length = cue_steps + delay + 1
    env = ColourMatchVectorEnv(num_envs=3, delay=delay, cue_steps=cue_steps)
    obs, _ = env.reset(seed=7)
    # random actions throughout, including at each autoreset step; measure the calls between
    # terminations: if the autoreset step advanced the new episode it would be shorter
    last_term_step = np.full(3, -1)
    pending = np.zeros(3, bool)
    rng = np.random.default_rng(0)
    for step in range(5 * (length + 1)):
        obs, r, term, _, _ = env.step(rng.integers(4, size=3))
        assert (r[pending] == 0).all()
        assert not term[pending].any()
        if pending.any():
            # first frame of a new episode: a cue colour
            for i in np.flatnonzero(pending):
                cue_index(obs["image"][i])
        for i in np.flatnonzero(term):
            # the autoreset step takes one call; then `length` calls of the new episode
            expected = length if last_term_step[i] < 0 else length + 1
            assert step - last_term_step[i] == expected
            last_term_step[i] = step
        pending = term.copy()
    env.close()


def test_vector_env_seeded_reset_is_reproducible():
    a = ColourMatchVectorEnv(num_envs=16, delay=2)
    b = ColourMatchVectorEnv(num_envs=16, delay=2)
    oa, _ = a.reset(seed=11)
    ob, _ = b.reset(seed=11)
    np.testing.assert_array_equal(oa["image"], ob["image"])
    for _ in range(10):
        act = np.arange(16) % 4
        oa, ra, ta, _, _ = a.step(act)
        ob, rb, tb, _, _ = b.step(act)
        np.testing.assert_array_equal(oa["image"], ob["image"])
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta, tb)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"delay": 0}, "delay"),
        ({"delay": -2}, "delay"),
        ({"num_colours": 1}, "num_colours"),
        ({"num_colours": 0}, "num_colours"),
        ({"num_colours": len(PALETTE) + 1}, "num_colours"),
        ({"cue_steps": 0}, "cue_steps"),
        ({"image_size": 0}, "image_size"),
    ],
)
def test_env_kwargs_validated(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ColourMatchEnv(**kwargs)
    with pytest.raises(ValueError, match=name):
        ColourMatchVectorEnv(num_envs=2, **kwargs)
    with pytest.raises(ValueError, match=name):
        gym.make(ENV_ID, **kwargs)


def test_vector_env_num_envs_validated():
    with pytest.raises(ValueError, match="num_envs"):
        ColourMatchVectorEnv(num_envs=0)


# ------------------------------------------------------------------------------ EnvLoop
def tiny_config(**kw):
    return make_config(
        "small",
        z_dim=8,
        enc_dim=16,
        image_channels=4,
        mlp_hidden=16,
        mbp_hidden=16,
        policy_hidden=16,
        memory_rows=8,
        **kw,
    )


@pytest.mark.parametrize("agent_name", ["merlin", "rl-lstm"])
def test_envloop_valid_and_episode_start(agent_name):
    torch.manual_seed(0)
    b, delay = 3, 2
    length = 1 + delay + 1
    cfg = tiny_config(agent=agent_name, num_envs=b, env_kwargs={"delay": delay})
    env = make_vector_env(cfg.env, b, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    loop = EnvLoop(env, agent, torch.device("cpu"), seed=0)
    assert loop.mode == "next"
    assert loop.episode_start.dtype == torch.bool
    assert loop.episode_start.tolist() == [True] * b

    state = agent.initial_state(b)
    prev_done = np.zeros(b, bool)
    n_steps = 4 * (length + 1)
    ended = 0
    with torch.no_grad():
        for step in range(n_steps):
            state = state.reset(loop.episode_start)
            out, state = agent.step(loop.obs, state)
            r, done, term, valid = loop.step(out.action)
            state.prev_reward = r[:, None]
            assert valid.shape == done.shape == (b,)
            valid_np, done_np = valid.cpu().numpy().astype(bool), done.cpu().numpy().astype(bool)
            # invalid exactly on the autoreset step that follows an episode end
            np.testing.assert_array_equal(valid_np, ~prev_done, err_msg=f"step {step}")
            # the observation returned by the reset step starts a new episode; nothing else does
            np.testing.assert_array_equal(
                loop.episode_start.cpu().numpy(), prev_done, err_msg=f"step {step}"
            )
            # episodes end every `length` valid steps: steps length-1, 2*length, 3*length+1, ...
            expected_done = (step + 1) % (length + 1) == length
            assert done_np.tolist() == [expected_done] * b, f"step {step}"
            ended += int((done_np & valid_np).sum())
            prev_done = done_np & valid_np
    env.close()
    assert ended == 4 * b
    assert loop.episodes.count == 4 * b
    lengths = [n for _, n in loop.episodes.since_log]
    assert lengths == [length] * (4 * b)
