"""experiments/prior_probe.py: R^2 against hand-made guesses, and the whole probe on an untrained
MERLIN (finite scores, the ridge fitted and scored on different env copies)."""

from __future__ import annotations

import numpy as np
import torch
from scripts import load_script


def test_r2_of_a_perfect_guess_the_mean_and_noise():
    mod = load_script("experiments/prior_probe.py")
    rng = np.random.default_rng(0)
    y = rng.standard_normal((500, 4))
    assert mod.r2(y, y) == 1.0
    assert abs(mod.r2(y, np.broadcast_to(y.mean(0), y.shape))) < 1e-12
    assert mod.r2(y, y + rng.standard_normal(y.shape)) < 0.1  # noise as large as the signal


def test_prior_fit_on_an_untrained_merlin():
    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = load_script("experiments/prior_probe.py")
    torch.manual_seed(0)
    env_id = "merlin_rl/WaterMaze-v0"
    cfg = make_config("small", env=env_id, num_envs=8, z_dim=8, enc_dim=16, image_channels=4,
                      mlp_hidden=16, mbp_hidden=16, policy_hidden=16,
                      env_kwargs={"episode_steps": 30})  # fmt: skip
    env = make_vector_env(env_id, 8, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mod.prior_fit(agent, env, seed=0)
    assert res["steps"] == 8 * 29  # every step after each episode's first
    for key in ("prior_r2", "persistence_r2", "linear_r2_held_out", "prior_r2_held_out"):
        assert np.isfinite(res[key]) and res[key] <= 1.0
    assert -5 <= res["logsig_p"] <= 1 and -5 <= res["logsig_q"] <= 1
