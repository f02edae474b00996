"""experiments/minigrid_probe.py on an untrained MERLIN: its counts are shares, the episodes that
chose are split by whether the cue was seen, and the cue counts as seen wherever the agent starts
beside it. Skipped without minigrid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scripts import load_script

pytest.importorskip("minigrid")


def test_minigrid_probe_on_an_untrained_agent():
    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import import_env_modules, make_vector_env

    import_env_modules("minigrid")
    mod = load_script("experiments/minigrid_probe.py")
    torch.manual_seed(0)
    env_id, b = "MiniGrid-MemoryS7-v0", 12
    cfg = make_config(
        "small", env=env_id, num_envs=b, z_dim=8, enc_dim=16, image_channels=4, mlp_hidden=16,
        mbp_hidden=16, policy_hidden=16, memory_rows=16, image_scale=7.0,
    )  # fmt: skip
    env = make_vector_env(env_id, b)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    starts = make_vector_env(env_id, b)
    starts.reset(seed=3)
    beside = np.mean([e.unwrapped.agent_pos[0] == 1 for e in starts.envs])  # the cue in view
    assert beside > 0  # (2 of the 12 at seed 3)
    starts.close()
    res = mod.probe(agent, env, seed=3)
    env.close()
    assert res["episodes"] == b and beside <= res["seen"] <= 1
    assert res["chose"] + res["timed_out"] == pytest.approx(1.0, abs=1e-3)
    assert res["chose_seen"] + res["chose_unseen"] == round(res["chose"] * b)
    for k, v in res.items():
        if k.startswith(("right_", "cue_in_")) or k == "chose_up":
            assert v is None or 0 <= v <= 1, k
