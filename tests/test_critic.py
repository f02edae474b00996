"""--baseline critic: the advantages' baseline V~_t = MLP([z_t, c~_t]) with c~_t = LSTM_c(z_t,
c~_{t-1}), a critic LSTM of its own beside the policy's (its state stacked after the policy
LSTM's layers)."""

from __future__ import annotations

import torch

from merlin_rl.config import make_config
from merlin_rl.learner import replay
from merlin_rl.train import Trainer
from scripts import TINY


def _trainer(tmp_path, name: str, **kw) -> Trainer:
    return Trainer(make_config("small", **{**TINY, **kw}), run_dir=tmp_path / name, progress=False)


def test_the_critic_is_an_lstm_of_its_own_and_leaves_the_policy_alone(tmp_path):
    """The critic's value is the head on [z_t, c~_t] with c~ stepped by its own LSTM from a zero
    state at every episode start (a hand loop over steps); the initial policy is the default's;
    the value loss reaches the critic LSTM and value head and no policy or MBP parameter."""
    tr = _trainer(tmp_path, "critic", baseline="critic", policy_value_cost=1.0)
    default = _trainer(tmp_path, "default")
    seg, seg0 = tr.rollout(), default.rollout()
    torch.testing.assert_close(seg.outputs[0].logits, seg0.outputs[0].logits)
    torch.testing.assert_close(seg.log_probs, seg0.log_probs)  # the same actions, the same pi
    assert tr.agent.initial_state(TINY["num_envs"], torch.device("cpu")).pol_h.shape[1] == 4
    policy = tr.agent.policy
    n = policy.lstm.layers
    h = seg.start_state.pol_h[:, n:].clone()
    c = seg.start_state.pol_c[:, n:].clone()
    for t, o in enumerate(seg.outputs):
        keep = (~seg.starts[t]).float().view(-1, 1, 1)
        h, c = h * keep, c * keep
        zt = tr.agent.policy_z(o.z, o.dist, o.reads).detach()
        hs, cs = [], []
        x = zt
        for i, cell in enumerate(policy.critic.cells):
            hi, ci = cell(x, (h[:, i], c[:, i]))
            hs.append(hi)
            cs.append(ci)
            x = hi
        h, c = torch.stack(hs, 1), torch.stack(cs, 1)
        value = policy.value_head(torch.cat([zt, h.flatten(1)], -1)).squeeze(-1)
        torch.testing.assert_close(o.policy_value, value, atol=1e-5, rtol=1e-5)

    outs, _ = replay(tr.agent, seg)
    adv, targets = tr.learner.targets(seg, tr.learner.baseline(seg))
    _, pol_targets = tr.learner.policy_targets(seg)
    _, with_value, _ = tr.learner.losses(outs, seg, adv, targets, policy_targets=pol_targets)
    _, without, _ = tr.learner.losses(outs, seg, adv, targets)
    tr.agent.zero_grad(set_to_none=True)
    (with_value - without).backward()  # the value term alone
    for name, p in tr.agent.named_parameters():
        moved = p.grad is not None and bool(p.grad.abs().sum() > 0)
        critic = name.startswith(("policy.value_head.", "policy.critic."))
        assert moved == critic, name
    logs = tr.update(tr.rollout())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    for t in (tr, default):
        t.env.close()


def test_a_run_with_the_critic_resumes_exactly(tmp_path):
    """The critic's LSTM state travels in the agent's state: after a checkpoint and a load into a
    fresh trainer, the next segment and update are the same as the uninterrupted run's."""
    a = _trainer(tmp_path, "a", baseline="critic")
    a.update(a.rollout())
    path = a.checkpoint()
    b = _trainer(tmp_path, "b", baseline="critic")
    assert b.load(path)
    seg_a, seg_b = a.rollout(), b.rollout()
    for oa, ob in zip(seg_a.outputs, seg_b.outputs):
        torch.testing.assert_close(oa.logits, ob.logits)
        torch.testing.assert_close(oa.policy_value, ob.policy_value)
    logs_a, logs_b = a.update(seg_a), b.update(seg_b)
    assert logs_a["loss/policy_value"] == logs_b["loss/policy_value"]
    for t in (a, b):
        t.env.close()


def test_the_policy_gives_its_own_part_of_a_state_stacked_with_the_critics():
    """own_state / own_output pick the policy LSTM's layers and outputs: the critic's state,
    stacked after them, never reaches what the policy's keys and head see."""
    from merlin_rl.policy import Policy

    torch.manual_seed(0)
    pol = Policy(
        z_dim=5, num_actions=3, hidden=8, mlp_hidden=16, mem_width=0, critic=True, value_outputs=1
    )
    b = 4
    h, c = torch.randn(b, pol.layers, 8), torch.randn(b, pol.layers, 8)
    z = torch.randn(b, 5)
    h_cat, h2, c2 = pol.core(z, h, c)
    alone, h1, c1 = pol.lstm(z, pol.own_state(h), pol.own_state(c))
    assert pol.own_state(h).shape == (b, pol.lstm.layers, 8)
    assert torch.equal(pol.own_output(h_cat), alone)
    assert torch.equal(pol.own_state(h2), h1) and torch.equal(pol.own_state(c2), c1)
    # the critic's half of the state changes what core returns beyond the policy's part only
    h_other = h.clone()
    h_other[:, pol.lstm.layers :] += 1.0
    h_cat2, _, _ = pol.core(z, h_other, c)
    assert torch.equal(pol.own_output(h_cat2), alone)
    assert not torch.equal(h_cat2, h_cat)
