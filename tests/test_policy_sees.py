"""The MBP's reads as the policy's input (``--policy-sees z+reads``): at step t the policy's LSTM
and head take [z_t, m_{t-1}] in, m_{t-1} being the reads that step t's posterior took in; MERLIN's
policy loss still reaches no MBP parameter, an ablation's reaches the MBP's read keys."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config

torch.set_num_threads(1)


def _agent(kind: str, sees: str = "z+reads") -> Agent:
    torch.manual_seed(0)
    cfg = make_config(
        "small", agent=kind, policy_sees=sees, z_dim=8, enc_dim=16, mlp_hidden=16,
        mbp_hidden=16, policy_hidden=16, memory_rows=6,
    )  # fmt: skip
    return Agent(gym.spaces.Dict({"v": gym.spaces.Box(-1, 1, (3,))}), gym.spaces.Discrete(3), cfg)


def _steps(agent: Agent, n: int = 4, seed: int = 1):
    """n steps on random inputs: (state before each step, its output), and the final state."""
    state, g, out = agent.initial_state(2), torch.Generator().manual_seed(seed), []
    for _ in range(n):
        before = state
        step, state = agent.step({"v": torch.randn(2, 3, generator=g)}, state)
        out.append((before, step))
    return out


@pytest.mark.parametrize("kind", ["merlin", "rl-mem"])
def test_the_policy_takes_z_and_the_reads_that_the_posterior_took(kind):
    """Each step's logits are the policy's on [z_t (mu_q for MERLIN), m_{t-1}] from its own
    previous state, with its own read of M_{t-1}; m_{t-1} is the state's reads before the step
    (not zero once a step has read a written row: from t = 2 on)."""
    agent = _agent(kind)
    width = agent.mbp.reads * agent.mbp.width
    assert agent.policy.lstm.cells[0].input_size == agent.mbp.z_dim + width
    for t, (before, out) in enumerate(_steps(agent)):
        z = out.dist["mu_q"] if kind == "merlin" else out.z
        x = torch.cat([z, before.m], -1)
        logits, *_ = agent.policy(x, before.pol_h, before.pol_c, before.memory)
        torch.testing.assert_close(out.logits, logits)
        assert t < 2 or before.m.abs().sum() > 0
    plain = _agent(kind, "z")
    assert plain.policy.lstm.cells[0].input_size == plain.mbp.z_dim


def test_merlin_policy_loss_reaches_no_mbp_parameter_through_the_reads():
    agent = _agent("merlin")
    loss = sum(out.log_prob.sum() for _, out in _steps(agent))
    grads = torch.autograd.grad(loss, list(agent.mbp.parameters()), allow_unused=True)
    assert all(g is None or not g.any() for g in grads)


def test_an_ablations_policy_loss_trains_the_mbps_read_keys_through_the_reads():
    """RL-MEM is trained by reward alone, end to end: with z+reads its policy gradient reaches
    the MBP's read interface through m_{t-1} (with z alone only through z_t's own path)."""
    grads = {}
    for sees in ("z", "z+reads"):
        agent = _agent("rl-mem", sees)
        loss = sum(out.log_prob.sum() for _, out in _steps(agent))
        (grads[sees],) = torch.autograd.grad(loss, [agent.mbp.interface.weight])
    assert grads["z+reads"].abs().sum() > 0
    assert not torch.allclose(grads["z+reads"], grads["z"])


def test_setting_checked_and_older_runs_had_it_off():
    assert LEGACY_SETTINGS["policy_sees"] == "z"
    assert make_config("small").policy_sees == "z"
    with pytest.raises(ConfigError, match="--policy-sees 'reads' is not known; allowed: z, z"):
        make_config("small", policy_sees="reads").validate()
    # RL-LSTM has no memory: it takes z_t alone whatever the setting says
    lstm = _agent("rl-lstm")
    assert lstm.policy.lstm.cells[0].input_size == lstm.mbp.z_dim
    for before, out in _steps(lstm):
        logits, *_ = lstm.policy(out.z, before.pol_h, before.pol_c, None)
        torch.testing.assert_close(out.logits, logits)
