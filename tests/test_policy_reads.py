"""The policy's memory reads (policy.Policy, ``--policy-reads``): each of its K~ keys reads
M_{t-1} by cosine-similarity attention, checked against a row-by-row loop; one key is the paper's
policy, with the parameters and initial values it always had."""

from __future__ import annotations

import math

import pytest
import torch
from dataclasses import replace

from merlin_rl.memory import MemoryState
from merlin_rl.policy import Policy

torch.set_num_threads(1)


def _read_by_hand(M, written, key, beta):
    """Softmax of beta x cos(key, row) over the written rows (0 elsewhere), and the readout."""
    n, w = len(M), len(M[0])
    logits = {}
    for j in range(n):
        if written[j]:
            dot = sum(a * b for a, b in zip(key, M[j]))
            norm = math.sqrt(sum(a * a for a in key)) * math.sqrt(sum(b * b for b in M[j]))
            logits[j] = beta * dot / norm
    top = max(logits.values())
    total = sum(math.exp(v - top) for v in logits.values())
    weights = [math.exp(logits[j] - top) / total if j in logits else 0.0 for j in range(n)]
    return weights, [sum(weights[j] * M[j][c] for j in range(n)) for c in range(w)]


@pytest.mark.parametrize("reads", [1, 3])
def test_policy_reads_vs_loop(reads):
    torch.manual_seed(0)
    b, n, width, z_dim, hidden = 2, 5, 6, 4, 8
    pol = Policy(z_dim, 3, hidden, 16, width, read_strength_init=2.0, reads=reads).double()
    mem = MemoryState.zeros(b, n, width, dtype=torch.float64)
    mem = replace(
        mem,
        M=torch.randn(b, n, width, dtype=torch.float64),
        written=torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool),
    )
    z, h_cat = torch.randn(b, z_dim).double(), torch.randn(b, 2 * hidden).double()
    logits, weights, _ = pol.readout(z, h_cat, mem)
    assert weights.shape == (b, reads, n)
    i = pol.interface(h_cat)  # K~ blocks of (key, strength)
    reads_by_hand = []
    for e in range(b):
        parts = []
        for k in range(reads):
            block = i[e, k * (width + 1) : (k + 1) * (width + 1)].tolist()
            beta = math.log1p(math.exp(block[-1]))  # softplus
            w, r = _read_by_hand(mem.M[e].tolist(), mem.written[e].tolist(), block[:-1], beta)
            assert weights[e, k].tolist() == pytest.approx(w, rel=1e-5, abs=1e-8)  # norms: + eps
            parts += r
        reads_by_hand.append(parts)
    feats = torch.cat([z, h_cat, torch.tensor(reads_by_hand, dtype=torch.float64)], -1)
    torch.testing.assert_close(logits, pol.head(feats), rtol=1e-5, atol=1e-8)


def test_one_key_is_the_papers_policy():
    """--policy-reads 1: the interface has one key + strength, and a policy built with the
    default draws the same initial parameters as one built before the option existed (the
    same layers in the same order: a run's seed gives the same network)."""
    torch.manual_seed(3)
    default = Policy(4, 3, 8, 16, 6, read_strength_init=5.0)
    torch.manual_seed(3)
    one = Policy(4, 3, 8, 16, 6, read_strength_init=5.0, reads=1)
    assert default.interface.out_features == 7
    for (k, p), (_, q) in zip(default.state_dict().items(), one.state_dict().items()):
        assert torch.equal(p, q), k
    several = Policy(4, 3, 8, 16, 6, read_strength_init=5.0, reads=2)
    assert several.interface.out_features == 14
    strength = torch.nn.functional.softplus(several.interface.bias.view(2, 7)[:, -1])
    torch.testing.assert_close(strength, torch.full((2,), 5.0))


def test_policy_reads_train_end_to_end(tmp_path):
    """A MERLIN with two policy keys trains, checkpoints and reports both keys' weights."""
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    cfg = make_config(
        "small", num_envs=4, z_dim=8, enc_dim=16, image_channels=4, mlp_hidden=16,
        mbp_hidden=16, policy_hidden=16, memory_rows=6, tau=5, policy_reads=2,
        env_kwargs={"delay": 3}, total_steps=40, log_interval=20, checkpoint_interval=20,
    )  # fmt: skip
    tr = Trainer(cfg, run_dir=tmp_path / "run", progress=False)
    seg = tr.rollout()
    assert seg.outputs[-1].policy_weights.shape == (4, 2, 6)
    tr.update(seg)
    tr.env.close()
