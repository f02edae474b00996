"""Learning does not depend on the task's reward scale (DESIGN.md §2, acting.ReturnTracker,
Agent.reward_scale): rewards are divided by sqrt(E[G^2]) of the discounted returns seen so far,
so a task whose rewards are multiplied by c trains to the same parameters."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from merlin_rl.acting import ReturnTracker
from merlin_rl.config import make_config
from merlin_rl.train import Trainer
from scripts import TINY as BASE

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "reward_scale.py"
_spec = importlib.util.spec_from_file_location("bench_reward_scale", BENCH)
reward_scale = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reward_scale)

TINY = dict(BASE, memory_rows=0, tau=6)  # 0: N from the episode length


def test_return_tracker_matches_a_loop_reference():
    gamma = 0.9
    g = torch.Generator().manual_seed(0)
    T, B = 12, 3
    r = torch.randn(T, B, generator=g)
    done = torch.rand(T, B, generator=g) < 0.2
    valid = torch.rand(T, B, generator=g) > 0.1
    tr = ReturnTracker(B, gamma, torch.device("cpu"))
    got = [tr.step(r[t], done[t], valid[t]) for t in range(T)]
    G = [0.0] * B
    for t in range(T):
        sq = n = 0.0
        for b in range(B):
            if valid[t, b]:
                G[b] = gamma * G[b] + float(r[t, b])
                sq += G[b] ** 2
                n += 1
            else:
                G[b] = gamma * G[b]
            if done[t, b] and valid[t, b]:
                G[b] = 0.0
        assert got[t][0] == pytest.approx(sq, rel=1e-9, abs=1e-12) and got[t][1] == n


def _params(tmp_path, scale: float, updates: int = 4, **kw) -> dict[str, torch.Tensor]:
    env = reward_scale.register_scaled("merlin_rl/ColourMatch-v0", scale)
    tr = Trainer(
        make_config("small", env=env, seed=3, **{**TINY, **kw}),
        run_dir=tmp_path / f"x{scale:g}",
        progress=False,
    )
    for _ in range(updates):
        tr.update(tr.rollout())
    tr.env.close()
    return {k: p.detach().clone() for k, p in tr.agent.named_parameters()}


@pytest.mark.parametrize("epochs", [1, 2])
def test_rewards_times_50_train_the_same_parameters(tmp_path, epochs):
    a = _params(tmp_path / "a", 1.0, epochs=epochs)
    b = _params(tmp_path / "b", 50.0, epochs=epochs)
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=2e-4, rtol=1e-3, msg=k)


def test_without_reward_norm_the_scale_matters(tmp_path):
    """The check above can fail: with the normalisation off, x50 rewards train differently."""
    a = _params(tmp_path / "a", 1.0, reward_norm="off")
    b = _params(tmp_path / "b", 50.0, reward_norm="off")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-2
