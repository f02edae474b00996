"""experiments/choice_probe.py: ColourMatch's choice against its cue, counted by hand from the
same episode, and its one-line refusal of another task's checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scripts import assert_probe_refuses, load_script


def _agent_and_env(env_id: str = "merlin_rl/ColourMatch-v0", b: int = 64):
    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    torch.manual_seed(0)
    cfg = make_config(
        "small", env=env_id, num_envs=b, z_dim=8, enc_dim=16, image_channels=4,
        mlp_hidden=16, mbp_hidden=16, policy_hidden=16,
    )  # fmt: skip
    env = make_vector_env(cfg.env, b, cfg.env_kwargs)
    return Agent(env.single_observation_space, env.single_action_space, cfg).eval(), env


def test_choice_probe_counts_the_choice_against_the_cue():
    mod = load_script("experiments/choice_probe.py")
    agent, env = _agent_and_env()
    torch.manual_seed(1)  # the actions' sampling
    res = mod.probe(agent, env, seed=0)
    conf = np.array(res["confusion"])
    assert conf.shape == (4, 4) and np.allclose(conf.sum(1), 1, atol=2e-3)
    # by hand: the same episode again (same seeds), the reward of the choice step is the match
    agent2, env2 = _agent_and_env()
    stepper = load_script("experiments/cue_probe.py")._Stepper(agent2, env2, 0)
    torch.manual_seed(1)
    right = None
    with torch.no_grad():
        for _ in range(env2.unwrapped.core.length):
            _, out = stepper.act()
            r, _, _ = stepper.advance(out)
            right = r  # the last step's reward: 1 when the choice matches the cue
    assert res["right"] == pytest.approx(float(np.mean(right)), abs=1e-3)
    assert res["mu_q_abs_mean"] > 0
    probs = np.array(res["choice_probs"])
    assert probs.shape == (4, 4) and np.allclose(probs.sum(1), 1, atol=5e-3)
    assert 0 <= res["cue_mu_q_separable"] <= 1 and 0 <= res["cue_z_separable"] <= 1
    assert all(0 <= w <= 1 for w in res["policy_read_row0"])


def test_centroid_accuracy_by_hand():
    """Nearest centroid fitted on the even rows, scored on the odd ones: two clusters apart are
    told apart; a label that the data does not carry is at chance level or below."""
    mod = load_script("experiments/choice_probe.py")
    label = np.array([0, 0, 1, 1] * 25)
    apart = np.where(label[:, None] == 0, -1.0, 1.0) + 0.01 * np.arange(100)[:, None] % 3
    assert mod.centroid_accuracy(apart, label) == 1.0
    x = np.array([[0.0], [0.0], [1.0], [1.0]] * 25)  # carries rows' parity of pairs, not label
    shuffled = np.array([0, 1, 1, 0] * 25)
    # even rows: x 0 -> label 0, x 1 -> label 1 (centroids 0 and 1); odd rows: x 0 -> label 1
    # and x 1 -> label 0: every odd row is classified wrong
    assert mod.centroid_accuracy(x, shuffled) == 0.0


def test_choice_probe_refuses_another_task(tmp_path, capsys, monkeypatch):
    assert_probe_refuses(
        "experiments/choice_probe.py",
        "merlin_rl/RepeatSymbol-v0",
        "merlin on merlin_rl/ColourMatch-v0",
        tmp_path,
        capsys,
        monkeypatch,
    )
