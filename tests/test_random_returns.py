"""experiments/random_returns.py: a random policy's mean return, reproducible from its seeds."""

from __future__ import annotations

from scripts import load_script


def test_random_return_is_the_mean_length_on_cartpole_and_reproducible():
    mod = load_script("experiments/random_returns.py")
    a = mod.random_return("CartPole-v1", episodes=20, first_seed=7)
    # CartPole pays +1 a step, so the mean return is the mean length (a random policy: ~22 steps)
    assert abs(a["random_return"] - a["mean_length"]) <= 0.05  # the length is rounded to 0.1
    assert 10 < a["random_return"] < 40 and a["stderr"] > 0 and a["episodes"] == 20
    assert mod.random_return("CartPole-v1", episodes=20, first_seed=7) == a
    assert mod.random_return("CartPole-v1", episodes=20, first_seed=8) != a
