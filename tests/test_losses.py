"""Losses (DESIGN.md §2) against naive references: KL (Monte Carlo and per-dim formula), Gaussian
log-density, GAE with dones/terminals/bootstrap, the two-part return loss and its gradient stops,
the policy-gradient loss and the masked mean."""

from __future__ import annotations

import math

import pytest
import torch

from merlin_rl import losses

torch.set_num_threads(1)


def ref_kl_one(mq: list[float], lq: list[float], mp: list[float], lp: list[float]) -> float:
    kl = 0.0
    for a, b, c, d in zip(mq, lq, mp, lp):
        sq, sp = math.exp(b), math.exp(d)
        kl += math.log(sp / sq) + (sq * sq + (a - c) ** 2) / (2 * sp * sp) - 0.5
    return kl


def ref_log_prob_one(x: list[float], mu: list[float], logsig: list[float]) -> float:
    lp = 0.0
    for xi, m, ls in zip(x, mu, logsig):
        s = math.exp(ls)
        lp += -0.5 * ((xi - m) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)
    return lp


def random_gaussians(seed: int, shape=(3, 4)):
    g = torch.Generator().manual_seed(seed)
    mu_q = torch.randn(*shape, generator=g, dtype=torch.float64)
    mu_p = torch.randn(*shape, generator=g, dtype=torch.float64)
    logsig_q = 0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)
    logsig_p = 0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)
    return mu_q, logsig_q, mu_p, logsig_p


# ----------------------------------------------------------------------------------------- KL
def test_gaussian_kl_vs_per_dim_formula():
    mu_q, logsig_q, mu_p, logsig_p = random_gaussians(0, (5, 7))
    kl = losses.gaussian_kl(mu_q, logsig_q, mu_p, logsig_p)
    assert kl.shape == (5,)
    for b in range(5):
        ref = ref_kl_one(
            mu_q[b].tolist(), logsig_q[b].tolist(), mu_p[b].tolist(), logsig_p[b].tolist()
        )
        assert float(kl[b]) == pytest.approx(ref, rel=1e-10, abs=1e-10)
    # KL(q || q) = 0 and KL >= 0
    torch.testing.assert_close(
        losses.gaussian_kl(mu_q, logsig_q, mu_q, logsig_q), torch.zeros(5, dtype=torch.float64)
    )
    assert (kl >= 0).all()


def test_gaussian_kl_vs_monte_carlo():
    """E_q[log q(x) - log p(x)] with 200k samples, within 5 standard errors."""
    mu_q, logsig_q, mu_p, logsig_p = random_gaussians(1, (3, 4))
    kl = losses.gaussian_kl(mu_q, logsig_q, mu_p, logsig_p)
    n = 200_000
    g = torch.Generator().manual_seed(2)
    for b in range(3):
        eps = torch.randn(n, 4, generator=g, dtype=torch.float64)
        log_ratio = torch.zeros(n, dtype=torch.float64)
        for d in range(4):  # loop over dims: log N(x; mu_q, sq) - log N(x; mu_p, sp)
            sq, sp = math.exp(float(logsig_q[b, d])), math.exp(float(logsig_p[b, d]))
            x = float(mu_q[b, d]) + sq * eps[:, d]
            log_q = -0.5 * ((x - float(mu_q[b, d])) / sq) ** 2 - math.log(sq)
            log_p = -0.5 * ((x - float(mu_p[b, d])) / sp) ** 2 - math.log(sp)
            log_ratio += log_q - log_p
        mc = float(log_ratio.mean())
        se = float(log_ratio.std()) / math.sqrt(n)
        assert abs(float(kl[b]) - mc) < 5 * se + 1e-4, (float(kl[b]), mc, se)


def test_gaussian_kl_float32_and_gradients_finite():
    mu_q, logsig_q, mu_p, logsig_p = (t.float().requires_grad_(True) for t in random_gaussians(3))
    kl = losses.gaussian_kl(mu_q, logsig_q, mu_p, logsig_p)
    kl.sum().backward()
    for t in (mu_q, logsig_q, mu_p, logsig_p):
        assert torch.isfinite(t.grad).all()
    # d KL / d mu_q = (mu_q - mu_p) / sp^2 per dim
    torch.testing.assert_close(mu_q.grad, ((mu_q - mu_p) * torch.exp(-2 * logsig_p)).detach())


def test_gaussian_log_prob_vs_loop():
    mu, logsig, x, _ = random_gaussians(4, (6, 3))
    lp = losses.gaussian_log_prob(x, mu, logsig)
    for b in range(6):
        ref = ref_log_prob_one(x[b].tolist(), mu[b].tolist(), logsig[b].tolist())
        assert float(lp[b]) == pytest.approx(ref, rel=1e-10, abs=1e-10)


# ---------------------------------------------------------------------------------------- GAE
def ref_gae(rewards, values, bootstrap, dones, terminals, gamma, lam, cut=None):
    """Loop over envs and (backwards) over time. Truncation (done, not terminal) bootstraps
    V_{t+1}; a terminal does not; any done stops the accumulation, and so does a cut (which
    keeps the bootstrap)."""
    T, B = len(rewards), len(rewards[0])
    adv = [[0.0] * B for _ in range(T)]
    for b in range(B):
        acc = 0.0
        for t in reversed(range(T)):
            next_v = values[t + 1][b] if t + 1 < T else bootstrap[b]
            if terminals[t][b]:
                next_v = 0.0
            delta = rewards[t][b] + gamma * next_v - values[t][b]
            if dones[t][b] or (cut is not None and cut[t][b]):
                acc = delta
            else:
                acc = delta + gamma * lam * acc
            adv[t][b] = acc
    return adv


def gae_inputs(T=7, B=5, seed=5):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, B, generator=g)
    values = torch.randn(T, B, generator=g)
    bootstrap = torch.randn(B, generator=g)
    dones = torch.zeros(T, B, dtype=torch.bool)
    terms = torch.zeros(T, B, dtype=torch.bool)
    # env 0: nothing ends; env 1: terminal at t=2; env 2: truncation at t=3;
    # env 3: truncation at t=1 and terminal at the last step; env 4: truncation at the last step
    dones[2, 1] = terms[2, 1] = True
    dones[3, 2] = True
    dones[1, 3] = True
    dones[T - 1, 3] = terms[T - 1, 3] = True
    dones[T - 1, 4] = True
    return rewards, values, bootstrap, dones, terms


@pytest.mark.parametrize("gamma,lam", [(0.96, 0.9), (0.9, 1.0), (0.99, 0.0)])
def test_gae_vs_loop(gamma, lam):
    rewards, values, bootstrap, dones, terms = gae_inputs()
    adv = losses.gae(rewards, values, bootstrap, dones, terms, gamma, lam)
    ref = ref_gae(
        rewards.tolist(),
        values.tolist(),
        bootstrap.tolist(),
        dones.tolist(),
        terms.tolist(),
        gamma,
        lam,
    )
    assert adv.shape == rewards.shape
    torch.testing.assert_close(adv, torch.tensor(ref), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("gamma,lam", [(0.96, 0.9), (0.9, 1.0)])
def test_gae_with_a_cut_vs_loop(gamma, lam):
    """``cut`` (--credit-cut reward: at the rewarded steps) stops the trace like a done but keeps
    the bootstrap V_{t+1}: Adv_t = delta_t there."""
    rewards, values, bootstrap, dones, terms = gae_inputs(seed=9)
    cut = torch.rand(rewards.shape, generator=torch.Generator().manual_seed(2)) < 0.4
    adv = losses.gae(rewards, values, bootstrap, dones, terms, gamma, lam, cut=cut)
    ref = ref_gae(
        *(x.tolist() for x in (rewards, values, bootstrap, dones, terms)), gamma, lam, cut.tolist()
    )
    torch.testing.assert_close(adv, torch.tensor(ref), atol=1e-5, rtol=1e-5)
    plain = losses.gae(rewards, values, bootstrap, dones, terms, gamma, lam)
    assert not torch.allclose(adv, plain)  # the cut changes something
    at = cut & ~dones  # where cut: delta_t alone, bootstrapping V_{t+1}
    nxt = torch.cat([values[1:], bootstrap[None]])
    delta = rewards + gamma * nxt * (~terms).float() - values
    torch.testing.assert_close(adv[at], delta[at])
    none = torch.zeros_like(cut)
    torch.testing.assert_close(
        losses.gae(rewards, values, bootstrap, dones, terms, gamma, lam, cut=none), plain
    )


def test_gae_float_masks_and_no_grad():
    rewards, values, bootstrap, dones, terms = gae_inputs(seed=6)
    values = values.clone().requires_grad_(True)
    bootstrap = bootstrap.clone().requires_grad_(True)
    adv = losses.gae(rewards, values, bootstrap, dones.float(), terms.float(), 0.96, 0.9)
    assert not adv.requires_grad
    ref = ref_gae(
        rewards.tolist(),
        values.tolist(),
        bootstrap.tolist(),
        dones.tolist(),
        terms.tolist(),
        0.96,
        0.9,
    )
    torch.testing.assert_close(adv, torch.tensor(ref), atol=1e-5, rtol=1e-5)


def test_gae_special_cases():
    T, B, gamma = 6, 3, 0.9
    rewards, values, bootstrap, _, _ = gae_inputs(T, 5, seed=7)
    rewards, values, bootstrap = rewards[:, :B], values[:, :B], bootstrap[:B]
    none = torch.zeros(T, B, dtype=torch.bool)
    # lambda = 1, no dones: Adv_t + V_t = discounted return bootstrapped with V at the segment end
    adv = losses.gae(rewards, values, bootstrap, none, none, gamma, 1.0)
    for b in range(B):
        for t in range(T):
            ret = sum(gamma ** (k - t) * float(rewards[k, b]) for k in range(t, T))
            ret += gamma ** (T - t) * float(bootstrap[b])
            assert float(adv[t, b] + values[t, b]) == pytest.approx(ret, abs=1e-4)
    # lambda = 0: one-step TD errors
    adv0 = losses.gae(rewards, values, bootstrap, none, none, gamma, 0.0)
    for b in range(B):
        for t in range(T):
            nv = float(values[t + 1, b]) if t + 1 < T else float(bootstrap[b])
            assert float(adv0[t, b]) == pytest.approx(
                float(rewards[t, b]) + gamma * nv - float(values[t, b]), abs=1e-5
            )
    # a terminal at the last step ignores the bootstrap value; a truncation uses it
    last = torch.zeros(T, B, dtype=torch.bool)
    last[-1] = True
    a_term = losses.gae(rewards, values, bootstrap, last, last, gamma, 0.9)
    a_trunc = losses.gae(rewards, values, bootstrap, last, none, gamma, 0.9)
    torch.testing.assert_close(a_term[-1], rewards[-1] - values[-1])
    torch.testing.assert_close(a_trunc[-1], rewards[-1] + gamma * bootstrap - values[-1])
    a_term2 = losses.gae(rewards, values, bootstrap + 100.0, last, last, gamma, 0.9)
    torch.testing.assert_close(a_term2, a_term)


# -------------------------------------------------------------------------------- return loss
def test_return_loss_value_and_gradient_stops():
    g = torch.Generator().manual_seed(8)
    V = torch.randn(5, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    A = torch.randn(5, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    R = torch.randn(5, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    loss = losses.return_loss(V, A, R)
    assert loss.shape == (5, 3)
    for t in range(5):
        for b in range(3):
            v, a, r = (float(x[t, b].detach()) for x in (V, A, R))
            ref = 0.5 * ((r - v) ** 2 + (r - (v + a)) ** 2)
            assert float(loss[t, b].detach()) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    gV, gA, gR = torch.autograd.grad(loss.sum(), [V, A, R], allow_unused=True)
    # d/dA: only the second term 1/2 (R - (sg(V) + A))^2 -> (sg(V) + A - R)
    torch.testing.assert_close(gA, (V + A - R).detach())
    # d/dV: only the first term 1/2 (R - V)^2 -> (V - R); the second term sees stopgrad(V)
    torch.testing.assert_close(gV, (V - R).detach())
    # the targets are constants
    assert gR is None or not gR.any()


def test_return_loss_terms_separately():
    """First term alone gives no gradient to A; second term alone none to V (by construction of
    the loss: the gradient of the whole loss w.r.t. A equals that of the second term only)."""
    g = torch.Generator().manual_seed(9)
    V = torch.randn(8, generator=g).requires_grad_(True)
    A = torch.randn(8, generator=g).requires_grad_(True)
    R = torch.randn(8, generator=g)
    loss = losses.return_loss(V, A, R).sum()
    first = 0.5 * (R - V).pow(2).sum()
    second = 0.5 * (R - (V.detach() + A)).pow(2).sum()
    gA_loss, gV_loss = torch.autograd.grad(loss, [A, V])
    (gA_second,) = torch.autograd.grad(second, [A])
    (gV_first,) = torch.autograd.grad(first, [V])
    torch.testing.assert_close(gA_loss, gA_second)
    torch.testing.assert_close(gV_loss, gV_first)


# ------------------------------------------------------------------------------- policy loss
def test_policy_loss_value_and_no_grad_to_advantages():
    g = torch.Generator().manual_seed(10)
    logp = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    adv = torch.randn(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    ent = torch.rand(4, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    cost = 0.03
    loss = losses.policy_loss(logp, adv, ent, cost)
    for t in range(4):
        for b in range(3):
            a, lp, e = (float(x[t, b].detach()) for x in (adv, logp, ent))
            ref = -a * lp - cost * e
            assert float(loss[t, b].detach()) == pytest.approx(ref, rel=1e-12, abs=1e-12)
    g_logp, g_adv, g_ent = torch.autograd.grad(loss.sum(), [logp, adv, ent], allow_unused=True)
    assert g_adv is None or not g_adv.any()
    torch.testing.assert_close(g_logp, -adv.detach())
    torch.testing.assert_close(g_ent, torch.full_like(ent, -cost))


def test_policy_loss_advantages_from_values_give_no_value_gradient():
    """Advantages computed (without detaching) from values: the policy loss leaves V alone."""
    g = torch.Generator().manual_seed(11)
    V = torch.randn(4, 2, generator=g).requires_grad_(True)
    logp = torch.randn(4, 2, generator=g).requires_grad_(True)
    adv = torch.randn(4, 2, generator=g) - V  # depends on V through autograd
    loss = losses.policy_loss(logp, adv, torch.zeros(4, 2), 0.01).sum()
    gV, gL = torch.autograd.grad(loss, [V, logp], allow_unused=True)
    assert gV is None or not gV.any()
    assert gL.abs().sum() > 0


# ------------------------------------------------------------------------------- policy bonus
def _bonus_by_hand(probs: list[float], kind: str) -> float:
    entropy = -sum(p * math.log(p) for p in probs)
    if kind == "entropy":
        return entropy
    if kind == "entropy-floor":  # the barrier on the actions below 0.01 / A only
        floor = 0.01 / len(probs)
        return entropy + sum(min(0.0, math.log(p / floor)) for p in probs) / len(probs)
    return sum(math.log(p) for p in probs) / len(probs) + math.log(len(probs))  # -KL(U || pi)


@pytest.mark.parametrize("kind", ["entropy", "log-barrier", "entropy-floor"])
def test_policy_bonus_vs_loop(kind):
    g = torch.Generator().manual_seed(13)
    logits = 4.0 * torch.randn(3, 2, 5, generator=g, dtype=torch.float64)  # some pi_a < 0.002
    bonus = losses.policy_bonus(torch.log_softmax(logits, -1), kind)
    assert bonus.shape == (3, 2)
    assert float(torch.softmax(logits, -1).min()) < 0.01 / 5  # the floor's term is not all zero
    for t in range(3):
        for b in range(2):
            probs = torch.softmax(logits[t, b], -1).tolist()
            assert float(bonus[t, b]) == pytest.approx(_bonus_by_hand(probs, kind), rel=1e-12)
    uniform = torch.log_softmax(torch.zeros(4), -1)
    assert float(losses.policy_bonus(uniform, "log-barrier")) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="log-barrier"):
        losses.policy_bonus(uniform, "gini")


def test_log_barrier_keeps_pulling_a_dead_action_back():
    """The gradient of -KL(U || pi) on logit a is 1/A - pi_a (hand-derived), so an action of
    probability ~0 is pushed up by ~1/A; the entropy's push, -pi_a (log pi_a + H), is ~0 there.
    (A ColourMatch run that never chose its fourth colour: docs/learning.md.)"""
    logits = torch.tensor([4.0, 3.0, 2.0, -30.0], dtype=torch.float64, requires_grad=True)
    pi = torch.softmax(logits.detach(), -1)
    (g_barrier,) = torch.autograd.grad(
        losses.policy_bonus(torch.log_softmax(logits, -1), "log-barrier"), [logits]
    )
    torch.testing.assert_close(g_barrier, 0.25 - pi)
    assert float(g_barrier[3]) == pytest.approx(0.25, rel=1e-9)
    (g_entropy,) = torch.autograd.grad(
        losses.policy_bonus(torch.log_softmax(logits, -1), "entropy"), [logits]
    )
    assert abs(float(g_entropy[3])) < 1e-10


def test_entropy_floor_pulls_only_the_actions_below_it():
    """entropy-floor = the entropy + (1/A) sum_a min(0, log pi_a - log(0.01 / A)): on a dead
    action its gradient is the log-barrier's (~1/A on that logit, hand-derived: (1/A)(1 - pi_a)),
    and on a policy with every action above the floor it is the entropy's, exactly (so a
    near-deterministic policy, 1 - (A - 1) 0.01 / A on one action, is not pulled towards uniform)."""

    def grad(logits: torch.Tensor, kind: str) -> torch.Tensor:
        x = logits.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(losses.policy_bonus(torch.log_softmax(x, -1), kind), [x])
        return g

    dead = torch.tensor([4.0, 3.0, 2.0, -30.0], dtype=torch.float64)
    pi = torch.softmax(dead, -1)
    g_floor, g_entropy = grad(dead, "entropy-floor"), grad(dead, "entropy")
    barrier = torch.tensor([-pi[0], -pi[1], -pi[2], 1.0 - pi[3]], dtype=torch.float64) / 4
    torch.testing.assert_close(g_floor, g_entropy + barrier)
    assert float(g_floor[3]) == pytest.approx(0.25, rel=1e-9)
    alive = torch.tensor([5.0, 0.0, 0.0, 0.0], dtype=torch.float64)  # pi = 0.98 / 0.0066 x 3
    assert float(torch.softmax(alive, -1).min()) > 0.01 / 4
    torch.testing.assert_close(grad(alive, "entropy-floor"), grad(alive, "entropy"))


# ------------------------------------------------------------------------------- masked mean
def test_masked_mean_vs_loop():
    g = torch.Generator().manual_seed(12)
    x = torch.randn(5, 4, generator=g)
    mask = (torch.rand(5, 4, generator=g) > 0.4).float()
    vals = [float(x[i, j]) for i in range(5) for j in range(4) if mask[i, j] > 0]
    assert float(losses.masked_mean(x, mask)) == pytest.approx(sum(vals) / len(vals), abs=1e-6)
    assert float(losses.masked_mean(x, torch.zeros(5, 4))) == 0.0
