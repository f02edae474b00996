"""experiments/memory_chain.py: the env (the context at step 0 only, the query at the last step,
reward +-1 for the last action), its registration for --env-import, and the chain probe on an
untrained MERLIN."""

from __future__ import annotations

import numpy as np
import pytest

from scripts import load_script

mc = load_script("experiments/memory_chain.py")


def test_memory_chain_shows_the_context_once_and_scores_the_last_action():
    env = mc.MemoryChainEnv(length=5)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        context = obs[2]
        assert context in (-1.0, 1.0) and obs[0] == 1.0 and obs[1] == 0.0
        right = 1 if context > 0 else 0
        for t in range(1, 5):
            obs, r, term, trunc, _ = env.step(1 - right)  # actions before the query do nothing
            assert r == 0.0 and not term and not trunc
            assert obs[2] == 0.0 and obs[1] == (1.0 if t == 4 else 0.0)
            assert obs[0] == pytest.approx(1 - t / 5)
        answer = right if seed % 2 else 1 - right
        _, r, term, _, _ = env.step(answer)
        assert term and r == (1.0 if seed % 2 else -1.0)
    with pytest.raises(ValueError, match="length must be an integer >= 2"):
        mc.MemoryChainEnv(length=1)


def test_chain_probe_on_an_untrained_merlin():
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    env_id = "experiments/MemoryChain-v0"
    cfg = make_config("small", env=env_id, num_envs=16, z_dim=8, enc_dim=16, mlp_hidden=16,
                      mbp_hidden=16, policy_hidden=16)  # fmt: skip
    assert cfg.memory_rows == 0  # auto: the registered TimeLimit of 30 steps gives N = 30
    env = make_vector_env(env_id, 16, {})
    torch.manual_seed(0)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mc.chain(agent, env, seed=0)
    assert res["episodes"] == 16
    for key in ("drawn", "used", "z0_probe"):
        assert 0.0 <= res[key] <= 1.0
    for head in ("policy", "mbp1", "mbp2", "mbp3"):
        assert res[f"read_uniform_{head}"] == pytest.approx(1 / 29, abs=1e-3)  # 29 rows held
        assert 0.0 <= res[f"read_{head}"] <= 1.0
    assert np.isfinite(list(res.values())).all()
