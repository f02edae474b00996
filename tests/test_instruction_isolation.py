"""experiments/instruction_isolation.py: its batches keep the instruction in exactly the asked
share of views, its weights cover every reconstruction term, and a short run reports them."""

from __future__ import annotations

import math

import numpy as np

from scripts import load_script

TINY = dict(z_dim=8, enc_dim=16, image_channels=4, mlp_hidden=16, mbp_hidden=16, policy_hidden=16)


def test_first_views_keep_the_instruction_in_the_asked_share():
    from merlin_rl.envs import make_vector_env

    mod = load_script("experiments/instruction_isolation.py")
    env = make_vector_env(mod.ENV, 24, {})
    for share, kept in ((1.0, 24), (1 / 12, 2), (0.5, 12)):
        obs = mod.first_views(env, 3, share)
        has = (obs["text"] != 0).any(-1)
        assert has.sum() == kept and has[:kept].all()  # the first rows keep it
        assert np.all(obs["text"][has][:, :3] == [1, 2, 3])  # "go to the"


def test_a_short_run_weighs_every_term_and_reports_each_check():
    mod = load_script("experiments/instruction_isolation.py")
    rows = mod.run(0.5, 2, 8, 0, every=1, **TINY)
    assert [r["step"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert all(math.isfinite(r[k]) for k in ("nll", "kl", "image", "image_code", "text_code"))
        assert 0.0 <= r["saturated"] <= 1.0
        assert 0.0 <= r["colour"] <= 1.0 and 0.0 <= r["shape"] <= 1.0
    assert rows[0] != rows[-1]  # the MBP moved
    rows = mod.run(1.0, 1, 8, 0, kl=False, every=1, **TINY)
    assert len(rows) == 2


def test_the_weights_cover_every_reconstruction_term():
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = load_script("experiments/instruction_isolation.py")
    cfg = make_config("small", env=mod.ENV, num_envs=4, image_weight=7.0, text_weight=3.0, **TINY)
    env = make_vector_env(mod.ENV, 4, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    obs = agent.mbp.codec.to_tensors(mod.first_views(env, 0, 1.0), "cpu")
    with torch.no_grad():
        out, _ = agent.step(obs, agent.initial_state(4))
        keys = set(agent.evaluate([out]).recon)
    w = mod.weights(cfg)
    assert set(w) == keys
    assert w["image:image"] == 7.0 and w["text:text"] == 3.0


def test_the_loop_mode_trains_the_mbp_and_not_the_policy():
    """--loop: two real updates move the MBP's text decoder and leave the policy (lr 1e-12) as
    it was; each row carries the instruction probe's numbers."""
    import torch

    from merlin_rl import train

    mod = load_script("experiments/instruction_isolation.py")
    seen = {}
    real = train.Trainer.__init__

    def spy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        seen["trainer"] = self
        seen["policy"] = [p.detach().clone() for p in self.agent.policy_parameters()]
        seen["mbp"] = [p.detach().clone() for p in self.agent.mbp_parameters()]

    train.Trainer.__init__ = spy
    try:
        rows = mod.loop(2, 0, every=2, **TINY)
    finally:
        train.Trainer.__init__ = real
    agent = seen["trainer"].agent
    assert [r["update"] for r in rows] == [0, 2]
    assert all(0.0 <= r["colour"] <= 1.0 and r["nll"] > 0 for r in rows)
    moved = [not torch.equal(a, b) for a, b in zip(seen["mbp"], agent.mbp_parameters())]
    assert any(moved)
    now = [p.detach() for p in agent.policy_parameters()]
    drift = max(float((a - b).abs().max()) for a, b in zip(seen["policy"], now))
    assert drift < 1e-8


def test_acted_segments_hold_the_instruction_exactly_at_episode_starts(tmp_path):
    """What the learner replays on InstructedGoal: the instruction is in the stored observation
    of every step that starts an episode and of no other, and each such step is a valid
    transition (it enters the losses)."""
    import torch

    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    mod = load_script("experiments/instruction_isolation.py")
    cfg = make_config("small", env=mod.ENV, num_envs=16, seed=3, total_steps=10**6, **TINY)
    trainer = Trainer(cfg, run_dir=tmp_path, progress=False)
    starts_seen = 0
    for _ in range(3):
        seg = trainer.rollout()
        has = torch.stack([(o.obs["text"] != 0).any(-1) for o in seg.outputs])
        assert torch.equal(has, seg.starts)
        assert bool((seg.valid[has] > 0).all())
        starts_seen += int(has.sum())
    assert starts_seen > 16  # episodes ended and new ones began inside the segments


def test_bad_settings_exit_2_with_one_line():
    import subprocess
    import sys

    from scripts import ROOT

    for args in (["--share", "2"], ["--grad-clip", "-1"], ["--steps", "-3"]):
        p = subprocess.run(
            [sys.executable, str(ROOT / "experiments/instruction_isolation.py"), *args],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert p.returncode == 2
        last = p.stderr.strip().splitlines()[-1]
        assert last.startswith("instruction_isolation.py: error: --")


def test_how_often_it_checks_changes_nothing():
    """The held-out check draws its own noise: the last row is the same whether the check ran
    every step or only at the end, in isolation and in the loop."""
    mod = load_script("experiments/instruction_isolation.py")
    every_step = mod.run(0.5, 3, 8, 0, every=1, **TINY)[-1]
    at_end = mod.run(0.5, 3, 8, 0, every=10, **TINY)[-1]
    assert every_step == at_end
    assert mod.loop(2, 0, every=1, **TINY)[-1] == mod.loop(2, 0, every=5, **TINY)[-1]
