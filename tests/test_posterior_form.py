"""--posterior-form: "direct" (Dreamer's RSSM) computes MERLIN's posterior from e_t, h_{t-1} and
m_{t-1} alone, so the prior's MLP shapes neither z nor the posterior and only the KL term trains
it; "residual" (the paper's) reads the prior's parameters and adds them."""

from __future__ import annotations

import pytest
import torch
from test_agent import B, make_agent
from test_prior_grad import _prior_grad_norm, _step

from merlin_rl import losses
from merlin_rl.nn_utils import soft_clamp


@pytest.mark.parametrize("latent", ["joint", "factored"])
@pytest.mark.parametrize("form", ["residual", "direct"])
def test_the_prior_shapes_z_only_under_residual(latent, form):
    agent = make_agent("merlin", latent=latent, posterior_form=form)
    out = _step(agent)
    on_z = _prior_grad_norm(agent, out.z.pow(2).sum())  # a reconstruction's or return's path
    assert (on_z > 0) == (form == "residual"), (form, on_z)
    out = _step(agent)
    dist = {k: v for k, v in out.dist.items() if k != "logsig_excess"}
    assert _prior_grad_norm(agent, losses.kl_objective(**dist, free_nats=0.0).sum()) > 0
    # other prior weights: the posterior moves under residual and stays under direct
    with torch.no_grad():
        for p in agent.mbp.prior.parameters():
            p.add_(0.5)
    again = _step(agent)
    same = torch.equal(out.dist["mu_q"], again.dist["mu_q"]) and torch.equal(
        out.dist["logsig_q"], again.dist["logsig_q"]
    )
    assert same == (form == "direct")
    assert not torch.equal(out.dist["mu_p"], again.dist["mu_p"])


def test_direct_posterior_against_a_hand_written_one():
    """The factored direct posterior, slice by slice: [mu^k_q, log sigma^k_q] = f^k_post([LN(e^k_t),
    a_{t-1}, r_{t-1}, LN(h_{t-1}), LN(m_{t-1})]), log sigma soft-clamped to (-5, 1)."""
    agent = make_agent("merlin", latent="factored", posterior_form="direct")
    mbp = agent.mbp
    assert mbp.factored and len(mbp.posteriors) >= 2 and len(mbp.norm_priors) == 0
    torch.manual_seed(3)
    e = torch.randn(B, mbp.codec.out_dim + mbp.num_actions + 1)
    h = torch.randn(B, mbp.lstm.out_dim)
    m = torch.randn(B, mbp.reads * mbp.width)
    z, dist = mbp.latent(e, h, m, sample=False)
    start, mus, logsigs = 0, [], []
    for k, size in enumerate(mbp.enc_sizes):
        code = mbp.norm_codes[k](e[:, start : start + size])
        start += size
        x = torch.cat([code, e[:, mbp.codec.out_dim :], mbp.norm_h(h), mbp.norm_m(m)], -1)
        mu, raw = mbp.posteriors[k](x).chunk(2, -1)
        mus.append(mu)
        logsigs.append(soft_clamp(raw, -5.0, 1.0))
    torch.testing.assert_close(dist["mu_q"], torch.cat(mus, -1))
    torch.testing.assert_close(dist["logsig_q"], torch.cat(logsigs, -1))
    torch.testing.assert_close(z, dist["mu_q"])


def test_posterior_form_is_merlins_alone():
    assert not make_agent("merlin", posterior_form="direct").mbp.residual
    assert make_agent("merlin").mbp.residual
    a = make_agent("rl-mem", posterior_form="direct")
    b = make_agent("rl-mem")
    assert [p.shape for p in a.parameters()] == [p.shape for p in b.parameters()]
