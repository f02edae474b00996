"""The hindsight read term (``--read-target-cost``, losses.hindsight_read_loss): the MBP's first
read key at t is trained to fetch the row of M_{t-1} whose z half is nearest mu_q,t+1."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from merlin_rl import losses
from merlin_rl.config import ConfigError, make_config
from merlin_rl.learner import acted_memories, hindsight_read, replay
from merlin_rl.memory import MemoryState, read_weights
from merlin_rl.train import Trainer
from scripts import TINY

torch.set_num_threads(1)


def _loop_reference(keys, beta, M, written, z_next):
    """Loops over the reads and the rows: the target row, -log of the read's weight on it, and
    whether the read's top row is the target."""
    L, N = M.shape[0], M.shape[1]
    zd = z_next.shape[-1]
    loss, hit = torch.zeros(L, dtype=torch.float64), torch.zeros(L, dtype=torch.bool)
    for i in range(L):
        rows = [j for j in range(N) if written[i, j]]
        if not rows:
            continue

        def cos(a, b):
            return float(a @ b) / math.sqrt((float(a @ a) + 1e-6) * (float(b @ b) + 1e-6))

        near = {j: cos(z_next[i].double(), M[i, j, :zd].double()) for j in rows}
        target = max(rows, key=lambda j: near[j])
        logits = {j: float(beta[i]) * cos(keys[i].double(), M[i, j].double()) for j in rows}
        top = max(rows, key=lambda j: logits[j])
        norm = math.log(sum(math.exp(v) for v in logits.values()))
        loss[i] = norm - logits[target]
        hit[i] = top == target
    return loss, hit


def _random_reads(L=9, N=5, W=6, Z=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randn(L, W, generator=g)
    beta = 0.5 + 4 * torch.rand(L, generator=g)
    M = torch.randn(L, N, W, generator=g)
    written = torch.rand(L, N, generator=g) < 0.6
    written[0] = False  # a read of an empty memory
    written[1] = torch.tensor([True] + [False] * (N - 1))  # one row: its loss is 0
    M = M * written[..., None]  # unwritten rows are zero, as MemoryState keeps them
    z_next = torch.randn(L, Z, generator=g)
    return keys, beta, M, written, z_next


def test_hindsight_read_loss_matches_a_loop_over_reads_and_rows():
    keys, beta, M, written, z_next = _random_reads()
    loss, hit = losses.hindsight_read_loss(keys, beta, M, written, z_next)
    ref_loss, ref_hit = _loop_reference(keys, beta, M, written, z_next)
    torch.testing.assert_close(loss.double(), ref_loss, atol=1e-5, rtol=1e-5)
    assert torch.equal(hit, ref_hit)
    assert loss[0] == 0 and not hit[0]  # nothing written: no term
    assert loss[1].abs() < 1e-6 and hit[1]  # one row: the read cannot miss it
    # any leading shape: (T, B) as the learner passes it
    loss2, hit2 = losses.hindsight_read_loss(
        keys.view(3, 3, -1),
        beta.view(3, 3),
        M.view(3, 3, *M.shape[1:]),
        written.view(3, 3, -1),
        z_next.view(3, 3, -1),
    )
    torch.testing.assert_close(loss2.view(-1), loss)
    assert torch.equal(hit2.view(-1), hit)


def test_the_target_is_a_written_row_even_when_an_unwritten_one_is_nearer():
    """An unwritten row (zeros, cosine 0) is never the target, even against a written row of
    negative cosine."""
    z_next = torch.tensor([[1.0, 0.0]])
    M = torch.tensor([[[-1.0, -0.2, 0.5, 0.5], [0.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 0.0, 1.0]]])
    written = torch.tensor([[True, False, True]])
    keys = torch.tensor([[0.0, 0.0, 0.0, 1.0]])  # nearest row 2
    loss, hit = losses.hindsight_read_loss(keys, torch.tensor([5.0]), M, written, z_next)
    ref_loss, ref_hit = _loop_reference(keys, torch.tensor([5.0]), M, written, z_next)
    torch.testing.assert_close(loss.double(), ref_loss, atol=1e-6, rtol=1e-6)
    assert not hit and not ref_hit  # the target is row 0 (cos -0.98 beats -1); the read picks 2


def test_only_the_key_and_the_strength_get_gradients():
    keys, beta, M, written, z_next = _random_reads(seed=1)
    keys, beta, M, z_next = (x.clone().requires_grad_() for x in (keys, beta, M, z_next))
    loss, _ = losses.hindsight_read_loss(keys, beta, M, written, z_next)
    g = torch.autograd.grad(loss.sum(), [keys, beta, M, z_next], allow_unused=True)
    assert g[0] is not None and g[0][2:].abs().sum() > 0
    assert g[1] is not None and g[1][2:].abs().sum() > 0
    assert g[2] is None and g[3] is None  # the target and the rows are constants
    # gradient descent on the key raises the read's weight on the target row
    before = loss.sum().detach()
    with torch.no_grad():
        keys -= 0.5 * g[0]
    after = losses.hindsight_read_loss(keys, beta, M, written, z_next)[0].sum()
    assert after < before


def _trainer(tmp_path, name: str, **kw) -> Trainer:
    cfg = make_config("small", **{**TINY, "env_kwargs": {"delay": 3}, **kw})
    return Trainer(cfg, run_dir=tmp_path / name, progress=False)


def _segment_losses(tr: Trainer):
    """Act one segment and compute its losses as the learner does: (segment, the step outputs
    with graph, the logs)."""
    seg = tr.rollout()
    outs = seg.outputs if seg.with_graph else replay(tr.agent, seg)[0]
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    adv, targets = tr.learner.targets(seg, values)
    _, _, logs = tr.learner.losses(outs, seg, adv, targets)
    return seg, outs, logs


def test_hindsight_read_pairs_each_read_with_the_next_step_of_its_episode():
    """Step t's read is scored against mu_q,t+1, and only where t+1 is a valid step of the same
    episode and the memory read at t holds two rows or more (with one the read cannot choose)."""
    keys, beta, M, written, z_next = _random_reads(L=4 * 3, N=5, seed=2)
    T, B = 4, 3
    outs = []
    for t in range(T):
        sl = slice(t * B, (t + 1) * B)
        mem = MemoryState.zeros(B, 5, 6)
        mem.M, mem.written = M[sl], written[sl]
        outs.append(
            SimpleNamespace(
                read_key=keys[sl],
                read_strength=beta[sl],
                read_memory=mem,
                dist={"mu_q": z_next[sl]},
            )
        )
    valid = torch.ones(T, B)
    valid[3, 2] = 0.0  # env 2's last step is padding: its step 2 has no next step
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[2, 1] = True  # env 1 starts an episode at step 2: its step 1 has no next step
    mean, top = hindsight_read(outs, valid, starts)
    ref, used = [], []
    for t in range(T - 1):
        for b in range(B):
            i = t * B + b
            nxt = (t + 1) * B + b
            if (t, b) in ((1, 1), (2, 2)) or written[i].sum() < 2:
                continue
            lo, hi = _loop_reference(
                keys[i : i + 1],
                beta[i : i + 1],
                M[i : i + 1],
                written[i : i + 1],
                z_next[nxt : nxt + 1],
            )
            ref.append((float(lo[0]), bool(hi[0])))
            used.append((t, b))
    assert len(ref) >= 4
    assert mean.item() == pytest.approx(sum(r[0] for r in ref) / len(ref), rel=1e-5)
    assert top == pytest.approx(sum(r[1] for r in ref) / len(ref))
    # --read-target-weighting surprise: each read's loss weighed by the surprise one step later,
    # a weighted mean over the same reads; the top-row share stays unweighted
    surprise = torch.rand(T, B, generator=torch.Generator().manual_seed(5)) + 0.1
    weighted, top_w = hindsight_read(outs, valid, starts, surprise)
    w = [float(surprise[t + 1, b]) for t, b in used]
    expected = sum(wi * r[0] for wi, r in zip(w, ref)) / sum(w)
    assert weighted.item() == pytest.approx(expected, rel=1e-5)
    assert top_w == top


def test_read_target_cost_adds_the_term_to_the_mbp_loss_and_trains_the_first_key(tmp_path):
    """With the cost on, the MBP's loss has the term (logged), the first read head's interface
    gets its gradient and no decoder gets any from it; replay and the single graph agree; with it
    off, no step output carries the read's key."""
    off = _trainer(tmp_path, "off")
    assert off.rollout().outputs[1].read_key is None
    off.env.close()
    grads, start = {}, None
    for name, kw in (("single", dict(epochs=1, minibatches=1)), ("replayed", dict(epochs=2))):
        tr = _trainer(tmp_path, name, read_target_cost=2.0, **kw)
        if start is None:
            start = tr.agent.state_dict()
        else:
            tr.agent.load_state_dict(start)
        seg, outs, logs = _segment_losses(tr)
        assert logs["loss/read_target"] > 0 and 0 <= logs["read/target_top"] <= 1
        term, _ = hindsight_read(outs, seg.valid, seg.starts)
        assert term.item() == pytest.approx(logs["loss/read_target"], rel=1e-5)
        w = tr.agent.mbp.interface.weight
        decoders = [p for n, p in tr.agent.mbp.named_parameters() if "decoder" in n or "_head" in n]
        gw, *gd = torch.autograd.grad(term, [w, *decoders], allow_unused=True)
        block = tr.agent.mbp.width + 1  # each head: W key entries + 1 strength
        assert gw[:block].abs().sum() > 0  # later heads only through the recurrence
        assert decoders and all(g is None or not g.any() for g in gd)
        grads[name] = gw
        tr.env.close()
    torch.testing.assert_close(grads["replayed"], grads["single"], atol=1e-5, rtol=1e-4)


def test_each_step_carries_its_first_reads_key_and_the_memory_it_read(tmp_path):
    """The fields the term uses are the first MBP head's key and strength and M_{t-1}: re-reading
    M_{t-1} with them gives the step's own first read weights, across episode starts and
    overwritten rows; acting without autograd (the replay learner) keeps none of them; a
    minibatch's term is the term of that minibatch's replay."""
    tr = _trainer(tmp_path, "align", read_target_cost=1.0, tau=20)  # rows 4: overwrites
    seg = tr.rollout()
    assert not seg.with_graph and all(o.read_key is None for o in seg.outputs)
    assert bool(seg.starts[1:].any())  # the segment crosses an episode start
    outs, _ = replay(tr.agent, seg)
    acted = acted_memories(tr.agent, seg)
    for t, o in enumerate(outs):
        assert torch.equal(o.read_memory.M, acted[t].M.detach())
        assert torch.equal(o.read_memory.written, acted[t].written)
        w = read_weights(o.read_memory, o.read_key[:, None], o.read_strength[:, None])
        torch.testing.assert_close(w[:, 0], o.mbp_weights[:, 0].detach())
    idx = torch.tensor([2, 0])
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    adv, targets = tr.learner.targets(seg, values)
    sub, _ = replay(tr.agent, seg, idx)
    _, _, logs = tr.learner.losses(sub, seg, adv, targets, idx)
    term, top = hindsight_read(sub, seg.valid[:, idx], seg.starts[:, idx])
    assert logs["loss/read_target"] == pytest.approx(term.item(), rel=1e-5)
    assert logs["read/target_top"] == pytest.approx(top)
    tr.env.close()


def test_surprise_weighting_weighs_the_term_by_the_next_steps_kl(tmp_path):
    """Under --read-target-weighting surprise the learner's term is hindsight_read with the
    minibatch's KL(q || p) as the surprise."""
    tr = _trainer(tmp_path, "surprise", read_target_cost=1.0, read_target_weighting="surprise")
    seg, outs, logs = _segment_losses(tr)
    kl = tr.agent.evaluate(outs).kl
    weighted, _ = hindsight_read(outs, seg.valid, seg.starts, kl)
    uniform, _ = hindsight_read(outs, seg.valid, seg.starts)
    assert logs["loss/read_target"] == pytest.approx(weighted.item(), rel=1e-5)
    assert weighted.item() != pytest.approx(uniform.item(), rel=1e-3)
    tr.env.close()


def test_read_target_settings_are_checked():
    with pytest.raises(ConfigError, match="--read-target-cost"):
        make_config("small", read_target_cost=-1.0)
    with pytest.raises(ConfigError, match="--tau >= 2"):
        make_config("small", read_target_cost=1.0, tau=1)
    with pytest.raises(ConfigError, match="--read-target-weighting"):
        make_config("small", read_target_weighting="kl")
    cfg = make_config("small")
    assert cfg.read_target_cost == 0.0 and cfg.read_target_weighting == "uniform"
