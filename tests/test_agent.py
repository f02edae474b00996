"""Agent assembly (DESIGN.md §1, §3): prior/posterior composition, where gradients may and may
not flow (policy vs MBP), the RL-MEM / RL-LSTM ablations and per-env state resets."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl import losses
from merlin_rl.agent import Agent, AgentState
from merlin_rl.config import make_config
from merlin_rl.memory import MemoryState

torch.set_num_threads(1)

B = 4
CPU = torch.device("cpu")


def obs_space() -> gym.spaces.Dict:
    return gym.spaces.Dict(
        {
            "image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
            "vec": gym.spaces.Box(-1.0, 1.0, (3,), np.float32),
        }
    )


def make_agent(
    kind: str = "merlin",
    seed: int = 0,
    latent: str = "joint",
    space: gym.Space | None = None,
    **overrides,
) -> Agent:
    """A tiny agent on image + vector observations, or ``space`` (``latent`` joint unless asked:
    most tests here are of the paper's single posterior; the factored one has tests below)."""
    torch.manual_seed(seed)
    cfg = make_config(
        "small",
        agent=kind,
        latent=latent,
        z_dim=8,
        enc_dim=16,
        image_channels=4,
        mlp_hidden=16,
        mbp_hidden=16,
        policy_hidden=16,
        memory_rows=6,
        **overrides,
    )
    return Agent(obs_space() if space is None else space, gym.spaces.Discrete(3), cfg)


def random_obs(agent: Agent, rng: np.random.Generator, batch: int = B) -> dict[str, torch.Tensor]:
    obs = {
        "image": rng.integers(0, 256, (batch, 8, 8, 3), dtype=np.uint8),
        "vec": rng.standard_normal((batch, 3)).astype(np.float32),
    }
    return agent.mbp.codec.to_tensors(obs, CPU)


def rollout(agent: Agent, steps: int, seed: int = 0):
    """Run ``steps`` steps on random observations and rewards; returns (outputs, final state)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    state = agent.initial_state(B)
    outs = []
    for _ in range(steps):
        out, state = agent.step(random_obs(agent, rng), state)
        state.prev_reward = torch.as_tensor(rng.standard_normal((B, 1)).astype(np.float32))
        outs.append(out)
    return outs, state


def predictions(
    agent: Agent, outs
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
    """(V, A, KL or None, recon losses) as (T, B) tensors for a list of step outputs.

    Computed by ``Agent.evaluate`` for the whole segment at once."""
    p = agent.evaluate(outs)
    return p.value, p.advantage, p.kl, dict(p.recon)


def grads(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> list[torch.Tensor | None]:
    return list(torch.autograd.grad(loss, params, allow_unused=True, retain_graph=True))


def all_zero(gs) -> bool:
    return all(g is None or not g.any() for g in gs)


def policy_objective(outs, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    loss = torch.zeros(())
    for o in outs:
        adv = torch.randn(B, generator=g)
        loss = loss + (-o.log_prob * adv - 0.01 * o.entropy).sum()
    return loss


def mbp_objective(agent: Agent, outs, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    value, adv, kl, recon = predictions(agent, outs)
    target = torch.randn(value.shape, generator=g)
    loss = losses.return_loss(value, adv, target).sum()
    if kl is not None:
        loss = loss + kl.sum()
    for v in recon.values():
        loss = loss + v.sum()
    return loss


# ----------------------------------------------------------------------- prior / posterior
def mlp_by_hand(net: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Linear -> tanh -> Linear, written out with the layer weights."""
    lin1, lin2 = net[0], net[2]
    h = torch.tanh(x @ lin1.weight.T + lin1.bias)
    return h @ lin2.weight.T + lin2.bias


def bounded_by_hand(x: torch.Tensor) -> torch.Tensor:
    """The log sigma bound, one value at a time: y = lo + log(1 + e^(x - lo)), then
    hi - log(1 + e^(hi - y)), (lo, hi) = (-5, 1)."""
    out = torch.empty_like(x)
    for i, v in enumerate(x.tolist()):
        y = -5.0 + math.log1p(math.exp(v + 5.0))
        out[i] = 1.0 - math.log1p(math.exp(1.0 - y))
    return out


def test_log_sigma_is_bounded_and_samples_stay_finite():
    """The divergence seen with more gradient steps per env step: a log sigma far above the
    bound (bias +40 on every log sigma output) must not make z explode."""
    agent = make_agent("merlin")
    mbp, Z = agent.mbp, agent.cfg.z_dim
    with torch.no_grad():
        for net in (mbp.prior, mbp.posterior):
            net[2].bias[Z:] = 40.0
    g = torch.Generator().manual_seed(3)
    e = torch.randn(B, mbp.codec.out_dim + agent.num_actions + 1, generator=g)
    h = torch.randn(B, 2 * agent.cfg.mbp_hidden, generator=g)
    m = torch.randn(B, mbp.reads * mbp.width, generator=g)
    z, dist = mbp.latent(e, h, m, sample=True, eps=torch.full((B, Z), 3.0))
    for key in ("logsig_p", "logsig_q"):
        assert float(dist[key].max()) <= 1.0 and float(dist[key].min()) >= -5.01
    assert float((z - dist["mu_q"]).abs().max()) <= 3.0 * math.e + 1e-4
    # well inside the bounds the clamp is close to the identity
    x = torch.linspace(-2.5, -1.0, 7)
    torch.testing.assert_close(bounded_by_hand(x), x, atol=0.15, rtol=0)


def layer_norm_by_hand(x: torch.Tensor, ln: torch.nn.LayerNorm) -> torch.Tensor:
    """(x - mean) / sqrt(var + eps) * gain + bias of a vector, one element at a time."""
    vals = x.tolist()
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / len(vals)
    out = torch.empty_like(x)
    for i, v in enumerate(vals):
        out[i] = (v - mean) / math.sqrt(var + ln.eps) * float(ln.weight[i]) + float(ln.bias[i])
    return out


def _randomise_layer_norms(mbp) -> None:
    """Gains and biases away from 1 and 0, so that the reference must apply them."""
    with torch.no_grad():
        for mod in mbp.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.3)


@pytest.mark.parametrize("input_norm", ["none", "layer"])
def test_posterior_is_prior_plus_correction(input_norm):
    """Steps 2-4 by hand; with --latent-input-norm layer the MLPs read each part of their input
    layer-normalised (each kind's encoding, h, m, the prior's parameters), and the posterior's
    residual is the prior itself."""
    agent = make_agent("merlin", latent_input_norm=input_norm)
    mbp, Z = agent.mbp, agent.cfg.z_dim
    layer = input_norm == "layer"
    assert mbp.input_norm == layer
    # make the prior's output layer non-trivial (it is initialised small, bias zero)
    with torch.no_grad():
        for net in (mbp.prior, mbp.posterior):
            net[2].weight.normal_(0, 0.5)
            net[2].bias.normal_(0, 0.5)
    _randomise_layer_norms(mbp)
    sizes = [mod.enc_dim for _, mod in mbp.codec.items()]
    g = torch.Generator().manual_seed(3)
    e = torch.randn(B, mbp.codec.out_dim + agent.num_actions + 1, generator=g)
    h = torch.randn(B, 2 * agent.cfg.mbp_hidden, generator=g)
    m = torch.randn(B, mbp.reads * mbp.width, generator=g)
    z, dist = mbp.latent(e, h, m, sample=False)

    with torch.no_grad():
        prior = torch.zeros(B, 2 * Z)
        post = torch.zeros(B, 2 * Z)
        excess = torch.zeros(B)  # how far the log sigmas lie past (-5, 1) before the clamp
        for b in range(B):  # one env at a time; DESIGN §1 steps 2-3 concatenation order
            eb, hb, mb = e[b], h[b], m[b]
            if layer:
                codes, start = [], 0
                for k, size in enumerate(sizes):
                    codes.append(layer_norm_by_hand(eb[start : start + size], mbp.norm_codes[k]))
                    start += size
                eb = torch.cat([*codes, eb[start:]])
                hb, mb = layer_norm_by_hand(hb, mbp.norm_h), layer_norm_by_hand(mb, mbp.norm_m)
            p = mlp_by_hand(mbp.prior, torch.cat([hb, mb])[None])[0]
            raw = p[Z:].tolist()
            p[Z:] = bounded_by_hand(p[Z:])
            seen = layer_norm_by_hand(p, mbp.norm_priors[0]) if layer else p
            n = torch.cat([eb, hb, mb, seen])
            prior[b] = p
            post[b] = mlp_by_hand(mbp.posterior, n[None])[0] + p
            raw += post[b, Z:].tolist()
            post[b, Z:] = bounded_by_hand(post[b, Z:])
            for x in raw:
                excess[b] += max(x - 1.0, 0.0) ** 2 + max(-5.0 - x, 0.0) ** 2
    torch.testing.assert_close(dist["mu_p"], prior[:, :Z])
    torch.testing.assert_close(dist["logsig_p"], prior[:, Z:])
    torch.testing.assert_close(dist["mu_q"], post[:, :Z])
    torch.testing.assert_close(dist["logsig_q"], post[:, Z:])
    torch.testing.assert_close(z, post[:, :Z])  # no sampling: z = mu_q
    assert float(excess.max()) > 0  # some log sigmas lie past a bound here
    torch.testing.assert_close(dist["logsig_excess"], excess)

    # the prior does not see e_t; the posterior does
    z2, dist2 = mbp.latent(e + 1.0, h, m, sample=False)
    torch.testing.assert_close(dist2["mu_p"], dist["mu_p"])
    assert not torch.allclose(dist2["mu_q"], dist["mu_q"])

    # reparameterised sample: z = mu_q + exp(logsig_q) * eps
    torch.manual_seed(11)
    zs, _ = mbp.latent(e, h, m, sample=True)
    torch.manual_seed(11)
    eps = torch.randn(B, Z)
    torch.testing.assert_close(zs, post[:, :Z] + torch.exp(post[:, Z:]) * eps)


def test_step_kl_matches_latent():
    """The KL reported by step() is KL(q || p) of the step's prior and posterior (per-dim loop)."""
    agent = make_agent("merlin", seed=4)
    rng = np.random.default_rng(4)
    state = agent.initial_state(B)
    obs = random_obs(agent, rng)
    torch.manual_seed(5)
    out, _ = agent.step(obs, state)
    _, _, kl, _ = predictions(agent, [out])
    e = agent.mbp.encode(obs, state.prev_action, state.prev_reward)
    with torch.no_grad():
        _, dist = agent.mbp.latent(e, state.mbp_h.flatten(1), state.m, sample=False)
    for b in range(B):
        ref = 0.0
        for d in range(agent.cfg.z_dim):
            mq, lq = float(dist["mu_q"][b, d]), float(dist["logsig_q"][b, d])
            mp, lp = float(dist["mu_p"][b, d]), float(dist["logsig_p"][b, d])
            ref += lp - lq + (np.exp(2 * lq) + (mq - mp) ** 2) / (2 * np.exp(2 * lp)) - 0.5
        assert float(kl[0, b].detach()) == pytest.approx(ref, rel=1e-4, abs=1e-5)


# ---------------------------------------------------------------------------- gradient flow
def test_merlin_policy_loss_gives_no_grad_to_mbp():
    agent = make_agent("merlin", seed=6)
    outs, _ = rollout(agent, 4, seed=6)
    loss = policy_objective(outs)
    mbp_params = list(agent.mbp.parameters())
    pol_params = list(agent.policy.parameters())
    assert all_zero(grads(loss, mbp_params))
    # sanity: the policy itself is trained by it
    assert any(g is not None and g.any() for g in grads(loss, pol_params))

    # the same with the library's policy loss on GAE advantages built from the MBP's V
    values, _, _, _ = predictions(agent, outs)
    rewards = torch.randn(values.shape, generator=torch.Generator().manual_seed(7))
    no = torch.zeros_like(values, dtype=torch.bool)
    adv = rewards + 0.9 * torch.cat([values[1:], values[-1:]]) - values  # not detached
    adv_gae = losses.gae(rewards, values, values[-1], no, no, 0.96, 0.9)
    lp = torch.stack([o.log_prob for o in outs])
    ent = torch.stack([o.entropy for o in outs])
    for a in (adv, adv_gae):
        pl = losses.policy_loss(lp, a, ent, 0.01).sum()
        assert all_zero(grads(pl, mbp_params))


def test_merlin_mbp_losses_give_no_grad_to_policy():
    agent = make_agent("merlin", seed=8)
    outs, _ = rollout(agent, 4, seed=8)
    value, adv, kl, recon = predictions(agent, outs)
    assert kl is not None and len(recon) >= 4  # image, vector, action, reward
    loss = mbp_objective(agent, outs)
    pol_params = list(agent.policy.parameters())
    assert all_zero(grads(loss, pol_params))
    # each MBP loss separately as well
    for part in [kl.sum(), value.sum(), adv.sum(), *[v.sum() for v in recon.values()]]:
        assert all_zero(grads(part, pol_params))
    # sanity: the MBP is trained by it, encoders included
    mbp_g = grads(loss, list(agent.mbp.codec.parameters()))
    assert any(g is not None and g.any() for g in mbp_g)


def test_value_log_pi_input_carries_no_grad_into_policy():
    agent = make_agent("merlin", seed=9)
    outs, _ = rollout(agent, 3, seed=9)
    v = predictions(agent, outs)[0].sum()
    assert all_zero(grads(v, list(agent.policy.parameters())))
    # but V does depend on log pi (its input): changing the policy's output changes V
    mbp = agent.mbp
    z = outs[0].z.detach()
    onehot = torch.nn.functional.one_hot(outs[0].action, agent.num_actions).float()
    v1, _ = mbp.returns(z, torch.log_softmax(torch.zeros(B, 3), -1), onehot)
    v2, _ = mbp.returns(z, torch.log_softmax(torch.tensor([[5.0, 0.0, -5.0]] * B), -1), onehot)
    assert not torch.allclose(v1, v2)


def test_rl_mem_policy_loss_reaches_mbp_encoders():
    agent = make_agent("rl-mem", seed=10)
    outs, state = rollout(agent, 4, seed=10)
    assert state.memory is not None
    _, _, kl, recon = predictions(agent, outs)
    assert kl is None and recon == {}
    loss = policy_objective(outs)
    for name, mod in agent.mbp.codec.modalities.items():
        gs = grads(loss, list(mod.encoder.parameters()))
        assert any(g is not None and g.any() for g in gs), f"no policy gradient to encoder {name}"
    gs = grads(loss, list(agent.mbp.posterior.parameters()))
    assert any(g is not None and g.any() for g in gs)
    # end to end through the memory: the MBP's read interface is reached via m_{t-1} -> z_t
    gs = grads(loss, list(agent.mbp.interface.parameters()))
    assert any(g is not None and g.any() for g in gs)


def test_merlin_elbo_reaches_the_mbp_read_keys():
    """The MBP's read keys are trained by prediction: the KL (through m_{t-1} -> prior of z_t) and
    the reconstructions (through z_t) both give the read interface a gradient."""
    agent = make_agent("merlin", seed=3)
    outs, _ = rollout(agent, 6, seed=3)
    _, _, kl, recon = predictions(agent, outs)
    for loss in (kl.sum(), sum(v.sum() for v in recon.values())):
        gs = grads(loss, list(agent.mbp.interface.parameters()))
        assert all(g is not None and g.abs().sum() > 0 for g in gs)


def test_rl_lstm_has_no_memory():
    agent = make_agent("rl-lstm", seed=11)
    state = agent.initial_state(B)
    assert state.memory is None
    assert state.m.shape == (B, 0)
    outs, state = rollout(agent, 3, seed=11)
    assert state.memory is None
    for o in outs:
        assert o.mbp_weights is None and o.policy_weights is None
        assert o.action.shape == (B,) and torch.isfinite(o.log_prob).all()
    _, _, kl, recon = predictions(agent, outs)
    assert kl is None and recon == {}
    assert not hasattr(agent.mbp, "interface") and not hasattr(agent.policy, "interface")
    # recurrent A2C: the policy loss trains the encoders too
    loss = policy_objective(outs)
    gs = grads(loss, list(agent.mbp.codec.parameters()))
    assert any(g is not None and g.any() for g in gs)


def test_merlin_memory_is_written_each_step():
    agent = make_agent("merlin", seed=12)
    outs, state = rollout(agent, 3, seed=12)
    mem = state.memory
    assert mem.count.tolist() == [3] * B
    assert mem.written[:, :3].all() and not mem.written[:, 3:].any()
    # row t holds z_t in its first half (DESIGN §1 step 7)
    for t, o in enumerate(outs):
        torch.testing.assert_close(mem.M[:, t, : agent.cfg.z_dim], o.z)
    # the first step reads an empty memory: zero weights
    assert not outs[0].mbp_weights.any() and not outs[0].policy_weights.any()
    torch.testing.assert_close(outs[1].mbp_weights[:, :, 0], torch.ones(B, agent.cfg.mbp_reads))


# ------------------------------------------------------------------------------------- reset
@pytest.mark.parametrize("kind", ["merlin", "rl-mem", "rl-lstm"])
def test_agent_state_reset_zeroes_only_masked_envs(kind):
    agent = make_agent(kind, seed=13)
    _, state = rollout(agent, 3, seed=13)
    mask = torch.tensor([True, False, False, True])
    new = state.reset(mask)
    assert isinstance(new, AgentState)
    before, after = state.to_dict(), new.to_dict()
    assert before.keys() == after.keys()
    expected = {"mbp_h", "mbp_c", "m", "pol_h", "pol_c", "prev_action", "prev_reward"}
    if kind != "rl-lstm":
        expected |= {
            "mem." + n for n in ("M", "v_ret", "v_w", "usage", "written", "write_step", "count")
        }
        assert isinstance(new.memory, MemoryState)
    else:
        assert new.memory is None
    assert set(before) == expected
    for name in expected:
        x, y = before[name], after[name]
        assert x.shape == y.shape and x.dtype == y.dtype
        for b in range(B):
            if mask[b]:
                assert not y[b].any(), f"{name} of env {b} not zeroed"
            else:
                assert torch.equal(y[b], x[b]), f"{name} of env {b} changed"
                if name not in ("m",) or kind != "rl-lstm":
                    assert x[b].any(), f"{name} of env {b} was zero before (test is vacuous)"
    # a reset env behaves like a fresh one: same outputs as from the initial state
    rng = np.random.default_rng(14)
    obs = random_obs(agent, rng)
    torch.manual_seed(15)
    out_reset, _ = agent.step(obs, new, sample=False)
    torch.manual_seed(15)
    out_fresh, _ = agent.step(obs, agent.initial_state(B), sample=False)
    v_reset, v_fresh = predictions(agent, [out_reset])[0], predictions(agent, [out_fresh])[0]
    for b in range(B):
        if mask[b]:
            torch.testing.assert_close(out_reset.logits[b], out_fresh.logits[b])
            torch.testing.assert_close(v_reset[0, b], v_fresh[0, b])


def test_decoder_hidden_sets_the_decoders_width_and_defaults_to_512():
    """--decoder-hidden widens the MBP's decoders only (0 = mlp_hidden, default 512; the paper
    preset keeps mlp_hidden); negative is refused."""
    import gymnasium as gym
    import pytest as _pytest

    from merlin_rl.agent import Agent
    from merlin_rl.config import ConfigError, make_config

    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (8, 8, 3), "uint8")})
    act = gym.spaces.Discrete(3)
    for width, expect in ((0, 24), (40, 40)):
        cfg = make_config("small", mlp_hidden=24, decoder_hidden=width, z_dim=8, memory_rows=4)
        agent = Agent(space, act, cfg)
        dec = next(iter(agent.mbp.codec.modalities.values())).decoder
        assert dec.net[0].out_features == expect
        assert agent.policy.head[0].out_features == 24  # the policy head keeps mlp_hidden
    assert make_config("small").decoder_hidden == 512
    assert make_config("paper").decoder_hidden == 0
    with _pytest.raises(ConfigError, match="decoder-hidden"):
        make_config("small", decoder_hidden=-1)


# ------------------------------------------------------------------------ the factored latent
def _factored_inputs(agent: Agent, seed: int = 3):
    mbp = agent.mbp
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(B, mbp.codec.out_dim + agent.num_actions + 1, generator=g)
    h = torch.randn(B, 2 * agent.cfg.mbp_hidden, generator=g)
    m = torch.randn(B, mbp.reads * mbp.width, generator=g)
    return e, h, m


@pytest.mark.parametrize("input_norm", ["none", "layer"])
def test_factored_posterior_against_a_per_modality_reference(input_norm):
    """latent "factored": one z_dim slice per observation kind; slice k's posterior reads only
    kind k's encoding (plus a_{t-1}, r_{t-1}, h, m and its part of the prior), loops by hand;
    with --latent-input-norm layer each of those parts layer-normalised (slice k's prior part
    by its own norm)."""
    agent = make_agent("merlin", latent="factored", latent_input_norm=input_norm)
    mbp, Z = agent.mbp, agent.cfg.z_dim
    layer = input_norm == "layer"
    assert mbp.factored and mbp.z_dim == 2 * Z and mbp.width == 4 * Z
    assert not hasattr(mbp, "posterior") and len(mbp.posteriors) == 2
    with torch.no_grad():
        for net in (mbp.prior, *mbp.posteriors):
            net[2].weight.normal_(0, 0.5)
            net[2].bias.normal_(0, 0.5)
    _randomise_layer_norms(mbp)
    e, h, m = _factored_inputs(agent)
    z, dist = mbp.latent(e, h, m, sample=False)
    sizes = [mod.enc_dim for _, mod in mbp.codec.items()]
    with torch.no_grad():
        mu_q, logsig_q = torch.zeros(B, 2 * Z), torch.zeros(B, 2 * Z)
        for b in range(B):
            hb, mb = h[b], m[b]
            if layer:
                hb, mb = layer_norm_by_hand(hb, mbp.norm_h), layer_norm_by_hand(mb, mbp.norm_m)
            p = mlp_by_hand(mbp.prior, torch.cat([hb, mb])[None])[0]
            mu_p, logsig_p = p[: 2 * Z], bounded_by_hand(p[2 * Z :])
            start = 0
            for k in range(2):  # one kind at a time
                code = e[b, start : start + sizes[k]]
                start += sizes[k]
                rest = e[b, sum(sizes) :]
                prior_k = torch.cat([mu_p[k * Z : (k + 1) * Z], logsig_p[k * Z : (k + 1) * Z]])
                seen = prior_k
                if layer:
                    code = layer_norm_by_hand(code, mbp.norm_codes[k])
                    seen = layer_norm_by_hand(prior_k, mbp.norm_priors[k])
                n = torch.cat([code, rest, hb, mb, seen])
                out = mlp_by_hand(mbp.posteriors[k], n[None])[0] + prior_k
                mu_q[b, k * Z : (k + 1) * Z] = out[:Z]
                logsig_q[b, k * Z : (k + 1) * Z] = bounded_by_hand(out[Z:])
    torch.testing.assert_close(dist["mu_q"], mu_q)
    torch.testing.assert_close(dist["logsig_q"], logsig_q)
    torch.testing.assert_close(z, mu_q)
    # kind 0's encoding moves slice 0 alone
    e2 = e.clone()
    e2[:, : sizes[0]] += torch.linspace(0.0, 2.0, sizes[0])  # not a shift a LayerNorm removes
    z2, _ = mbp.latent(e2, h, m, sample=False)
    assert not torch.allclose(z2[:, :Z], z[:, :Z])
    torch.testing.assert_close(z2[:, Z:], z[:, Z:])


@pytest.mark.parametrize("latent", ["factored", "joint"])
def test_each_reconstruction_reaches_only_its_own_kind_when_factored(latent):
    """Factored: the image's reconstruction loss sends no gradient into the vector's encoder,
    posterior or decoder (and back), and each decoder reads only its slice of z. Joint (the
    paper's): it does reach them (what lets a weight-50 image crowd a small input out)."""
    agent = make_agent("merlin", latent=latent)
    mbp = agent.mbp
    rng = np.random.default_rng(0)
    obs = random_obs(agent, rng)
    out, _ = agent.step(obs, agent.initial_state(B))
    recon = mbp.reconstruction_losses(out.z, obs, out.prev_action, out.prev_reward)
    image_enc = mbp.codec.modality("image").encoder
    vec = mbp.codec.modality("vec")
    for loss, other in ((recon["image:image"], vec.encoder), (recon["vector:vec"], image_enc)):
        agent.zero_grad(set_to_none=True)
        loss.sum().backward(retain_graph=True)
        reached = any(p.grad is not None and p.grad.abs().sum() > 0 for p in other.parameters())
        assert reached == (latent == "joint")
    agent.zero_grad(set_to_none=True)
    recon["image:image"].sum().backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in vec.decoder.parameters())
    if latent == "factored":
        assert all(p.grad is None or not p.grad.any() for p in mbp.posteriors[1].parameters())
        z = out.z.detach().requires_grad_()
        mbp.reconstruction_losses(z, obs, out.prev_action, out.prev_reward)[
            "image:image"
        ].sum().backward()
        Z = agent.cfg.z_dim
        assert z.grad[:, :Z].abs().sum() > 0 and not z.grad[:, Z:].any()


def test_one_observation_kind_gives_the_same_model_either_way():
    """With one kind "factored" is the joint model: the same parameter names (old checkpoints
    load), sizes and numbers. The default is factored since the thirtieth session (by its
    calibration, docs/learning.md); the paper preset and older runs are joint."""
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)})
    a, b = (make_agent("merlin", latent=latent, space=space) for latent in ("factored", "joint"))
    assert not a.mbp.factored and a.mbp.z_dim == 8
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert make_config("paper").latent == "joint" and make_config("small").latent == "factored"
    # the thirty-first session's default: the prior's and posterior's inputs layer-normalised
    assert make_config("small").latent_input_norm == "layer"
    assert make_config("paper").latent_input_norm == "none"
    from merlin_rl.config import LEGACY_SETTINGS, ConfigError

    assert LEGACY_SETTINGS["latent"] == "joint"
    with pytest.raises(ConfigError, match="--latent 'both' is not known; allowed: factored, joint"):
        make_config("small", latent="both")


def test_rl_mem_and_rl_lstm_keep_one_posterior():
    """The ablations have no decoders: their deterministic z stays joint (z_dim wide)."""
    for kind in ("rl-mem", "rl-lstm"):
        agent = make_agent(kind, latent="factored")
        assert not agent.mbp.factored and agent.mbp.z_dim == agent.cfg.z_dim


@pytest.mark.parametrize("size", [15, 40])
def test_image_decoder_is_the_mlp_or_the_convolutions_as_asked(size):
    """--image-decoder: auto = an MLP up to 32 x 32 pixels, transposed convolutions above; mlp
    and conv at every size; each draws (B, C, H, W) logits; older runs are auto."""
    from merlin_rl.config import LEGACY_SETTINGS
    from merlin_rl.encoders import ImageDecoder, MLPImageDecoder

    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (size, size, 3), np.uint8)})
    for kind, cls in (
        ("auto", MLPImageDecoder if size <= 32 else ImageDecoder),
        ("mlp", MLPImageDecoder),
        ("conv", ImageDecoder),
    ):
        cfg = make_config("small", image_decoder=kind, z_dim=8, enc_dim=16, image_channels=4)
        agent = Agent(space, gym.spaces.Discrete(3), cfg)
        decoder = agent.mbp.codec.modality("image").decoder
        assert isinstance(decoder, cls), kind
        assert decoder(torch.zeros(2, 8)).shape == (2, 3, size, size)
    assert make_config("small").image_decoder == LEGACY_SETTINGS["image_decoder"] == "auto"


def test_latent_input_norm_leaves_the_ablations_deterministic_z_alone():
    """--latent-input-norm acts on MERLIN's prior and posterior only: an ablation's MBP, which
    has neither, gets no LayerNorm."""
    for kind in ("rl-mem", "rl-lstm"):
        mbp = make_agent(kind, latent_input_norm="layer").mbp
        assert not mbp.input_norm
        assert not any(isinstance(m, torch.nn.LayerNorm) for m in mbp.modules())
    assert make_agent("merlin", latent_input_norm="layer").mbp.input_norm
