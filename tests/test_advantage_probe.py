"""experiments/advantage_probe.py: its statistics against hand computations on the same
segments, and one clear line with exit code 2 for a bad checkpoint."""

from __future__ import annotations

import sys

import pytest
import torch

from merlin_rl.config import make_config
from merlin_rl.train import Trainer
from scripts import TINY, load_script

probe_mod = load_script("experiments/advantage_probe.py")
ENV = dict(env="merlin_rl/RepeatSymbol-v0", env_kwargs={"episode_length": 6, "k": 1})


def _trainer(tmp_path, name: str, **kw) -> Trainer:
    torch.manual_seed(0)
    cfg = make_config("small", **{**TINY, **ENV, **kw})
    return Trainer(cfg, run_dir=tmp_path / name, progress=False)


@pytest.mark.parametrize("baseline", ["mbp", "critic"])
def test_the_probe_measures_what_it_says(tmp_path, baseline):
    """Two trainers made alike act the same segment: the probe's variances, entropy and error
    shares equal hand loops over that segment's steps."""
    out = probe_mod.probe(_trainer(tmp_path, "a", baseline=baseline), 1)
    tr = _trainer(tmp_path, "b", baseline=baseline)
    seg = tr.rollout()
    T, B = seg.rewards.shape
    with torch.no_grad():
        v = tr.agent.values(seg.outputs)
    r, deltas, wrong, confident, rewarded, ent = [], [], 0, 0, 0, []
    for t in range(T):
        for b in range(B):
            if not seg.valid[t, b]:
                continue
            nxt = float(v[t + 1, b]) if t + 1 < T else float(seg.bootstrap[b])
            nxt = 0.0 if seg.terminals[t, b] else nxt
            r.append(float(seg.rewards[t, b]))
            deltas.append(r[-1] + tr.cfg.gamma * nxt - float(v[t, b]))
            p = torch.softmax(seg.outputs[t].logits[b], -1)
            ent.append(float(-(p * p.log()).sum()))
            if r[-1] != 0:
                rewarded += 1
            if r[-1] < 0:
                wrong += 1
                confident += int(int(p.argmax()) == int(seg.actions[t, b]))
    assert out["var_reward"] == pytest.approx(torch.tensor(r).var().item(), abs=1e-5)
    assert out["var_delta_mbp"] == pytest.approx(torch.tensor(deltas).var().item(), abs=1e-5)
    assert out["entropy"] == pytest.approx(sum(ent) / len(ent), abs=1e-4)
    assert out["wrong"] == pytest.approx(wrong / rewarded, abs=1e-4)
    assert out["wrong_argmax"] == pytest.approx(confident / wrong, abs=1e-4)
    assert ("var_adv_policy_0.9" in out) == (baseline == "critic")
    tr.env.close()


def test_a_bad_checkpoint_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["advantage_probe.py", "--checkpoint", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as e:
        probe_mod.main()
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("advantage_probe.py:") and "\n" not in err
