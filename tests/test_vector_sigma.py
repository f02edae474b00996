"""--vector-sigma: a vector input's Gaussian scale learned per dimension (against a hand-written
reference), its floor, where it starts, that only the MBP's optimiser trains it, that "fixed"
keeps the squared error and the parameters as they were (older checkpoints load), and a bad
value is one line. Learning: tests/test_latent.py (a rare vector cue gets into z_0)."""

from __future__ import annotations

import math

import gymnasium as gym
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.encoders import VectorModality


def _modality(sigma: str, sigma_min: float = 0.1) -> VectorModality:
    torch.manual_seed(0)
    m = VectorModality(3, 8)
    m.build_decoder(5, 16, sigma, sigma_min)
    return m


@pytest.mark.parametrize("floor", [0.1, 0.3])
def test_learned_scale_against_a_hand_written_gaussian_nll(floor):
    m = _modality("learned", floor)
    with torch.no_grad():  # one dimension under the floor: it counts at sigma = floor
        m.log_sigma.copy_(torch.tensor([0.3, -1.1, -4.0]))
    z, x = torch.randn(4, 5), torch.randn(4, 3)
    got = m.recon_loss(z, x).detach()
    mu, log_sigma = m.decoder(z).detach(), m.log_sigma.detach()
    for b in range(4):
        ref = 0.0
        for d in range(3):
            s = max(float(log_sigma[d]), math.log(floor))
            ref += 0.5 * (float(x[b, d]) - float(mu[b, d])) ** 2 / math.exp(2 * s) + s
        assert float(got[b]) == pytest.approx(ref, rel=1e-5)


def test_the_floor_comes_from_the_config():
    space = gym.spaces.Dict(
        {"image": gym.spaces.Box(0, 255, (8, 8, 3), "uint8"), "v": gym.spaces.Box(-1, 1, (3,))}
    )
    tiny = dict(z_dim=4, enc_dim=8, mlp_hidden=16, mbp_hidden=16, policy_hidden=8, memory_rows=8)
    for floor in (0.1, 0.3):
        agent = Agent(
            space, gym.spaces.Discrete(3), make_config("small", vector_sigma_min=floor, **tiny)
        )
        assert agent.mbp.codec.modality("v").log_sigma_min == pytest.approx(math.log(floor))
    assert make_config("small").vector_sigma_min == 0.1
    with pytest.raises(ConfigError, match="--vector-sigma-min must be a positive"):
        make_config("small", vector_sigma_min=0.0)


def test_learned_scale_starts_with_the_squared_errors_gradient():
    """At its initial sigma^2 = 1/2 the learned NLL moves the decoder exactly as the fixed
    squared error does; only the scale's own gradient is new."""
    learned, fixed = _modality("learned"), _modality("fixed")
    fixed.decoder.load_state_dict(learned.decoder.state_dict())
    z, x = torch.randn(4, 5), torch.randn(4, 3)
    g_l = torch.autograd.grad(learned.recon_loss(z, x).sum(), learned.decoder.weight)[0]
    g_f = torch.autograd.grad(fixed.recon_loss(z, x).sum(), fixed.decoder.weight)[0]
    torch.testing.assert_close(g_l, g_f)
    torch.testing.assert_close(fixed.recon_loss(z, x), ((fixed.decoder(z) - x) ** 2).sum(-1))


def test_the_scale_follows_each_dimensions_error():
    """d/d log sigma of the NLL is 1 - err / sigma^2: a dimension with a small error gets a
    smaller sigma (a larger weight), one with a large error a larger sigma."""
    m = _modality("learned")
    mu = m.decoder(torch.zeros(2, 5)).detach()
    x = mu + torch.tensor([[0.05, 2.0, 0.0], [-0.05, -2.0, 0.0]])
    g = torch.autograd.grad(m.recon_loss(torch.zeros(2, 5), x).sum(), m.log_sigma)[0]
    assert g[0] > 0 and g[1] < 0  # sigma_0 shrinks, sigma_1 grows


def test_only_the_mbp_trains_the_scale_and_fixed_adds_no_parameter():
    space = gym.spaces.Dict(
        {"image": gym.spaces.Box(0, 255, (8, 8, 3), "uint8"), "v": gym.spaces.Box(-1, 1, (3,))}
    )
    act = gym.spaces.Discrete(3)
    tiny = dict(z_dim=4, enc_dim=8, mlp_hidden=16, mbp_hidden=16, policy_hidden=8, memory_rows=8)
    learned = Agent(space, act, make_config("small", vector_sigma="learned", **tiny))
    fixed = Agent(space, act, make_config("small", vector_sigma="fixed", **tiny))
    scale = learned.mbp.codec.modality("v").log_sigma
    assert any(p is scale for p in learned.mbp_parameters())
    assert not any(p is scale for p in learned.policy_parameters())
    extra = set(learned.state_dict()) - set(fixed.state_dict())
    assert extra == {k for k in learned.state_dict() if k.endswith("log_sigma")} and len(extra) == 1
    # the ablations have no decoders, so no scale either
    mem = Agent(space, act, make_config("small", agent="rl-mem", vector_sigma="learned", **tiny))
    assert not any(k.endswith("log_sigma") for k in mem.state_dict())


def test_bad_value_and_the_legacy_default():
    with pytest.raises(ConfigError, match="--vector-sigma 'sharp' is not known; allowed: "):
        make_config("small", vector_sigma="sharp")
    assert LEGACY_SETTINGS["vector_sigma"] == "fixed"  # runs and checkpoints from before
    assert make_config("paper").vector_sigma == "fixed"
