"""Temporal Value Transport (tvt.py, Hung et al. 2019), inside one segment: against a hand-written
reference that loops over environments, heads, episodes and steps as Hung et al.'s published
NumPy code does; a hand example; the learner's use (--tvt-alpha) and the ages the agent records."""

from __future__ import annotations

import pytest
import torch

from merlin_rl import losses, tvt
from merlin_rl.config import ConfigError, make_config
from merlin_rl.train import Trainer
from scripts import TINY as BASE


def _events_loop(strengths: list[float], threshold: float) -> list[int]:
    """Hung et al.'s rule: the time of the largest strength in each stretch above threshold."""
    chosen, over, best, best_t = [], False, 0.0, 0
    for t, s in enumerate(strengths):
        if s > threshold:
            over = True
            if s > best:
                best, best_t = s, t
        else:
            if over:
                chosen.append(best_t)
                best = 0.0
            over = False
    if over:
        chosen.append(best_t)
    return chosen


def _transport_loop(weights, strengths, ages, values, starts, alpha, threshold, period, top_k):
    T, B, K, N = weights.shape
    out = torch.zeros(T, B)
    for b in range(B):
        bounds = [0] + [t for t in range(1, T) if starts[t, b]] + [T]
        for e0, e1 in zip(bounds[:-1], bounds[1:]):
            for k in range(K):
                cut = []
                for t in range(e0, e1):
                    top = int(weights[t, b, k].argmax())
                    old = int(ages[t, b, top]) > period
                    cut.append(float(strengths[t, b, k]) if old else 0.0)
                for i in _events_loop(cut, threshold):
                    t2 = e0 + i
                    rows = [
                        (float(weights[t2, b, k, n]) * (int(ages[t2, b, n]) > period), n)
                        for n in range(N)
                    ]
                    for w, n in sorted(rows, reverse=True)[:top_k]:
                        age = int(ages[t2, b, n])
                        if w > 0 and age > 0 and t2 - age >= 0:
                            out[t2 - age, b] += alpha * w * float(values[t2, b])
    return out


def _random_case(seed: int, T=40, B=3, K=2, N=12):
    """Reads over a memory written once per step since each episode's start (N rows, the oldest
    overwritten), strengths around the threshold, two episode starts inside the segment."""
    gen = torch.Generator().manual_seed(seed)
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[17, 0] = starts[29, 1] = starts[5, 2] = True
    ages = torch.zeros(T, B, N, dtype=torch.long)
    for b in range(B):
        step = 10 * b  # the episode's step at t = 0 (it began before the segment)
        for t in range(T):
            if starts[t, b]:
                step = 0
            written = min(step, N)  # rows hold the last `written` steps, ages 1..written
            perm = torch.randperm(N, generator=gen)[:written]
            ages[t, b, perm] = torch.arange(1, written + 1)
            step += 1
    logits = torch.randn(T, B, K, N, generator=gen) * 3
    weights = torch.softmax(logits.masked_fill(ages.unsqueeze(2) == 0, -1e9), -1)
    weights = weights * (ages.unsqueeze(2) > 0)
    strengths = 2.0 + torch.randn(T, B, K, generator=gen)
    values = torch.randn(T, B, generator=gen)
    return weights, strengths, ages, values, starts


@pytest.mark.parametrize("seed,top_k", [(0, 50), (1, 3), (2, 5)])
def test_transport_matches_the_published_rule_loop(seed, top_k):
    case = _random_case(seed)
    got = tvt.transport(*case, alpha=0.9, threshold=2.0, period=4, top_k=top_k)
    want = _transport_loop(*case, alpha=0.9, threshold=2.0, period=4, top_k=top_k)
    assert want.abs().sum() > 0  # the case transports something
    torch.testing.assert_close(got, want)


def test_transport_by_hand():
    """One head, 1 env: rows written at steps 0 and 1 (no episode start in the segment). At steps
    5-7 the read picks row 0 (written at step 0, more than 3 steps old) with strength 3, 4, 3:
    one event at step 6, which sends 0.5 x 0.8 x V_6 to step 0 and 0.5 x 0.2 x V_6 to step 1.
    A read of a young row (step 3) or below the threshold (step 9) sends nothing."""
    T, N = 10, 2
    ages = torch.zeros(T, 1, N, dtype=torch.long)
    for t in range(1, T):
        ages[t, 0, 0] = t  # row 0 written at step 0
    for t in range(2, T):
        ages[t, 0, 1] = t - 1  # row 1 written at step 1
    weights = torch.zeros(T, 1, 1, N)
    weights[..., 0], weights[..., 1] = 0.8, 0.2
    strengths = torch.tensor([0, 0, 0, 5, 0, 3, 4, 3, 0, 1.5]).view(T, 1, 1)
    values = torch.arange(T, dtype=torch.float32).view(T, 1)
    starts = torch.zeros(T, 1, dtype=torch.bool)
    got = tvt.transport(weights, strengths, ages, values, starts, 0.5, 2.0, period=3)
    want = torch.zeros(T, 1)
    want[0, 0], want[1, 0] = 0.5 * 0.8 * 6, 0.5 * 0.2 * 6
    torch.testing.assert_close(got, want)


def test_transport_stays_inside_the_segment_and_the_episode():
    """A row written before the segment's first step receives nothing; an episode start ends a
    stretch (two events, one per episode); nothing carries a gradient."""
    T, N = 8, 1
    ages = torch.zeros(T, 1, N, dtype=torch.long)
    ages[:4, 0, 0] = torch.tensor([5, 6, 7, 8])  # episode 1: written 5 steps before the segment
    ages[5:, 0, 0] = torch.tensor([1, 2, 3])  # episode 2 starts at 4: its row written at step 4
    weights = torch.ones(T, 1, 1, N) * (ages.unsqueeze(2) > 0)
    strengths = torch.full((T, 1, 1), 3.0, requires_grad=True)
    values = torch.ones(T, 1, requires_grad=True)
    starts = torch.zeros(T, 1, dtype=torch.bool)
    starts[4, 0] = True
    got = tvt.transport(weights, strengths, ages, values, starts, 1.0, 2.0, period=1)
    assert not got.requires_grad
    want = torch.zeros(T, 1)
    want[4, 0] = 1.0  # episode 2's event (step 6 or 7, the first maximum: 6) reaches step 4
    torch.testing.assert_close(got, want)
    events = tvt.read_events(torch.full((T, 1, 1), 3.0), starts, 2.0)
    assert events[:, 0, 0].nonzero().flatten().tolist() == [0, 4]


def test_no_transport_period():
    assert tvt.no_transport_period(0.96) == 25  # Hung et al.'s
    assert tvt.no_transport_period(0.99) == 100
    assert tvt.no_transport_period(1.0) == 25


TINY = dict(BASE, memory_rows=6, num_envs=3, tau=12)


def test_agent_records_row_ages_and_strengths(tmp_path):
    """With --tvt-alpha > 0 each step records the age of every row of M_{t-1} (steps since its
    write, counted within the episode) and the MBP's read strengths."""
    tr = Trainer(make_config("small", **TINY, tvt_alpha=0.9), tmp_path / "a", progress=False)
    seg = tr.rollout()
    starts = seg.starts
    for b in range(3):
        step = None
        for t, out in enumerate(seg.outputs):
            step = 0 if (starts[t, b] or step is None) else step + 1
            ages = sorted(int(a) for a in out.mbp_ages[b] if a > 0)
            assert ages == list(range(1, min(step, 6) + 1)) or step is None
            assert out.mbp_strengths.shape == (3, tr.cfg.mbp_reads)
            assert (out.mbp_strengths > 0).all()
    tr.env.close()
    off = Trainer(make_config("small", **TINY), tmp_path / "b", progress=False)
    assert off.rollout().outputs[0].mbp_ages is None  # nothing recorded when off
    off.env.close()


def test_learner_adds_the_transport_to_the_policys_rewards_only(tmp_path):
    """The policy's advantages are GAE on r + transport; the return heads' targets stay the
    env's lambda-returns; with --tvt-alpha 0 (the default) nothing changes."""
    kw = dict(TINY, tau=40, env_kwargs={"delay": 8}, gamma=0.5)  # transport beyond 2 steps
    on = Trainer(make_config("small", **kw, tvt_alpha=0.9, tvt_threshold=0.0), tmp_path / "a",
                 progress=False)  # fmt: skip
    off = Trainer(make_config("small", **kw), tmp_path / "b", progress=False)
    off.agent.load_state_dict(on.agent.state_dict())
    seg = on.rollout()
    values = on.learner.baseline(seg)
    adv, targets = on.learner.targets(seg, values)
    sent = tvt.transport(
        torch.stack([o.mbp_weights for o in seg.outputs]),
        torch.stack([o.mbp_strengths for o in seg.outputs]),
        torch.stack([o.mbp_ages for o in seg.outputs]),
        values,
        seg.starts,
        0.9,
        0.0,
        tvt.no_transport_period(on.cfg.gamma),
    )
    assert sent.abs().sum() > 0
    args = (seg.bootstrap, seg.dones, seg.terminals, on.cfg.gamma, on.cfg.lam)
    torch.testing.assert_close(adv, losses.gae(seg.rewards + sent, values, *args))
    plain = losses.gae(seg.rewards, values, *args)
    torch.testing.assert_close(targets, plain + values)
    adv_off, targets_off = off.learner.targets(seg, values)
    torch.testing.assert_close(adv_off, plain)
    torch.testing.assert_close(targets_off, targets)
    logs = on.update(seg)
    assert logs["tvt/reward"] != 0 and 0 < logs["tvt/steps"] <= 1
    on.env.close()
    off.env.close()


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(agent="rl-lstm", tvt_alpha=0.9), "needs the MBP's memory reads"),
        (dict(tvt_alpha=-1.0), "--tvt-alpha must be"),
        (dict(tvt_threshold=float("nan")), "--tvt-threshold must be"),
    ],
)
def test_bad_tvt_settings_are_refused(kw, match):
    with pytest.raises(ConfigError, match=match):
        make_config("small", **kw)
