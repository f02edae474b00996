"""The replay learner (DESIGN.md §2, learner.py): re-running an acted segment reproduces it, its
gradients equal the single-graph update's, PPO's clipped objective, K epochs x minibatches."""

from __future__ import annotations

import dataclasses

import math

import pytest
import torch

from merlin_rl import losses
from merlin_rl.config import make_config
from merlin_rl.learner import replay, replay_policy
from merlin_rl.train import Trainer
from scripts import TINY


def _trainer(tmp_path, name: str, **kw) -> Trainer:
    return Trainer(make_config("small", **{**TINY, **kw}), run_dir=tmp_path / name, progress=False)


def _segment_then_move_the_mbp(tr: Trainer):
    """After one update, act a segment, then move every MBP parameter (as an earlier minibatch
    step would) and return the segment."""
    tr.update(tr.rollout())
    seg = tr.rollout()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in tr.agent.mbp.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    return seg


AGENT_VIEWS = [
    ("merlin", "acted", "z"),
    ("merlin", "current", "z"),
    ("rl-mem", "current", "z"),
    ("rl-lstm", "current", "z"),
    # the policy takes the MBP's reads m_{t-1} in as well (--policy-sees z+reads)
    ("merlin", "acted", "z+reads"),
    ("merlin", "current", "z+reads"),
    ("rl-mem", "current", "z+reads"),
]


@pytest.mark.parametrize("agent,view,sees", AGENT_VIEWS)
def test_replay_reproduces_the_acting_pass(tmp_path, agent, view, sees):
    """Same z, logits, entropies, reads, memory and recurrent states (episode ends and overwrites
    inside the segment: 5-step episodes, 4 rows, 7 steps, after a first segment), for MERLIN and
    both ablations."""
    tr = _trainer(tmp_path, "a", agent=agent, epochs=2, replay_view=view, policy_sees=sees)
    tr.update(tr.rollout())
    seg = tr.rollout()
    assert not seg.with_graph
    outs, state = replay(tr.agent, seg)
    assert outs[0].z.requires_grad and outs[0].logits.requires_grad
    for t, (a, b) in enumerate(zip(seg.outputs, outs)):
        for name in ("z", "logits", "log_prob", "entropy", "mbp_weights", "policy_weights"):
            if getattr(a, name) is None:  # no memory (RL-LSTM)
                assert getattr(b, name) is None, name
                continue
            torch.testing.assert_close(
                getattr(b, name).detach(),
                getattr(a, name),
                atol=1e-5,
                rtol=1e-5,
                msg=lambda m, n=name, t=t: f"{n} t={t}: {m}",
            )
        assert torch.equal(a.action, b.action)
    if agent != "rl-lstm":
        for name, x in tr.state.memory.as_dict().items():
            y = state.memory.as_dict()[name]
            torch.testing.assert_close(y.detach().to(x.dtype), x, atol=1e-5, rtol=1e-5, msg=name)
    for name in ("mbp_h", "mbp_c", "pol_h", "pol_c"):
        torch.testing.assert_close(
            getattr(state, name).detach(), getattr(tr.state, name), atol=1e-5, rtol=1e-5, msg=name
        )
    # a minibatch of environments replays as its slice of the batch
    index = torch.tensor([3, 1])
    sub, sub_state = replay(tr.agent, seg, index)
    for a, b in zip(outs, sub):
        torch.testing.assert_close(b.z, a.z[index], atol=1e-6, rtol=1e-6)
        torch.testing.assert_close(b.logits, a.logits[index], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(sub_state.pol_h, state.pol_h[index], atol=1e-6, rtol=1e-6)
    if agent != "rl-lstm":
        torch.testing.assert_close(sub_state.memory.M, state.memory.M[index], atol=1e-6, rtol=1e-6)
    tr.env.close()


@pytest.mark.parametrize("policy_input", ["sample", "mean"])
def test_acted_view_gives_the_policy_its_acting_inputs(tmp_path, policy_input):
    """replay_view acted: after the MBP has moved (as after a minibatch step), the replayed policy
    still reads the z_t and memory it acted on, so its logits and read weights are the acting
    pass's (rho = 1 until the policy itself changes); with ``current`` they move with the MBP.
    Episode ends and overwrites fall inside the segment (5-step episodes, 4 rows, 7 steps)."""
    tr = _trainer(tmp_path, "view", epochs=2, replay_view="acted", policy_input=policy_input)
    seg = _segment_then_move_the_mbp(tr)
    index = torch.tensor([2, 0, 3])
    outs, _ = replay(tr.agent, seg, index)
    for t, (a, b) in enumerate(zip(seg.outputs, outs)):
        assert not torch.allclose(b.z.detach(), a.z[index], atol=1e-3), t  # the MBP moved
        for name in ("logits", "policy_weights"):
            torch.testing.assert_close(
                getattr(b, name).detach(), getattr(a, name)[index], atol=1e-5, rtol=1e-5
            )
    tr.agent.cfg.replay_view = "current"
    outs, _ = replay(tr.agent, seg, index)
    assert any(
        not torch.allclose(b.logits.detach(), a.logits[index], atol=1e-4)
        for a, b in zip(seg.outputs, outs)
    )
    tr.env.close()


@pytest.mark.parametrize("agent,view,sees", AGENT_VIEWS)
def test_replay_gradients_equal_the_single_graph_gradients(tmp_path, agent, view, sees):
    """The replayed segment's loss has the single graph's gradients (for the ablations the policy
    gradient also reaches the MBP through z_t and the memory)."""
    kw = {"agent": agent, "policy_sees": sees}
    single = _trainer(tmp_path, "single", epochs=1, minibatches=1, **kw)
    replayed = _trainer(tmp_path, "replayed", epochs=3, replay_view=view, **kw)
    for tr in (single, replayed):  # one real update first, so the reward scale is not 1
        tr.update(tr.rollout())
    replayed.agent.load_state_dict(single.agent.state_dict())
    grads = []
    for tr in (single, replayed):
        seg = tr.rollout()
        assert seg.with_graph == (tr is single)
        with torch.no_grad():
            values = tr.agent.evaluate(seg.outputs).value
        adv, targets = tr.learner.targets(seg, values)
        outs = seg.outputs if seg.with_graph else replay(tr.agent, seg)[0]
        mbp_loss, policy_loss, _ = tr.learner.losses(outs, seg, adv, targets)
        tr.agent.zero_grad(set_to_none=True)
        (mbp_loss + policy_loss).backward()
        grads.append(
            {k: p.grad.clone() for k, p in tr.agent.named_parameters() if p.grad is not None}
        )
        tr.env.close()
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], atol=1e-5, rtol=1e-4, msg=k)


def test_clipped_policy_loss_hand_example():
    ratio = torch.tensor([0.5, 1.0, 1.5, 1.5], requires_grad=True)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    ent = torch.tensor([0.1, 0.2, 0.3, 0.4])
    loss = losses.clipped_policy_loss(ratio, adv, ent, entropy_cost=0.5, clip=0.2)
    # min(rho A, clip(rho) A): 0.5 (unclipped), -1, 1.2 (clipped at 1.2), -1.5 (unclipped)
    expected = -torch.tensor([0.5, -1.0, 1.2, -1.5]) - 0.5 * ent
    torch.testing.assert_close(loss.detach(), expected)
    loss.sum().backward()
    torch.testing.assert_close(ratio.grad, torch.tensor([-1.0, 1.0, 0.0, 1.0]))
    # at rho = 1 it is the A2C loss, value and gradient
    lp = torch.tensor([-1.0, -2.0], requires_grad=True)
    a2 = torch.tensor([0.7, -0.3])
    ppo = losses.clipped_policy_loss(torch.exp(lp - lp.detach()), a2, torch.zeros(2), 0.0, 0.2)
    g1 = torch.autograd.grad(ppo.sum(), lp)[0]
    a2c = losses.policy_loss(lp, a2, torch.zeros(2), 0.0)
    g2 = torch.autograd.grad(a2c.sum(), lp)[0]
    torch.testing.assert_close(g1, g2)


def test_approx_kl_hand_example():
    """(rho - 1) - log rho at rho = 1, 2, 1/2: 0, 1 - ln 2, ln 2 - 1/2 (all >= 0)."""
    log_ratio = torch.tensor([1.0, 2.0, 0.5]).log()
    expected = torch.tensor([0.0, 1.0 - math.log(2.0), math.log(2.0) - 0.5])
    torch.testing.assert_close(losses.approx_kl(log_ratio), expected)


@pytest.mark.parametrize("target_kl,steps", [(1e-12, 1), (0.0, 6), (1e6, 6)])
def test_kl_early_stop_ends_the_epochs(tmp_path, target_kl, steps):
    """3 epochs x 2 minibatches: a KL target the first step exceeds leaves 1 gradient step; no
    target (0) or one never reached leaves all 6."""
    tr = _trainer(
        tmp_path, f"kl{target_kl}", epochs=3, minibatches=2, target_kl=target_kl, policy_epochs=0
    )
    logs = tr.update(tr.rollout())
    counts = {int(s["step"]) for s in tr.opt_policy.state_dict()["state"].values()}
    assert counts == {steps} and logs["policy/gradient_steps"] == steps
    assert logs["policy/approx_kl"] >= 0.0
    tr.env.close()


@pytest.mark.parametrize("epochs,minibatches", [(1, 2), (3, 2)])
def test_epochs_and_minibatches_take_that_many_steps(tmp_path, epochs, minibatches):
    tr = _trainer(tmp_path, f"k{epochs}m{minibatches}", epochs=epochs, minibatches=minibatches)
    before = {k: p.detach().clone() for k, p in tr.agent.named_parameters()}
    logs = tr.update(tr.rollout())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    steps = {int(s["step"]) for s in tr.opt_mbp.state_dict()["state"].values()}
    assert steps == {epochs * minibatches}
    changed = [k for k, p in tr.agent.named_parameters() if not torch.equal(p, before[k])]
    assert any(k.startswith("policy.") for k in changed) and any(
        k.startswith("mbp.") for k in changed
    )
    tr.env.close()


@pytest.mark.parametrize("view", ["acted", "current"])
@pytest.mark.parametrize("sees", ["z", "z+reads"])
def test_replayed_policy_loss_reaches_no_mbp_parameter(tmp_path, view, sees):
    """Gradient flow under replay: the policy term trains the policy only (MERLIN), also when the
    policy takes the MBP's reads in."""
    tr = _trainer(tmp_path, "flow", epochs=2, replay_view=view, policy_sees=sees)
    seg = tr.rollout()
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    adv, targets = tr.learner.targets(seg, values)
    outs, _ = replay(tr.agent, seg)
    _, policy_loss, _ = tr.learner.losses(outs, seg, adv, targets)
    policy_loss.backward()
    for k, p in tr.agent.named_parameters():
        if k.startswith("mbp."):
            assert p.grad is None or not p.grad.any(), k
    assert any(p.grad is not None and p.grad.any() for p in tr.agent.policy.parameters())
    tr.env.close()


@pytest.mark.parametrize(
    "agent,policy_input,reads",
    [
        ("merlin", "sample", 1),
        ("merlin", "mean", 1),
        ("rl-mem", "sample", 1),
        ("merlin", "mean", 3),
        ("merlin", "mean", "z+reads"),
        ("rl-mem", "sample", "z+reads"),
    ],
)
def test_replay_policy_reproduces_the_acting_policy(tmp_path, agent, policy_input, reads):
    """The policy-only replay (policy_epochs) re-runs the policy on what it acted on: the acting
    pass's log pi(a_t) and entropy to 1e-5, also after the MBP has moved, with episode ends and
    overwrites inside the segment (5-step episodes, 4 rows, 7 steps), and per minibatch; also
    with several policy read keys, and with the MBP's reads as an input (``reads`` z+reads)."""
    keys = {"policy_sees": reads} if reads == "z+reads" else {"policy_reads": reads}
    tr = _trainer(tmp_path, "pol", agent=agent, epochs=2, policy_input=policy_input, **keys)
    seg = _segment_then_move_the_mbp(tr)
    log_probs, entropy, _ = replay_policy(tr.agent, seg)
    assert log_probs.requires_grad
    acted_entropy = torch.stack([o.entropy for o in seg.outputs])
    torch.testing.assert_close(log_probs.detach(), seg.log_probs, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(entropy.detach(), acted_entropy, atol=1e-5, rtol=1e-5)
    index = torch.tensor([3, 0])
    sub, _, _ = replay_policy(tr.agent, seg, index)
    torch.testing.assert_close(sub.detach(), seg.log_probs[:, index], atol=1e-5, rtol=1e-5)
    tr.env.close()


@pytest.mark.parametrize("bonus", ["entropy", "log-barrier", "entropy-floor"])
def test_the_policy_bonus_is_what_both_policy_losses_weigh(tmp_path, bonus):
    """--policy-bonus: with zero advantages (no normalisation) and unchanged parameters, the joint
    epochs' policy loss is -entropy_cost x the mean bonus of the acting logits, and the policy-only
    replay returns that bonus per step."""
    tr = _trainer(tmp_path, bonus, epochs=2, policy_bonus=bonus, advantage_norm="off")
    seg = tr.rollout()
    log_pi = torch.log_softmax(torch.stack([o.logits for o in seg.outputs]), -1)
    expected = losses.policy_bonus(log_pi, bonus)  # (T, B)
    if bonus == "log-barrier":  # -KL(U || pi) <= 0: not the entropy
        assert float(expected.max()) <= 1e-6 and not torch.allclose(
            expected, torch.stack([o.entropy for o in seg.outputs])
        )
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    _, targets = tr.learner.targets(seg, values)
    outs, _ = replay(tr.agent, seg)
    zero = torch.zeros_like(seg.log_probs)
    _, policy_loss, _ = tr.learner.losses(outs, seg, zero, targets)
    want = -tr.cfg.entropy_cost * losses.masked_mean(expected, seg.valid)
    torch.testing.assert_close(policy_loss.detach(), want, atol=1e-6, rtol=1e-5)
    _, replayed, _ = replay_policy(tr.agent, seg, bonus=bonus)
    torch.testing.assert_close(replayed.detach(), expected, atol=1e-5, rtol=1e-5)
    tr.env.close()


@pytest.mark.parametrize("epochs,minibatches", [(1, 1), (2, 2)])
def test_policy_epochs_step_the_policy_alone(tmp_path, epochs, minibatches):
    """policy_epochs P adds P x minibatches steps of the policy's optimiser and none of the
    MBP's, in the single-graph update (K = 1, one minibatch) and the replay update alike."""
    tr = _trainer(tmp_path, f"pe{epochs}", epochs=epochs, minibatches=minibatches, policy_epochs=3)
    logs = tr.update(tr.rollout())
    joint = epochs * minibatches
    mbp_steps = {int(s["step"]) for s in tr.opt_mbp.state_dict()["state"].values()}
    pol_steps = {int(s["step"]) for s in tr.opt_policy.state_dict()["state"].values()}
    assert mbp_steps == {joint}
    assert pol_steps == {joint + 3 * minibatches}
    assert logs["policy/gradient_steps"] == joint + 3 * minibatches
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    tr.env.close()


def _spy_on_minibatches(monkeypatch, name: str) -> list[list[int]]:
    """Wrap learner.<name> (replay or replay_policy) to record the environments of each call."""
    import merlin_rl.learner as learner_mod

    seen: list[list[int]] = []
    real = getattr(learner_mod, name)

    def spy(agent, seg, index=None, *rest, **kw):
        seen.append(sorted(index.tolist()))
        return real(agent, seg, index, *rest, **kw)

    monkeypatch.setattr(learner_mod, name, spy)
    return seen


@pytest.mark.parametrize("policy_minibatches,expected", [(0, 2), (4, 4), (9, 4)])
def test_policy_minibatches_split_the_policy_only_epochs(
    tmp_path, monkeypatch, policy_minibatches, expected
):
    """--policy-minibatches M' splits each policy-only epoch into M' minibatches of environments
    (0: --minibatches; at most one per env), each env once per epoch, while the joint epochs keep
    --minibatches: P x M' policy-only steps of the policy's optimiser, none of the MBP's."""
    seen = _spy_on_minibatches(monkeypatch, "replay_policy")
    tr = _trainer(
        tmp_path,
        f"pm{policy_minibatches}",
        epochs=1,
        minibatches=2,
        policy_epochs=3,
        policy_minibatches=policy_minibatches,
    )
    logs = tr.update(tr.rollout())
    assert len(seen) == 3 * expected
    for e in range(3):
        epoch = seen[e * expected : (e + 1) * expected]
        assert sorted(i for part in epoch for i in part) == [0, 1, 2, 3]
    mbp_steps = {int(s["step"]) for s in tr.opt_mbp.state_dict()["state"].values()}
    pol_steps = {int(s["step"]) for s in tr.opt_policy.state_dict()["state"].values()}
    assert mbp_steps == {2} and pol_steps == {2 + 3 * expected}
    assert logs["policy/gradient_steps"] == 2 + 3 * expected
    tr.env.close()


def test_policy_epochs_reach_no_mbp_parameter_and_move_the_policy(tmp_path):
    """Gradient flow: the policy-only steps leave every MBP parameter as it was (RL-MEM too,
    whose joint epochs train the MBP by the RL loss), and they move the policy."""
    tr = _trainer(tmp_path, "peflow", agent="rl-mem", epochs=2, policy_epochs=2)
    seg = tr.rollout()
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    adv, _ = tr.learner.targets(seg, values)
    before = {k: p.detach().clone() for k, p in tr.agent.named_parameters()}
    n, bad = tr.learner._policy_epochs(seg, adv, 0)
    assert n == 2 * 2 and not bad
    for k, p in tr.agent.named_parameters():
        if k.startswith("mbp."):
            assert torch.equal(p, before[k]), k
    assert any(
        not torch.equal(p, before["policy." + k]) for k, p in tr.agent.policy.named_parameters()
    )
    tr.env.close()


def test_uneven_minibatches_cover_every_env_once_per_epoch(tmp_path, monkeypatch):
    """3 envs in 2 minibatches: sizes 2 and 1, every env replayed once per epoch; more
    minibatches than envs means one env each."""
    seen = _spy_on_minibatches(monkeypatch, "replay")
    tr = _trainer(tmp_path, "uneven", num_envs=3, epochs=2, minibatches=2)
    tr.update(tr.rollout())
    assert [len(x) for x in seen] in ([2, 1, 2, 1], [1, 2, 1, 2], [2, 1, 1, 2], [1, 2, 2, 1])
    assert sorted(seen[0] + seen[1]) == [0, 1, 2] and sorted(seen[2] + seen[3]) == [0, 1, 2]
    seen.clear()
    tr = _trainer(tmp_path, "many", num_envs=2, epochs=1, minibatches=5)
    tr.update(tr.rollout())
    assert sorted(len(x) for x in seen) == [1, 1]


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_lr_schedule_sets_both_learning_rates_from_the_env_steps(tmp_path, schedule):
    """linear: lr = base x (1 - env_steps / total_steps) at each update (28 of 112 steps acted:
    3/4, then 56: 1/2), for the MBP's and the policy's optimiser; constant: the base rates."""
    tr = _trainer(tmp_path, schedule, epochs=2, lr_schedule=schedule, total_steps=112, lr_mbp=4e-3)
    for expected in (0.75, 0.5):
        tr.update(tr.rollout())
        frac = expected if schedule == "linear" else 1.0
        assert [g["lr"] for g in tr.opt_mbp.param_groups] == [pytest.approx(4e-3 * frac)]
        base = tr.cfg.lr_policy
        assert [g["lr"] for g in tr.opt_policy.param_groups] == [pytest.approx(base * frac)]
    tr.env.close()


def _lambda_return_loop(r, v, bootstrap, dones, terminals, gamma, lam):
    """Naive lambda-returns, one step and one env at a time:
    G_t = r_t + gamma ((1 - lam) V_{t+1} + lam G_{t+1}), G_T = V_T = bootstrap; an episode's end
    stops the recursion (a real end bootstraps nothing, a truncation bootstraps V_{t+1} only)."""
    T, B = r.shape
    out = torch.zeros(T, B)
    for b in range(B):
        g_next, v_next = float(bootstrap[b]), float(bootstrap[b])
        for t in reversed(range(T)):
            if terminals[t, b]:
                g = float(r[t, b])
            elif dones[t, b]:
                g = float(r[t, b]) + gamma * v_next
            else:
                g = float(r[t, b]) + gamma * ((1 - lam) * v_next + lam * g_next)
            out[t, b] = g
            g_next, v_next = g, float(v[t, b])
    return out


@pytest.mark.parametrize("lam_value", [0.0, 0.9])
def test_policy_and_return_heads_take_their_own_lambda(tmp_path, lam_value):
    """--lam shapes the policy's advantages, --lam-value (0 = --lam) the return heads' targets."""
    from types import SimpleNamespace

    tr = _trainer(tmp_path, "lv", lam=0.5, lam_value=lam_value)
    gen = torch.Generator().manual_seed(3)
    T, B = 6, 3
    values = torch.randn(T, B, generator=gen)
    dones = torch.zeros(T, B, dtype=torch.bool)
    terminals = torch.zeros(T, B, dtype=torch.bool)
    dones[2, 0] = terminals[2, 0] = True  # a real end
    dones[3, 1] = True  # a truncation
    seg = SimpleNamespace(
        rewards=torch.randn(T, B, generator=gen),
        bootstrap=torch.randn(B, generator=gen),
        dones=dones,
        terminals=terminals,
    )
    adv, targets = tr.learner.targets(seg, values)
    args = (seg.rewards, values, seg.bootstrap, dones, terminals, tr.cfg.gamma)
    torch.testing.assert_close(adv, _lambda_return_loop(*args, 0.5) - values)
    torch.testing.assert_close(targets, _lambda_return_loop(*args, lam_value or 0.5))
    if lam_value:
        assert not torch.allclose(targets, adv + values)
    tr.env.close()


def test_credit_cut_stops_the_policys_trace_at_rewards_and_keeps_the_targets(tmp_path):
    """--credit-cut reward: the policy's advantages are GAE with the trace stopped at every
    rewarded step (a hand loop: plain GAE restarted there); the return heads' targets are the
    plain lambda-returns. Off (the default) is plain GAE."""
    from types import SimpleNamespace

    T, B = 8, 3
    gen = torch.Generator().manual_seed(4)
    values = torch.randn(T, B, generator=gen)
    rewards = torch.randn(T, B, generator=gen) * (torch.rand(T, B, generator=gen) < 0.3)
    dones = torch.zeros(T, B, dtype=torch.bool)
    dones[5, 2] = True  # a truncation
    seg = SimpleNamespace(rewards=rewards, bootstrap=torch.randn(B, generator=gen), dones=dones,
                          terminals=torch.zeros(T, B, dtype=torch.bool))  # fmt: skip
    args = (rewards, values, seg.bootstrap, dones, seg.terminals)
    cut = _trainer(tmp_path, "cut", lam=0.9, credit_cut="reward")
    off = _trainer(tmp_path, "off", lam=0.9)
    adv, targets = cut.learner.targets(seg, values)
    adv_off, targets_off = off.learner.targets(seg, values)
    gamma = cut.cfg.gamma
    plain = _lambda_return_loop(*args, gamma, 0.9) - values
    torch.testing.assert_close(adv_off, plain)
    torch.testing.assert_close(targets, targets_off)  # the return heads' targets unchanged
    expected = torch.zeros(T, B)
    for b in range(B):  # the trace restarts after every rewarded step
        acc = 0.0
        for t in reversed(range(T)):
            nxt = float(values[t + 1, b]) if t + 1 < T else float(seg.bootstrap[b])
            delta = float(rewards[t, b]) + gamma * nxt - float(values[t, b])
            acc = delta if (dones[t, b] or rewards[t, b] != 0) else delta + gamma * 0.9 * acc
            expected[t, b] = acc
    torch.testing.assert_close(adv, expected)
    assert not torch.allclose(adv, adv_off)
    for tr in (cut, off):
        tr.env.close()


@pytest.mark.parametrize("agent", ["merlin", "rl-mem"])
def test_return_heads_read_z_and_the_mbp_reads_with_return_input_z_reads(tmp_path, agent):
    """--return-input z+reads: V_t = V([z_t, m_{t-1}], log pi_t), A_t = A([z_t, m_{t-1}], a_t),
    m_{t-1} being the reads step t's prior and posterior took in (the state's m before the step);
    in the replay V's gradient reaches m_{t-1} directly. With "z" the heads are narrower by
    |m|, and an rl-lstm (no memory) is refused."""
    import torch.nn.functional as F

    tr = _trainer(tmp_path, f"{agent}-zr", agent=agent, return_input="z+reads")
    seg = tr.rollout()
    state = seg.start_state
    assert seg.outputs[0].reads is not None
    torch.testing.assert_close(seg.outputs[0].reads, state.m)  # m_{t-1} of the first step
    with torch.no_grad():
        pred = tr.agent.evaluate(seg.outputs)
        for t, out in enumerate(seg.outputs):  # by hand, one step at a time
            a = F.one_hot(out.action, out.logits.shape[-1]).float()
            zr = torch.cat([out.z, out.reads], -1)
            v, adv = tr.agent.mbp.returns(zr, F.log_softmax(out.logits, -1), a)
            torch.testing.assert_close(pred.value[t], v)
            torch.testing.assert_close(pred.advantage[t], adv)
        # the reads matter: other reads, another V
        other = [dataclasses.replace(o, reads=torch.randn_like(o.reads)) for o in seg.outputs]
        assert not torch.allclose(tr.agent.evaluate(other).value, pred.value)
    plain = _trainer(tmp_path, f"{agent}-z", agent=agent)
    width = plain.agent.mbp.value_head[0].in_features
    assert tr.agent.mbp.value_head[0].in_features == width + state.m.shape[-1]
    # in the replay the return loss reaches the read interface through m_{t-1} directly
    outs, _ = replay(tr.agent, seg)
    v = tr.agent.evaluate(outs).value
    grad = torch.autograd.grad(v.sum(), outs[3].reads, retain_graph=True)[0]
    assert grad.abs().sum() > 0
    for t in (tr, plain):
        t.env.close()
    with pytest.raises(ValueError, match="--return-input z\\+reads needs"):
        make_config("small", env="merlin_rl/ColourMatch-v0", agent="rl-lstm",
                    return_input="z+reads").validate()  # fmt: skip


@pytest.mark.parametrize("agent", ["merlin", "rl-lstm"])
def test_the_baseline_is_evaluated_on_the_chosen_z(tmp_path, agent):
    """--value-input: V_t for the advantages on the acted sample z_t, or on mu_q (MERLIN); the
    ablations' z is deterministic, so both give the same."""
    import torch.nn.functional as F

    tr = {
        v: _trainer(tmp_path, f"{agent}-{v}", agent=agent, value_input=v)
        for v in ("sample", "mean")
    }
    tr["mean"].agent.load_state_dict(tr["sample"].agent.state_dict())
    seg = tr["sample"].rollout()
    base = {v: t.learner.baseline(seg) for v, t in tr.items()}
    assert not base["sample"].requires_grad
    with torch.no_grad():
        torch.testing.assert_close(base["sample"], tr["sample"].agent.evaluate(seg.outputs).value)
        for t, out in enumerate(seg.outputs):  # by hand, one step at a time
            z = out.dist["mu_q"] if agent == "merlin" else out.z
            a = F.one_hot(out.action, out.logits.shape[-1]).float()
            v, _ = tr["mean"].agent.mbp.returns(z, F.log_softmax(out.logits, -1), a)
            torch.testing.assert_close(base["mean"][t], v.view(-1))
    if agent == "merlin":
        assert not torch.allclose(base["mean"], base["sample"])
    else:
        torch.testing.assert_close(base["mean"], base["sample"])
    for t in tr.values():
        t.env.close()


@pytest.mark.parametrize("baseline", ["policy", "critic"])
@pytest.mark.parametrize("agent", ["merlin", "rl-lstm"])
def test_policy_baseline_advantages_come_from_the_policy_value_head(tmp_path, agent, baseline):
    """--baseline policy: the policy gets a value head V~_t on its own features (critic: on z_t and
    a critic LSTM of its own); acting, the joint replay and the policy-only replay give the same
    V~_t; the advantages are GAE on V~ (a naive lambda-return loop over the acted V~ and the V~
    after the segment, less V~), its targets Adv + V~; the MBP's return heads keep their targets
    from the MBP's V."""
    tr = _trainer(tmp_path, f"pb-{agent}", agent=agent, epochs=2, baseline=baseline, lam=0.7)
    tr.update(tr.rollout())
    seg = tr.rollout()
    acted = torch.stack([o.policy_value for o in seg.outputs])
    assert acted.shape == seg.rewards.shape and seg.policy_bootstrap.shape == (4,)
    outs, _ = replay(tr.agent, seg)
    replayed = torch.stack([o.policy_value for o in outs])
    assert replayed.requires_grad
    torch.testing.assert_close(replayed.detach(), acted, atol=1e-5, rtol=1e-5)
    _, _, alone = replay_policy(tr.agent, seg)
    torch.testing.assert_close(alone.detach(), acted, atol=1e-5, rtol=1e-5)
    adv, targets = tr.learner.policy_targets(seg)
    args = (seg.rewards, acted, seg.policy_bootstrap, seg.dones, seg.terminals, tr.cfg.gamma)
    torch.testing.assert_close(targets, _lambda_return_loop(*args, 0.7), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(adv, targets - acted)
    mbp_adv, mbp_targets = tr.learner.targets(seg, tr.learner.baseline(seg))
    assert not torch.allclose(mbp_targets, targets)
    tr.env.close()


def test_policy_value_loss_trains_the_policy_alone(tmp_path):
    """Gradient flow of --baseline policy: the value head's squared error reaches the value head
    and the policy LSTM, and no MBP parameter; the MBP's baseline makes no value head at all."""
    assert make_config("small").baseline == "critic" and make_config("paper").baseline == "mbp"
    default = _trainer(tmp_path, "nohead", baseline="mbp")
    assert default.agent.policy.value_head is None
    assert not any(k.startswith("policy.value_head") for k in default.agent.state_dict())
    default.env.close()
    tr = _trainer(tmp_path, "head", epochs=2, baseline="policy", policy_value_cost=1.0)
    seg = tr.rollout()
    outs, _ = replay(tr.agent, seg)
    adv, targets = tr.learner.targets(seg, tr.learner.baseline(seg))
    _, pol_targets = tr.learner.policy_targets(seg)
    _, with_value, logs = tr.learner.losses(outs, seg, adv, targets, policy_targets=pol_targets)
    _, without, _ = tr.learner.losses(outs, seg, adv, targets)
    assert logs["loss/policy_value"] > 0
    tr.agent.zero_grad(set_to_none=True)
    (with_value - without).backward()  # the value term alone
    for name, p in tr.agent.named_parameters():
        moved = p.grad is not None and bool(p.grad.abs().sum() > 0)
        if name.startswith("mbp."):
            assert not moved, name
        if name.startswith(("policy.value_head.", "policy.lstm.")):
            assert moved, name
        if name.startswith("policy.head."):
            assert not moved, name  # the action head is not the critic's
    logs = tr.update(tr.rollout())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    tr.env.close()


def _grad_norm(params) -> float:
    grads = [p.grad.flatten() for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads)))


CLIP = 1e-4  # far below every gradient norm of these tiny runs: every clip acts


@pytest.mark.parametrize(
    "agent, mbp_clip, env",
    [("merlin", "global", None), ("merlin", "off", None), ("merlin", "kind", None),
     ("merlin", "kind", "merlin_rl/InstructedGoal-v0"), ("rl-mem", "off", None),
     ("rl-lstm", "kind", None)],
)  # fmt: skip
def test_the_mbp_gradient_is_clipped_as_asked(tmp_path, agent, mbp_clip, env):
    """The policy's gradient is clipped to --grad-clip by its norm. MERLIN's MBP gradient: by
    one norm (global), by each of MBP.clip_groups' own (kind: each group's norm is the clip), or
    not at all (off: the logged norm is left); an ablation's always globally. The step's
    gradients stay in .grad after the optimiser step."""
    kw = dict(env=env, env_kwargs={}, latent="factored") if env else {}
    tr = _trainer(
        tmp_path, "a", agent=agent, epochs=1, minibatches=1, policy_epochs=0,
        grad_clip=CLIP, mbp_clip=mbp_clip, **kw,
    )  # fmt: skip
    logs = tr.update(tr.rollout())
    assert logs["grad_norm/policy"] > 10 * CLIP and logs["grad_norm/mbp"] > 10 * CLIP
    assert _grad_norm(tr.agent.policy_parameters()) == pytest.approx(CLIP, rel=1e-3)
    mbp = _grad_norm(tr.agent.mbp_parameters())
    mode = mbp_clip if agent == "merlin" else "global"
    if mode == "global":
        assert mbp == pytest.approx(CLIP, rel=1e-3)
    elif mode == "off":
        assert mbp == pytest.approx(logs["grad_norm/mbp"], rel=1e-3)
    else:
        groups = tr.agent.mbp.clip_groups()
        assert len(groups) == (3 if env else 2)  # the kinds' own parameters, then the rest
        for group in groups:
            assert _grad_norm(group) == pytest.approx(CLIP, rel=1e-3)


@pytest.mark.parametrize("latent", ["factored", "joint"])
def test_clip_groups_split_the_mbp_by_observation_kind(tmp_path, latent):
    """Each MBP parameter in exactly one group: a kind's encoder and decoder (and its own
    posterior with the factored latent), then the shared rest (prior, LSTM, heads)."""
    tr = _trainer(
        tmp_path, "a", env="merlin_rl/InstructedGoal-v0", env_kwargs={}, latent=latent,
        encoder_norm="layer", latent_input_norm="layer",
    )  # fmt: skip
    mbp = tr.agent.mbp
    groups = mbp.clip_groups()
    ids = [id(p) for group in groups for p in group]
    assert sorted(ids) == sorted(id(p) for p in mbp.parameters())  # each exactly once
    for i, (name, m) in enumerate(mbp.codec.items()):
        own = {id(p) for p in groups[i]}
        assert {id(p) for p in m.parameters()} <= own
        assert {id(p) for p in mbp.codec.norms[f"m{i}"].parameters()} <= own
        assert {id(p) for p in mbp.norm_codes[i].parameters()} <= own  # --latent-input-norm
        if latent == "factored":
            assert {id(p) for p in mbp.posteriors[i].parameters()} <= own
            assert {id(p) for p in mbp.norm_priors[i].parameters()} <= own
    shared = {id(p) for p in groups[-1]}
    assert {id(p) for p in mbp.prior.parameters()} <= shared
    for norm in (mbp.norm_h, mbp.norm_m):
        assert {id(p) for p in norm.parameters()} <= shared
    if latent == "joint":
        assert {id(p) for p in mbp.posterior.parameters()} <= shared


@pytest.mark.parametrize("latent", ["joint", "factored"])
def test_logsig_bound_cost_pulls_a_log_sigma_back_from_past_its_bound(tmp_path, latent):
    """Log sigmas far past the clamp's upper bound (bias +40): the ELBO's gradient on them is
    ~0 (the clamp saturates), so nothing brings them back; --logsig-bound-cost gives them a
    gradient towards the bound (mbp.logsig_excess) and none to the policy. The excess is logged
    either way."""
    env = dict(env="merlin_rl/InstructedGoal-v0", env_kwargs={}) if latent == "factored" else {}
    grads, logged = {}, {}
    for cost in (0.0, 1.0):
        tr = _trainer(
            tmp_path, f"c{cost}", epochs=1, minibatches=1, policy_epochs=0, latent=latent,
            logsig_bound_cost=cost, **env,
        )  # fmt: skip
        mbp, z = tr.agent.mbp, tr.agent.mbp.z_dim
        outs = list(mbp.posteriors) if mbp.factored else [mbp.posterior]
        assert mbp.factored == (latent == "factored")
        half = outs[0][2].bias.shape[0] // 2
        with torch.no_grad():
            mbp.prior[2].bias[z:] = 40.0
            for net in outs:
                net[2].bias[half:] = 40.0
        mbp_loss, policy_loss, logs = tr.losses(tr.rollout())
        biases = [mbp.prior[2].bias] + [net[2].bias for net in outs]
        grads[cost] = torch.autograd.grad(mbp_loss, biases, retain_graph=True)
        logged[cost] = logs["loss/logsig_excess"]
        if cost:
            reach = torch.autograd.grad(
                mbp_loss, tr.agent.policy_parameters(), allow_unused=True, retain_graph=True
            )
            assert all(g is None or float(g.abs().max()) == 0.0 for g in reach)
    for cost, n in ((0.0, 1e-6), (1.0, 1.0)):
        sigma_grads = [grads[cost][0][z:]] + [g[half:] for g in grads[cost][1:]]
        smallest = min(float(g.min()) for g in sigma_grads)
        # gradient descent lowers a log sigma whose gradient is positive
        assert (smallest > n) if cost else max(float(g.abs().max()) for g in sigma_grads) < n
    assert logged[0.0] > 2 * 36.0**2 * z  # ~ (40 - 1)^2 per log sigma, prior and posterior
    assert logged[1.0] == pytest.approx(logged[0.0], rel=0.2)
