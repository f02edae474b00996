"""experiments/draw_probe.py: InstructedGoal's squared error split by pixel class, on untrained
agents of both image outputs, and its one-line refusal of another task's checkpoint."""

from __future__ import annotations

import pytest
import torch

from scripts import assert_probe_refuses, load_script


@pytest.mark.parametrize(
    "output, latent", [("sigmoid", "joint"), ("linear", "joint"), ("linear", "factored")]
)
def test_draw_probe_splits_the_error_by_pixel_class(output, latent):
    from merlin_rl.agent import Agent
    from merlin_rl.config import make_config
    from merlin_rl.envs import make_vector_env

    mod = load_script("experiments/draw_probe.py")
    torch.manual_seed(0)
    cfg = make_config(
        "small", env="merlin_rl/InstructedGoal-v0", num_envs=8, z_dim=8, enc_dim=16,
        image_channels=4, mlp_hidden=16, mbp_hidden=16, policy_hidden=16, image_output=output, latent=latent,
    )  # fmt: skip
    env = make_vector_env(cfg.env, 8, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    res = mod.probe(agent, env, seed=0)
    assert res["image_output"] == output
    for source in ("z", "mu_q", "mu_p"):
        for cls in ("agent", "floor", "object"):
            assert res[f"sq_error_{source}_{cls}"] >= 0
    # an untrained decoder draws about 0.5 everywhere through the sigmoid (the white agent's
    # 3 x 3 cell: 27 values x 0.25) and about 0 without it (27 x 1)
    lo_hi = {"sigmoid": (3, 11), "linear": (18, 27)}[output]
    assert lo_hi[0] < res["sq_error_z_agent"] < lo_hi[1]
    lo, mid, hi = res["object_bright_output_q10_50_90"]
    assert lo <= mid <= hi


def test_draw_probe_refuses_another_task(tmp_path, capsys, monkeypatch):
    assert_probe_refuses(
        "experiments/draw_probe.py",
        "merlin_rl/ColourMatch-v0",
        "merlin on merlin_rl/InstructedGoal-v0",
        tmp_path,
        capsys,
        monkeypatch,
    )
