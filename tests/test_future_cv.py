"""--future-cv a-head (learner.Learner._shaped_advantages, Agent.action_control_variate): the
later steps' own action advantages, centred under the acting policy, leave a_t's advantage."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from merlin_rl.config import ConfigError, make_config
from merlin_rl.train import Trainer
from scripts import TINY

# RepeatSymbol with 6-step episodes: every step is rewarded and a 7-step segment holds episode ends
ENV = dict(env="merlin_rl/RepeatSymbol-v0", env_kwargs={"episode_length": 6, "k": 1})


def _trainer(tmp_path, name: str, **kw) -> Trainer:
    """The control variates were built on the MBP's V (``policy-q`` needs --baseline mbp)."""
    cfg = make_config("small", **{**TINY, **ENV, "baseline": "mbp", **kw})
    return Trainer(cfg, run_dir=tmp_path / name, progress=False)


def _centred_a_loop(agent, seg) -> torch.Tensor:
    """c_t = A(z_t, a_t) - sum_a pi_t(a) A(z_t, a), one step, env and action at a time."""
    T, B = seg.rewards.shape
    num = agent.num_actions
    out = torch.zeros(T, B)
    with torch.no_grad():
        for t, o in enumerate(seg.outputs):
            for b in range(B):
                z, pi = o.z[b : b + 1], F.softmax(o.logits[b : b + 1], -1)
                adv = []
                for a in range(num):
                    onehot = F.one_hot(torch.tensor([a]), num).float()
                    adv.append(float(agent.mbp.returns(z, pi.log(), onehot)[1]))
                mean = sum(float(pi[0, a]) * adv[a] for a in range(num))
                out[t, b] = adv[int(seg.actions[t, b])] - mean
    return out


def _advantage_loop(seg, values, c, gamma, lam, cut=None) -> torch.Tensor:
    """Adv_t = delta_t + sum_{k >= 1} (gamma lam)^k (delta_{t+k} - c_{t+k}), the sum stopped at
    the episode's end (and after a step where ``cut``), written as an explicit sum over k for
    each t and env."""
    cut = torch.zeros_like(seg.dones) if cut is None else cut
    T, B = seg.rewards.shape
    out = torch.zeros(T, B)
    for b in range(B):
        delta = []
        for t in range(T):
            nxt = float(values[t + 1, b]) if t + 1 < T else float(seg.bootstrap[b])
            boot = 0.0 if seg.terminals[t, b] else gamma * nxt
            delta.append(float(seg.rewards[t, b]) + boot - float(values[t, b]))
        for t in range(T):
            total = delta[t]
            for k in range(1, T - t):
                if seg.dones[t + k - 1, b] or cut[t + k - 1, b]:
                    break
                total += (gamma * lam) ** k * (delta[t + k] - float(c[t + k, b]))
            out[t, b] = total
    return out


@pytest.mark.parametrize("agent", ["merlin", "rl-lstm"])
def test_future_cv_takes_the_later_actions_advantages_out_of_the_policys_credit(tmp_path, agent):
    """The learner's advantages against the hand loops; the return heads' targets stay the plain
    lambda-returns; the control variate has zero mean under pi at every step. Off (the default)
    is plain GAE."""
    tr = _trainer(tmp_path, agent, agent=agent, future_cv="a-head", lam=0.9)
    tr.update(tr.rollout())  # the A head away from its initial output
    seg = tr.rollout()
    assert seg.dones.any() and not seg.dones.all()
    values = tr.learner.baseline(seg)
    adv, targets = tr.learner.targets(seg, values)
    c = _centred_a_loop(tr.agent, seg)
    torch.testing.assert_close(tr.agent.action_control_variate(seg.outputs), c)
    assert c.abs().max() > 1e-4
    expected = _advantage_loop(seg, values, c, tr.cfg.gamma, 0.9)
    torch.testing.assert_close(adv, expected, rtol=1e-5, atol=1e-6)
    tr.learner.cfg.future_cv = "off"  # the learner's own copy of the config
    adv_off, targets_off = tr.learner.targets(seg, values)
    torch.testing.assert_close(targets, targets_off)
    torch.testing.assert_close(
        adv_off, _advantage_loop(seg, values, torch.zeros_like(c), tr.cfg.gamma, 0.9)
    )
    assert not torch.allclose(adv, adv_off)
    tr.env.close()


def test_the_control_variate_is_centred_under_the_acting_policy(tmp_path):
    """sum_a pi_t(a) c_t(a) = 0: with each action put in turn as the acted one, the pi-weighted
    mean of the control variates vanishes (so it leaves the policy gradient unbiased)."""
    tr = _trainer(tmp_path, "centred", future_cv="a-head")
    tr.update(tr.rollout())
    seg = tr.rollout()
    pi = torch.stack([F.softmax(o.logits, -1) for o in seg.outputs])  # (T, B, A)
    total = torch.zeros(pi.shape[:2])
    for a in range(tr.agent.num_actions):
        outs = [dataclasses.replace(o, action=torch.full_like(o.action, a)) for o in seg.outputs]
        total += pi[..., a] * tr.agent.action_control_variate(outs)
    torch.testing.assert_close(total, torch.zeros_like(total), atol=1e-6, rtol=0)
    tr.env.close()


def test_future_cv_with_the_credit_cut_and_the_policys_baseline(tmp_path):
    """Combined with --credit-cut reward (the trace also stops at rewards) and with --baseline
    policy (on the policy's V~, whose targets stay the plain lambda-returns)."""
    tr = _trainer(tmp_path, "cut", future_cv="a-head", credit_cut="reward")
    tr.update(tr.rollout())
    seg = tr.rollout()
    values = tr.learner.baseline(seg)
    adv, _ = tr.learner.targets(seg, values)
    c, cut = _centred_a_loop(tr.agent, seg), seg.rewards != 0
    assert cut.any() and not cut.all()  # step 0 of an episode is not rewarded
    expected = _advantage_loop(seg, values, c, tr.cfg.gamma, tr.cfg.lam, cut)
    torch.testing.assert_close(adv, expected, rtol=1e-5, atol=1e-6)
    tr.env.close()

    tr = _trainer(tmp_path, "policy", future_cv="a-head", baseline="policy")
    tr.update(tr.rollout())
    seg = tr.rollout()
    rewards = seg.rewards
    adv, targets = tr.learner.policy_targets(seg, rewards)
    pv = torch.stack([o.policy_value for o in seg.outputs])
    c = _centred_a_loop(tr.agent, seg)
    gamma = tr.cfg.gamma
    seg_pb = dataclasses.replace(seg, bootstrap=seg.policy_bootstrap)
    expected = _advantage_loop(seg_pb, pv, c, gamma, tr.cfg.lam)
    torch.testing.assert_close(adv, expected, rtol=1e-5, atol=1e-6)
    zero = torch.zeros_like(c)
    torch.testing.assert_close(targets, _advantage_loop(seg_pb, pv, zero, gamma, tr.cfg.lam) + pv)
    tr.env.close()


def test_future_cv_is_checked():
    with pytest.raises(ConfigError, match="future"):
        make_config("small", future_cv="q")


def _q_loop(seg) -> torch.Tensor:
    """c_t = Q~_t(a_t) - sum_a pi_t(a) Q~_t(a) from the acted steps, one step and env at a time."""
    T, B = seg.rewards.shape
    out = torch.zeros(T, B)
    for t, o in enumerate(seg.outputs):
        for b in range(B):
            pi = F.softmax(o.logits[b], -1)
            q = o.policy_value[b]
            a = int(seg.actions[t, b])
            out[t, b] = float(q[a]) - sum(float(pi[i] * q[i]) for i in range(len(q)))
    return out


@pytest.mark.parametrize("agent", ["merlin", "rl-lstm"])
def test_policy_q_is_the_control_variate_and_learns_the_return_targets(tmp_path, agent):
    """--future-cv policy-q: the policy's value head gives Q~_t(a) for every action (acting and
    replay agree), the advantages take its centred acted value out of the later steps, and the
    policy's loss adds Q~_t(a_t)'s squared error against the one-step targets, whose
    gradient reaches the Q~ head (and, for MERLIN, no MBP parameter)."""
    from merlin_rl.learner import replay, replay_policy

    tr = _trainer(tmp_path, agent, agent=agent, future_cv="policy-q", lam=0.9)
    tr.update(tr.rollout())
    seg = tr.rollout()
    num = tr.agent.num_actions
    assert seg.outputs[0].policy_value.shape == (TINY["num_envs"], num)
    _, _, q = replay_policy(tr.agent, seg)
    torch.testing.assert_close(q, torch.stack([o.policy_value for o in seg.outputs]))
    values = tr.learner.baseline(seg)
    adv, targets, q_targets = tr.learner.advantages(seg)
    zero = torch.zeros_like(values)
    one_step = _advantage_loop(seg, values, zero, tr.cfg.gamma, 1e-9) + values  # r + gamma V'
    torch.testing.assert_close(q_targets, one_step, rtol=1e-5, atol=1e-6)
    c = _q_loop(seg)
    assert c.abs().max() > 1e-5
    expected = _advantage_loop(seg, values, c, tr.cfg.gamma, 0.9)
    torch.testing.assert_close(adv, expected, rtol=1e-5, atol=1e-6)

    tr.agent.zero_grad()
    outs, _ = replay(tr.agent, seg)
    _, policy_loss, logs = tr.learner.losses(outs, seg, adv, targets, policy_targets=q_targets)
    q_acted = torch.stack([o.policy_value.detach() for o in outs]).gather(
        -1, seg.actions[..., None]
    )
    m = seg.valid.float()
    hand = float(((q_acted.squeeze(-1) - q_targets).square() * m).sum() / m.sum())
    assert logs["loss/policy_value"] == pytest.approx(hand, rel=1e-5)
    policy_loss.backward()
    head = tr.agent.policy.value_head
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    if agent == "merlin":
        assert all(p.grad is None or not p.grad.any() for p in tr.agent.mbp.parameters())
    tr.env.close()


def test_policy_q_leaves_the_initial_policy_alone_and_is_checked(tmp_path):
    """The Q~ head is made after the policy's head: the initial logits are the default's. It takes
    the policy's value head, so --baseline policy (which needs V~ there) is refused."""
    a = _trainer(tmp_path, "q", future_cv="policy-q")
    b = _trainer(tmp_path, "off")
    torch.testing.assert_close(a.rollout().outputs[0].logits, b.rollout().outputs[0].logits)
    for tr in (a, b):
        tr.env.close()
    with pytest.raises(ConfigError, match="--baseline mbp"):
        make_config("small", future_cv="policy-q", baseline="policy")


@pytest.mark.parametrize("kind", ["a-head", "policy-q"])
def test_the_share_of_the_td_errors_variance_the_control_variate_explains_is_logged(tmp_path, kind):
    """cv/explained = 1 - Var(delta - c) / Var(delta) over the valid steps (the hand formula)."""
    tr = _trainer(tmp_path, kind, future_cv=kind)
    tr.update(tr.rollout())
    seg = tr.rollout()
    values = tr.learner.baseline(seg)
    tr.learner.advantages(seg)
    c = _q_loop(seg) if kind == "policy-q" else _centred_a_loop(tr.agent, seg)
    delta = _advantage_loop(seg, values, torch.zeros_like(c), tr.cfg.gamma, 1e-9)
    m = seg.valid.bool()
    d, e = delta[m], (delta - c)[m]
    hand = 1 - float(e.var(unbiased=False) / d.var(unbiased=False))
    assert tr.learner.segment_logs["cv/explained"] == pytest.approx(hand, abs=1e-5)
    tr.env.close()
