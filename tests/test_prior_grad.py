"""--prior-grad: with "kl" only the KL term trains MERLIN's prior (the posterior adds and reads a
stopgrad copy); with "all" (the paper's model as written) every loss on z reaches it through
the posterior's residual. The forward pass is the same either way."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_agent import B, make_agent, random_obs

from merlin_rl import losses


def _step(agent):
    """One step of ``agent`` on fixed random inputs: z_t and its distribution parameters."""
    rng = np.random.default_rng(0)
    torch.manual_seed(1)
    out, _ = agent.step(random_obs(agent, rng), agent.initial_state(B))
    return out


def _prior_grad_norm(agent, loss) -> float:
    agent.zero_grad()
    loss.backward()
    grads = [p.grad for p in agent.mbp.prior.parameters() if p.grad is not None]
    return float(sum(g.abs().sum() for g in grads)) if grads else 0.0


@pytest.mark.parametrize("latent", ["joint", "factored"])
def test_prior_gets_the_kl_alone_under_kl(latent):
    outs = {}
    for mode in ("all", "kl"):
        agent = make_agent("merlin", latent=latent, prior_grad=mode)
        out = _step(agent)
        outs[mode] = out
        # a loss on z alone (what a reconstruction or the return loss is): it reaches the prior
        # through the posterior's residual only under "all"
        on_z = _prior_grad_norm(agent, out.z.pow(2).sum())
        assert (on_z > 0) == (mode == "all"), (mode, on_z)
        # the KL term trains the prior either way
        out = _step(agent)
        dist = {k: v for k, v in out.dist.items() if k != "logsig_excess"}
        kl = losses.kl_objective(**dist, free_nats=0.0)
        assert _prior_grad_norm(agent, kl.sum()) > 0
    # the same weights (same seed) give the same forward pass
    assert torch.equal(outs["all"].z, outs["kl"].z)
    for k in outs["all"].dist:
        assert torch.equal(outs["all"].dist[k], outs["kl"].dist[k])


def test_prior_grad_is_merlins_alone():
    assert make_agent("merlin", prior_grad="kl").mbp.prior_kl_only
    assert not make_agent("merlin").mbp.prior_kl_only
    assert not make_agent("rl-mem", prior_grad="kl").mbp.prior_kl_only
