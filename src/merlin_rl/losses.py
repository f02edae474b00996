"""Losses (DESIGN.md §2): analytic KL, GAE / lambda-returns, the two-part return loss, the policy
gradient loss. Time-major tensors: (T, B)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from merlin_rl.memory import cosine_similarity


def gaussian_kl(mu_q: Tensor, logsig_q: Tensor, mu_p: Tensor, logsig_p: Tensor) -> Tensor:
    """KL(N(mu_q, sig_q^2) || N(mu_p, sig_p^2)) for diagonal Gaussians, summed over the last dim.

    KL = log sig_p - log sig_q + (sig_q^2 + (mu_q - mu_p)^2) / (2 sig_p^2) - 1/2.
    """
    var_ratio = torch.exp(2.0 * (logsig_q - logsig_p))
    mean_term = (mu_q - mu_p).pow(2) * torch.exp(-2.0 * logsig_p)
    return (logsig_p - logsig_q + 0.5 * (var_ratio + mean_term) - 0.5).sum(-1)


def kl_objective(
    mu_q: Tensor,
    logsig_q: Tensor,
    mu_p: Tensor,
    logsig_p: Tensor,
    free_nats: float = 1.0,
    balance: float = 0.8,
) -> Tensor:
    """The ELBO's KL term as optimised by default (DESIGN.md §2, "the latent must carry the
    observation"): KL balancing with free nats.

    L_KL = balance max(f, KL(sg(q) || p)) + (1 - balance) max(f, KL(q || sg(p))), f = free_nats.

    Its value is max(f, KL(q || p)); ``balance`` is the share of the KL gradient that trains the
    prior (the posterior gets the rest), and the first ``f`` nats of a step's KL cost nothing
    (free bits on the step's total). The paper's literal term is :func:`gaussian_kl`. (...,)."""
    to_prior = gaussian_kl(mu_q.detach(), logsig_q.detach(), mu_p, logsig_p)
    to_post = gaussian_kl(mu_q, logsig_q, mu_p.detach(), logsig_p.detach())
    if free_nats > 0.0:
        to_prior, to_post = to_prior.clamp(min=free_nats), to_post.clamp(min=free_nats)
    return balance * to_prior + (1.0 - balance) * to_post


def gaussian_log_prob(x: Tensor, mu: Tensor, logsig: Tensor) -> Tensor:
    """log N(x; mu, sig^2) summed over the last dim (used by tests and diagnostics)."""
    return (
        -0.5 * ((x - mu) * torch.exp(-logsig)).pow(2) - logsig - 0.5 * math.log(2 * math.pi)
    ).sum(-1)


def gae(
    rewards: Tensor,
    values: Tensor,
    bootstrap: Tensor,
    dones: Tensor,
    terminals: Tensor,
    gamma: float,
    lam: float,
    cut: Tensor | None = None,
) -> Tensor:
    """Generalised advantage estimates over one segment.

    delta_t = r_t + gamma V_{t+1} (1 - terminal_t) - V_t, with V_T = ``bootstrap``;
    Adv_t = delta_t + gamma lam (1 - done_t) (1 - cut_t) Adv_{t+1}.
    ``terminals`` (episode really ended) stops bootstrapping; ``dones`` (ended or truncated) stops
    the accumulation. Under a time-limit truncation V_{t+1} is the value of the final observation.
    ``cut`` (bool, optional) stops the accumulation too, but keeps the bootstrap: where cut_t,
    Adv_t = delta_t (``--credit-cut reward`` cuts at every rewarded step).
    All inputs (T, B) except ``bootstrap`` (B,); returns (T, B), without gradient.
    """
    rewards, values, bootstrap = rewards.detach(), values.detach(), bootstrap.detach()
    T = rewards.shape[0]
    next_values = torch.cat([values[1:], bootstrap[None]], 0)
    deltas = rewards + gamma * next_values * (1.0 - terminals.float()) - values
    carry = (gamma * lam) * (1.0 - dones.float())
    if cut is not None:
        carry = carry * (1.0 - cut.float())
    adv = torch.zeros_like(rewards)
    acc = torch.zeros_like(bootstrap)
    for t in reversed(range(T)):
        acc = deltas[t] + carry[t] * acc
        adv[t] = acc
    return adv


def return_loss(value: Tensor, advantage: Tensor, target: Tensor) -> Tensor:
    """L_return = 1/2 (||R - V||^2 + ||R - (stopgrad(V) + A)||^2), elementwise.

    The first term trains V only, the second trains A only.
    """
    target = target.detach()
    return 0.5 * ((target - value).pow(2) + (target - (value.detach() + advantage)).pow(2))


POLICY_BONUSES = ("entropy", "log-barrier", "entropy-floor")
FLOOR_FRACTION = 0.01  # entropy-floor: the barrier acts below pi_a = FLOOR_FRACTION / A


def policy_bonus(log_pi: Tensor, kind: str = "entropy") -> Tensor:
    """The policy's regulariser B(pi_t), maximised with weight entropy_cost, of log-probabilities
    log_pi (..., A); returns (...).

    ``entropy``: H(pi) = -sum_a pi_a log pi_a (the paper's). Its gradient on logit a,
    -pi_a (log pi_a + H), vanishes as pi_a -> 0: an action the policy has stopped taking is not
    pulled back. ``log-barrier``: -KL(U || pi) = (1/A) sum_a log pi_a + log A (U uniform; the
    log-barrier regulariser of Agarwal et al. 2020, "On the theory of policy gradient methods"),
    <= 0, 0 at the uniform policy; its gradient on logit a is 1/A - pi_a, which tends to 1/A as
    pi_a -> 0. ``entropy-floor``: H(pi) + (1/A) sum_a min(0, log pi_a - log f), f =
    FLOOR_FRACTION / A: the entropy, plus the log-barrier on the actions below the floor f only,
    so a dead action is pulled back (by ~1/A on its logit) while the policy may still put up to
    1 - (A - 1) f on one action (the log-barrier's pull on every action cost a near-deterministic
    task 13%: docs/learning.md, twenty-first session)."""
    if kind == "entropy":
        return -(log_pi.exp() * log_pi).sum(-1)
    if kind == "log-barrier":
        return log_pi.mean(-1) + math.log(log_pi.shape[-1])
    if kind == "entropy-floor":
        floor = math.log(FLOOR_FRACTION / log_pi.shape[-1])
        return policy_bonus(log_pi, "entropy") + (log_pi - floor).clamp(max=0.0).mean(-1)
    raise ValueError(f"policy bonus {kind!r} is not known; allowed: {', '.join(POLICY_BONUSES)}")


def policy_loss(log_prob: Tensor, advantages: Tensor, bonus: Tensor, entropy_cost: float) -> Tensor:
    """-stopgrad(Adv_t) log pi(a_t) - entropy_cost B(pi_t), elementwise (B: :func:`policy_bonus`,
    the entropy H(pi_t) by default)."""
    return -advantages.detach() * log_prob - entropy_cost * bonus


def clipped_policy_loss(
    ratio: Tensor, advantages: Tensor, bonus: Tensor, entropy_cost: float, clip: float
) -> Tensor:
    """PPO's clipped surrogate: -min(rho Adv, clip(rho, 1 - eps, 1 + eps) Adv) - c B, elementwise,
    with rho = pi(a_t) / pi_old(a_t) and B :func:`policy_bonus`. At rho = 1 its value and gradient
    equal :func:`policy_loss`'s (the A2C update with K = 1)."""
    adv = advantages.detach()
    surrogate = torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv)
    return -surrogate - entropy_cost * bonus


def approx_kl(log_ratio: Tensor) -> Tensor:
    """KL(pi_old || pi) per step, estimated from the taken action's log rho = log pi - log pi_old:
    (rho - 1) - log rho (Schulman's unbiased, non-negative estimator; SB3's ``approx_kl``),
    elementwise, no gradient."""
    log_ratio = log_ratio.detach()
    return torch.expm1(log_ratio) - log_ratio


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``x`` over entries where ``mask`` is 1 (0 if there are none)."""
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def hindsight_read_loss(
    keys: Tensor, beta: Tensor, M: Tensor, written: Tensor, z_next: Tensor
) -> tuple[Tensor, Tensor]:
    """The hindsight read term (``--read-target-cost``; not in the MERLIN paper).

    For a read with key k (..., W) and strength beta (...) over the rows M (..., N, W) of a memory
    (``written`` (..., N) bool), the target row is j* = argmax over written j of
    cos(z_next, M[j, :Z]) with z_next (..., Z) the posterior's mean one step after the read, and
    the loss is -log softmax_j(beta cos(k, M[j]))[j*] over the written rows (the read's own weights,
    memory.read_weights). No gradient reaches M or z_next. Returns (loss (...), hit (...) bool:
    whether the read's top row is j*); entries with no written row get loss 0 and hit False."""
    lead, (n, w), zd = keys.shape[:-1], M.shape[-2:], z_next.shape[-1]
    M, z_next = M.detach().reshape(-1, n, w), z_next.detach().reshape(-1, 1, zd)
    live = written.reshape(-1, n)
    near = cosine_similarity(z_next, M[..., :zd].contiguous()).squeeze(1)  # (L, N)
    target = near.masked_fill(~live, -math.inf).argmax(-1, keepdim=True)
    cos = cosine_similarity(keys.reshape(-1, 1, w), M).squeeze(1)
    log_p = torch.log_softmax((beta.reshape(-1, 1) * cos).masked_fill(~live, -1e9), -1)
    any_row = live.any(-1)
    loss = torch.where(any_row, -log_p.gather(-1, target).squeeze(-1), 0.0)
    hit = any_row & (log_p.argmax(-1) == target.squeeze(-1))
    return loss.reshape(lead), hit.reshape(lead)
