"""RepeatSymbol: rewards against a naive per-copy reference (Python loops over copies and steps),
episode length, oracle and random returns, the picture, and knob validation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import merlin_rl.envs  # noqa: F401  (registers merlin_rl/RepeatSymbol-v0)
from merlin_rl.encoders import modality_for_space
from merlin_rl.envs.repeat_symbol import (
    RepeatSymbolCore,
    RepeatSymbolEnv,
    RepeatSymbolVectorEnv,
    symbol_colours,
)

ENV_ID = "merlin_rl/RepeatSymbol-v0"


def reference_rewards(symbols: list[int], actions: list[int], k: int, length: int) -> list[float]:
    """The rule, one step at a time: the action at step t >= k is worth +1/R if it equals the
    symbol observed at step t - k, else -1/R (R = length - k); steps t < k are worth 0."""
    r = length - k
    out = []
    for t, a in enumerate(actions):
        if t < k:
            out.append(0.0)
        else:
            out.append(1.0 / r if a == symbols[t - k] else -1.0 / r)
    return out


@pytest.mark.parametrize("k,n,length", [(4, 4, 51), (1, 2, 2), (3, 5, 10), (7, 3, 30)])
def test_rewards_match_the_reference_for_scripted_actions(k: int, n: int, length: int) -> None:
    b = 5
    env = RepeatSymbolVectorEnv(num_envs=b, k=k, num_symbols=n, episode_length=length)
    obs, _ = env.reset(seed=k * 100 + n)
    rng = np.random.default_rng(length)
    symbols = [[int(obs["symbol"][i])] for i in range(b)]
    actions: list[list[int]] = [[] for _ in range(b)]
    rewards: list[list[float]] = [[] for _ in range(b)]
    for t in range(length):
        core = env.core
        right = core.oracle()  # per copy and step: the right answer or a random one
        a = np.where(rng.random(b) < 0.5, right, rng.integers(n, size=b))
        obs, r, term, trunc, _ = env.step(a)
        assert not trunc.any()
        assert (term == (t == length - 1)).all()
        for i in range(b):
            actions[i].append(int(a[i]))
            rewards[i].append(float(r[i]))
            symbols[i].append(int(obs["symbol"][i]))
    for i in range(b):
        expected = reference_rewards(symbols[i], actions[i], k, length)
        np.testing.assert_allclose(rewards[i], expected, rtol=1e-6, err_msg=f"copy {i}")


def test_single_env_rewards_and_length() -> None:
    env = RepeatSymbolEnv(k=2, num_symbols=3, episode_length=6)
    obs, _ = env.reset(seed=4)
    seen, rewards = [int(obs["symbol"])], []
    actions = [0, 1, 2, 0, 1, 2]
    for t, a in enumerate(actions):
        obs, r, term, trunc, _ = env.step(a)
        assert term == (t == 5) and not trunc
        rewards.append(r)
        seen.append(int(obs["symbol"]))
    assert rewards == pytest.approx(reference_rewards(seen, actions, 2, 6))
    assert rewards[:2] == [0.0, 0.0]
    assert all(abs(r) == pytest.approx(0.25) for r in rewards[2:])
    assert env.episode_length == 6


def test_oracle_return_is_one_and_always_wrong_is_minus_one() -> None:
    b = 64
    env = RepeatSymbolVectorEnv(num_envs=b)
    env.reset(seed=0)
    core = env.core
    total, worst = np.zeros(b), np.zeros(b)
    state = env.get_state()
    for _ in range(core.episode_length):
        total += env.step(core.oracle())[1]
    env.set_state(state)
    for _ in range(core.episode_length):
        worst += env.step((core.oracle() + 1) % core.num_symbols)[1]
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    np.testing.assert_allclose(worst, -1.0, atol=1e-6)
    assert core.max_return == 1.0


@pytest.mark.parametrize("n", [2, 4, 10])
def test_random_return_is_near_two_over_n_minus_one(n: int) -> None:
    core = RepeatSymbolCore(1, num_symbols=n)
    assert core.random_return == pytest.approx(2 / n - 1)
    b = 2000
    env = RepeatSymbolVectorEnv(num_envs=b, num_symbols=n)
    env.reset(seed=1)
    rng = np.random.default_rng(n)
    total = np.zeros(b)
    for _ in range(51):
        total += env.step(rng.integers(n, size=b))[1]
    # sd of one episode's return: 2 sqrt(p (1 - p) / R), p = 1 / n, R = 47; 2000 episodes
    se = 2 * np.sqrt((1 / n) * (1 - 1 / n) / 47) / np.sqrt(b)
    assert abs(total.mean() - (2 / n - 1)) < 5 * se


def test_symbols_are_uniform_fresh_draws() -> None:
    b, n = 400, 4
    env = RepeatSymbolVectorEnv(num_envs=b, num_symbols=n, episode_length=51)
    obs, _ = env.reset(seed=3)
    seq = [obs["symbol"]]
    for _ in range(50):
        seq.append(env.step(np.zeros(b, np.int64))[0]["symbol"])
    s = np.stack(seq)  # [51, B]
    counts = np.bincount(s.reshape(-1), minlength=n) / s.size
    assert np.abs(counts - 1 / n).max() < 0.01
    # consecutive symbols independent: P(same) = 1 / n
    assert abs((s[1:] == s[:-1]).mean() - 1 / n) < 0.01
    # the observation never reveals the symbol k steps back beyond chance
    assert abs((s[4:] == s[:-4]).mean() - 1 / n) < 0.01


def test_render_shows_the_current_symbol_and_the_history() -> None:
    env = gym.make(ENV_ID, render_mode="rgb_array").unwrapped
    obs, _ = env.reset(seed=2)
    frame = env.render()
    s = env.core.image_size
    pad = max(2, s // 4)
    colour = symbol_colours(np.array(int(obs["symbol"])), 4)
    assert (frame[pad : pad + 4 * s, pad : pad + 4 * s] == colour).all()
    before = frame.copy()
    for _ in range(3):
        env.step(0)
    assert not np.array_equal(env.render(), before)
    big = RepeatSymbolEnv(image_size=64, render_mode="rgb_array")
    big.reset(seed=0)
    assert big.render().shape[0] > frame.shape[0]
    many = RepeatSymbolEnv(k=500, episode_length=501, num_symbols=100)
    many.reset(seed=0)
    assert many.render().shape[1] < 2500  # blocks shrink for a long delay (else 16,000 wide)


def test_symbol_colours_are_distinct() -> None:
    for n in (2, 4, 8, 12):
        c = symbol_colours(np.arange(n), n)
        assert c.shape == (n, 3) and c.dtype == np.uint8
        assert len({tuple(x) for x in c}) == n


@pytest.mark.parametrize(
    "knobs,match",
    [
        ({"k": 0}, "RepeatSymbol: k must be an integer >= 1, got 0"),
        ({"k": 2.5}, "k must be an integer"),
        ({"num_symbols": 1}, "RepeatSymbol: num_symbols must be an integer >= 2, got 1"),
        ({"num_symbols": True}, "num_symbols must be an integer"),
        (
            {"k": 5, "episode_length": 5},
            "RepeatSymbol: episode_length must be an integer >= 6, got 5",
        ),
        ({"episode_length": 3}, "episode_length must be an integer >= 5"),
        ({"image_size": 2}, r"image_size must be an integer in \[4, 256\]"),
    ],
)
def test_bad_knobs_are_one_line_errors(knobs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as e:
        gym.make(ENV_ID, **knobs)
    assert "\n" not in str(e.value)


def test_knobs_reach_the_spaces() -> None:
    env = gym.make_vec(
        ENV_ID,
        num_envs=2,
        vectorization_mode="vector_entry_point",
        k=3,
        num_symbols=7,
        episode_length=9,
    )
    assert env.single_observation_space == gym.spaces.Dict({"symbol": gym.spaces.Discrete(7)})
    assert env.single_action_space == gym.spaces.Discrete(7)
    assert env.unwrapped.episode_length == 9
    assert env.unwrapped.random_return == pytest.approx(2 / 7 - 1)


def test_tokens_space_shows_the_same_symbols_as_one_token_ids() -> None:
    """symbol_space="tokens": the same stream as symbol + 1 in a one-token id sequence, which the
    agent reads as text (encoders: a 1-D integer Box of ids, 0 = padding)."""
    b = 8
    plain = RepeatSymbolVectorEnv(num_envs=b, num_symbols=5)
    tokens = RepeatSymbolVectorEnv(num_envs=b, num_symbols=5, symbol_space="tokens")
    space = tokens.single_observation_space["symbol"]
    assert isinstance(space, gym.spaces.Box) and space.shape == (1,)
    assert space.dtype == np.int64 and space.low.min() == 0 and space.high.max() == 5
    assert modality_for_space("symbol", space, 8, 8).kind == "text"
    a, _ = plain.reset(seed=6)
    t, _ = tokens.reset(seed=6)
    rng = np.random.default_rng(0)
    for _ in range(60):  # through an episode end
        assert t["symbol"].shape == (b, 1)
        np.testing.assert_array_equal(t["symbol"][:, 0], a["symbol"] + 1)
        assert all(space.contains(x) for x in t["symbol"])
        actions = rng.integers(5, size=b)
        a, ra, *_ = plain.step(actions)
        t, rt, *_ = tokens.step(actions)
        np.testing.assert_array_equal(ra, rt)
    single = RepeatSymbolEnv(symbol_space="tokens")
    obs, _ = single.reset(seed=1)
    assert single.observation_space.contains(obs)
    with pytest.raises(
        ValueError, match="symbol_space must be one of discrete, tokens, got 'text'"
    ):
        RepeatSymbolCore(1, symbol_space="text")
