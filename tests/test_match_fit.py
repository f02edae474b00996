"""experiments/match_fit.py: the supervised fit learns a label its input carries and not one it
lacks, and the whole check runs on an untrained MERLIN and RL-LSTM (shares in [0, 1], rows only
where the matching square is in view)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripts import load_script


def _module():
    return load_script("experiments/match_fit.py")


def test_fit_accuracy_finds_a_label_in_its_input_and_not_a_random_one():
    mod = _module()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(800, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] * x[:, 2] > 0)  # 4 classes, one a product
    train = np.arange(800) < 400
    assert mod.fit_accuracy(x, y, train, hidden=32, classes=4) > 0.85
    assert mod.fit_accuracy(x, rng.integers(0, 4, 800), train, hidden=32, classes=4) < 0.35


def test_cue_rows_z_against_a_loop():
    from dataclasses import replace

    from merlin_rl.memory import MemoryState

    mod = _module()
    rng = np.random.default_rng(1)
    b, n, w, t = 3, 5, 6, 4
    mem = replace(
        MemoryState.zeros(b, n, w),
        M=torch.randn(b, n, w),
        written=torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]).bool(),
        write_step=torch.tensor([[0, 1, 2, 0, 0], [3, 4, 0, 1, 2], [0, 0, 0, 0, 0]]),
    )
    seen_at = rng.random((b, 10)) < 0.5
    seen_at[2] = False  # nothing seen: zeros
    got = mod.cue_rows_z(mem, seen_at, t)
    for i in range(b):
        picked = [
            mem.M[i, r, : w // 2].numpy()
            for r in range(n)
            if mem.written[i, r] and seen_at[i, int(mem.write_step[i, r])]
        ]
        want = np.mean(picked, 0) if picked else np.zeros(w // 2)
        np.testing.assert_allclose(got[i], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["merlin", "rl-lstm"])
def test_match_fit_on_an_untrained_agent(kind):
    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = _module()
    torch.manual_seed(0)
    b = 64
    cfg = make_config(
        "small", agent=kind, env=mod.TASK, num_envs=b, z_dim=8, enc_dim=16, image_channels=4,
        mlp_hidden=16, mbp_hidden=16, policy_hidden=16, memory_rows=40,
        env_kwargs={"distractor_steps": 5},
    )  # fmt: skip
    env = make_vector_env(cfg.env, b, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    data = mod.collect(agent, env, seed=0)
    n = len(data["oracle"])
    assert n > 0 and all(len(v) == n for k, v in data.items() if k != "in_view_share")
    assert data["view"].shape[1] == agent.mbp.z_dim and data["cue"].sum(1).tolist() == [1] * n
    assert data["memory"].shape[1] > data["view"].shape[1]  # at least h~ beside z
    res = mod.match_fit(agent, make_vector_env(cfg.env, b, cfg.env_kwargs), seed=0)
    assert res["steps_train"] > 0 and res["steps_test"] > 0 and 0 < res["in_view_share"] <= 1
    for k in ("fit_view", "fit_view_memory", "fit_view_cue", "nearest_square", "agent"):
        assert 0 <= res[k] <= 1, k
    # the cue rows' z: MERLIN's memory holds them, RL-LSTM has none
    assert (res["fit_view_row"] is None) == (kind == "rl-lstm")
    if kind == "merlin":
        assert data["row"].shape == (n, agent.mbp.width // 2) and np.abs(data["row"]).sum() > 0
