"""--ablation-mbp-lr: an ablation's MBP (RL-LSTM, RL-MEM), which only the RL losses train, steps
at --lr-mbp (mbp) or at --lr-policy (policy); MERLIN's MBP always steps at --lr-mbp."""

from __future__ import annotations

import pytest
import torch

from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.train import Trainer
from scripts import TINY

torch.set_num_threads(1)
# rates far apart, so that one update's step of the MBP tells which one it took
RATES = dict(lr_mbp=0.1, lr_policy=1e-5)


def _trainer(tmp_path, agent: str, setting: str, **kw) -> Trainer:
    torch.manual_seed(0)
    cfg = make_config("small", **{**TINY, **RATES, **kw}, agent=agent, ablation_mbp_lr=setting)
    return Trainer(cfg, run_dir=tmp_path / f"{agent}_{setting}", progress=False)


def _mbp_step(tr: Trainer) -> float:
    """The largest change of any MBP parameter over one update (K epochs x minibatches)."""
    before = [p.detach().clone() for p in tr.agent.mbp_parameters()]
    tr.update(tr.rollout())
    return max(
        float((p.detach() - b).abs().max()) for p, b in zip(tr.agent.mbp_parameters(), before)
    )


@pytest.mark.parametrize("agent", ["rl-lstm", "rl-mem"])
def test_an_ablations_mbp_steps_at_the_rate_the_setting_names(tmp_path, agent):
    slow, fast = _trainer(tmp_path, agent, "policy"), _trainer(tmp_path, agent, "mbp")
    assert [g["lr"] for g in slow.opt_mbp.param_groups] == [RATES["lr_policy"]]
    assert [g["lr"] for g in fast.opt_mbp.param_groups] == [RATES["lr_mbp"]]
    # Adam moves a parameter by a few lr at most per step (|m^| / sqrt(v^) <= (1 - b1) /
    # sqrt(1 - b2) ~ 3.2); an update steps the MBP K x minibatches times (the policy-only epochs
    # leave it alone)
    steps = slow.cfg.epochs * slow.cfg.minibatches
    moved_slow, moved_fast = _mbp_step(slow), _mbp_step(fast)
    assert 0 < moved_slow <= steps * RATES["lr_policy"] * 3.2
    assert moved_fast > 100 * moved_slow


def test_merlins_mbp_steps_at_lr_mbp_whatever_the_setting(tmp_path):
    a, b = _trainer(tmp_path, "merlin", "policy"), _trainer(tmp_path, "merlin", "mbp")
    assert [g["lr"] for g in a.opt_mbp.param_groups] == [RATES["lr_mbp"]]
    torch.testing.assert_close(_mbp_step(a), _mbp_step(b))


def test_the_linear_schedule_decays_the_rate_the_setting_names(tmp_path):
    tr = _trainer(tmp_path, "rl-lstm", "policy", lr_schedule="linear", total_steps=1000)
    tr.learner.set_learning_rates(500)
    assert tr.opt_mbp.param_groups[0]["lr"] == pytest.approx(RATES["lr_policy"] / 2)
    assert tr.opt_policy.param_groups[0]["lr"] == pytest.approx(RATES["lr_policy"] / 2)


def test_setting_checked_and_older_runs_stepped_at_lr_mbp():
    assert LEGACY_SETTINGS["ablation_mbp_lr"] == "mbp"
    assert make_config("small").ablation_mbp_lr == "policy"
    assert make_config("paper").ablation_mbp_lr == "policy"
    with pytest.raises(ConfigError, match="--ablation-mbp-lr 'fast' is not known; allowed: mbp"):
        make_config("small", ablation_mbp_lr="fast").validate()


def test_policy_is_the_screens_lr_mbp_at_the_policys_rate(tmp_path):
    """The forty-third session screened it as --lr-mbp 5e-4 (= --lr-policy): the same run."""
    a = _trainer(tmp_path, "rl-lstm", "policy")
    torch.manual_seed(0)
    same = RATES["lr_policy"]
    cfg = make_config("small", **{**TINY, "lr_policy": same, "lr_mbp": same}, agent="rl-lstm")
    b = Trainer(cfg, run_dir=tmp_path / "screen", progress=False)
    for tr in (a, b):
        tr.update(tr.rollout())
    for (name, p), q in zip(a.agent.named_parameters(), b.agent.parameters()):
        torch.testing.assert_close(p, q, msg=name)


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_a_loaded_checkpoint_steps_at_the_settings_rates_not_its_own(tmp_path, schedule):
    """The optimiser state comes from the checkpoint, the rates and Adam's eps from the settings,
    from the moment it is loaded (on the old code, under the constant schedule, the file's)."""
    old = _trainer(tmp_path, "rl-lstm", "mbp", lr_schedule=schedule, total_steps=1000)
    old.update(old.rollout())
    path = old.checkpoint()
    new = _trainer(
        tmp_path, "rl-lstm", "policy", lr_schedule=schedule, total_steps=1000, adam_eps=1e-4
    )
    new.load(path)
    frac = 1.0 - old.env_steps / 1000 if schedule == "linear" else 1.0
    assert new.opt_mbp.param_groups[0]["lr"] == pytest.approx(RATES["lr_policy"] * frac)
    assert new.opt_policy.param_groups[0]["lr"] == pytest.approx(RATES["lr_policy"] * frac)
    assert all(g["eps"] == 1e-4 for o in (new.opt_mbp, new.opt_policy) for g in o.param_groups)
