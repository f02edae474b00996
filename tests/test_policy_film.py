"""FiLM in the policy's head (``--policy-film history``): z'_t = z_t * (1 + gamma_t) + beta_t with
[gamma_t, beta_t] = W [h~_t, m~_t] + b, checked unit by unit against a hand-written loop; it starts
as the plain policy, its own layer learns, and MERLIN's policy loss still reaches no MBP
parameter through it."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.memory import MemoryState
from merlin_rl.policy import Policy

torch.set_num_threads(1)


def _policy_and_inputs(mem_width: int, film: bool = True, seed: int = 0):
    torch.manual_seed(seed)
    b, n, z_dim, hidden = 3, 5, 4, 6
    pol = Policy(z_dim, 3, hidden, 16, mem_width, read_strength_init=2.0, film=film).double()
    mem = None
    if mem_width:
        mem = MemoryState.zeros(b, n, mem_width, dtype=torch.float64)
        mem = replace(
            mem,
            M=torch.randn(b, n, mem_width, dtype=torch.float64),
            written=torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]]).bool(),
        )
    z, h_cat = torch.randn(b, z_dim).double(), torch.randn(b, 2 * hidden).double()
    return pol, z, h_cat, mem


@pytest.mark.parametrize("mem_width", [6, 0])  # MERLIN / RL-MEM, and RL-LSTM (no memory)
def test_film_vs_loop(mem_width):
    pol, z, h_cat, mem = _policy_and_inputs(mem_width)
    with torch.no_grad():  # a FiLM layer away from its zero start
        pol.film.weight.normal_()
        pol.film.bias.normal_()
    logits, weights, _ = pol.readout(z, h_cat, mem)
    # the readout m~_t, by the read weights the policy returns (the read itself has its own tests)
    read = [] if mem is None else (weights[:, 0, :, None] * mem.M).sum(1)
    W, bias = pol.film.weight.tolist(), pol.film.bias.tolist()
    z_dim = z.shape[1]
    feats = []
    for e in range(z.shape[0]):
        hist = h_cat[e].tolist() + ([] if mem is None else read[e].tolist())
        assert len(hist) == pol.film.in_features
        film = [
            sum(W[j][i] * hist[i] for i in range(len(hist))) + bias[j] for j in range(2 * z_dim)
        ]
        z_mod = [z[e, d].item() * (1 + film[d]) + film[z_dim + d] for d in range(z_dim)]
        feats.append(z_mod + hist)
    expected = pol.head(torch.tensor(feats, dtype=torch.float64))
    torch.testing.assert_close(logits, expected, rtol=1e-9, atol=1e-12)


def test_film_starts_as_the_plain_policy():
    """The FiLM layer is made last and starts at 0: the same seed gives the plain policy's
    parameters and its logits."""
    plain, z, h_cat, mem = _policy_and_inputs(6, film=False, seed=4)
    film = _policy_and_inputs(6, film=True, seed=4)[0]
    for (k, p), (_, q) in zip(plain.state_dict().items(), film.state_dict().items()):
        assert torch.equal(p, q), k
    assert not film.film.weight.any() and not film.film.bias.any()
    torch.testing.assert_close(film.readout(z, h_cat, mem)[0], plain.readout(z, h_cat, mem)[0])
    # ... and its own layer gets a gradient from the head (it is not dead at the zero start)
    film.readout(z, h_cat, mem)[0].square().sum().backward()
    assert film.film.weight.grad.abs().sum() > 0 and film.film.bias.grad.abs().sum() > 0


def _agent(kind: str) -> Agent:
    torch.manual_seed(0)
    cfg = make_config(
        "small", agent=kind, policy_film="history", z_dim=8, enc_dim=16, mlp_hidden=16,
        mbp_hidden=16, policy_hidden=16, memory_rows=6,
    )  # fmt: skip
    return Agent(gym.spaces.Dict({"v": gym.spaces.Box(-1, 1, (3,))}), gym.spaces.Discrete(3), cfg)


def test_merlin_policy_loss_reaches_no_mbp_parameter_through_film():
    agent = _agent("merlin")
    with torch.no_grad():
        agent.policy.film.weight.normal_()
    state = agent.initial_state(2)
    loss = torch.zeros(())
    g = torch.Generator().manual_seed(1)
    for _ in range(4):
        obs = {"v": torch.randn(2, 3, generator=g)}
        out, state = agent.step(obs, state)
        loss = loss + (out.log_prob * torch.randn(2, generator=g)).sum()
    mbp = list(agent.mbp.parameters())
    assert all(
        x is None or not x.any()
        for x in torch.autograd.grad(loss, mbp, allow_unused=True, retain_graph=True)
    )
    (film_grad,) = torch.autograd.grad(loss, [agent.policy.film.weight])
    assert film_grad.abs().sum() > 0


def test_setting_checked_and_older_runs_had_it_off():
    assert LEGACY_SETTINGS["policy_film"] == "off"
    assert make_config("small").policy_film == "off"
    with pytest.raises(
        ConfigError, match="--policy-film 'yes' is not known; allowed: off, history"
    ):
        make_config("small", policy_film="yes").validate()
    for kind in ("rl-mem", "rl-lstm"):  # the ablations' policies take it too
        assert _agent(kind).policy.film is not None
