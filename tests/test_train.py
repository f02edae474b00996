"""Trainer-level checks: CPU reproducibility from the seed, invalid (autoreset) steps kept out of
the losses."""

from __future__ import annotations

import torch

from merlin_rl.config import make_config
from merlin_rl.train import Trainer
from scripts import TINY as BASE

TINY = dict(BASE, memory_rows=8, tau=5)


def _train(tmp_path, seed: int, updates: int = 3) -> dict[str, torch.Tensor]:
    tr = Trainer(
        make_config("small", seed=seed, **TINY), run_dir=tmp_path / f"s{seed}", progress=False
    )
    for _ in range(updates):
        tr.update(tr.rollout())
    tr.env.close()
    return {k: v.clone() for k, v in tr.agent.state_dict().items()}


def test_same_seed_same_parameters(tmp_path):
    a = _train(tmp_path / "a", seed=3)
    b = _train(tmp_path / "b", seed=3)
    c = _train(tmp_path / "c", seed=4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_autoreset_steps_are_masked_out(tmp_path):
    # episode length 5 (1 cue + 3 delay + 1 choice) + 1 autoreset step: over 12 steps each env
    # has exactly 2 invalid transitions, at t = 5 and t = 11
    # (the copies in step, --desync off: under cut a copy's second episode may end sooner)
    cfg = make_config("small", **{**TINY, "tau": 12, "desync": "off"})
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    seg = tr.rollout()
    invalid = (seg.valid == 0).nonzero()[:, 0].unique().tolist()
    assert invalid == [5, 11]
    assert seg.rewards[seg.valid == 0].abs().sum() == 0
    # rewards appear only at the choice steps (t = 4, 10)
    assert set(seg.rewards.nonzero()[:, 0].tolist()) <= {4, 10}
    mbp_loss, policy_loss, logs = tr.losses(seg)
    assert torch.isfinite(mbp_loss) and torch.isfinite(policy_loss)
    tr.env.close()


def test_paper_preset_runs_one_update(tmp_path):
    # 64x64 images (transposed-conv decoder), |z| = 200, 1350 memory rows
    cfg = make_config("paper", num_envs=2, tau=3)
    assert cfg.policy_input == "sample"  # the paper's policy reads the sample z_t
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    logs = tr.update(tr.rollout())
    assert all(torch.isfinite(torch.tensor(v)) for v in logs.values())
    assert tr.agent.mbp.codec.modality("image").shape == (64, 64, 3)
    tr.env.close()


def test_memory_rows_default_to_the_declared_episode_length(tmp_path):
    """N = the env's episode length (the paper's choice), recorded in config.json; an explicit
    --memory-rows wins; envs that declare no length get 64."""
    import json

    import gymnasium as gym

    from merlin_rl.config import auto_memory_rows

    small = {k: v for k, v in TINY.items() if k not in ("memory_rows", "env_kwargs")}
    tr = Trainer(
        make_config("small", **small, total_steps=40, env_kwargs={"delay": 7}),
        run_dir=tmp_path / "auto",
        progress=False,
    )
    assert tr.cfg.memory_rows == 9  # ColourMatch: 1 cue + 7 delay + 1 choice step
    assert tr.state.memory.M.shape[1] == 9
    tr.train()
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["memory_rows"] == 9
    tr = Trainer(
        make_config("small", **small, memory_rows=5), run_dir=tmp_path / "explicit", progress=False
    )
    assert tr.cfg.memory_rows == 5
    tr.env.close()
    assert auto_memory_rows(None) == 64 and auto_memory_rows(5000) == 1024
    gym.register(
        "merlin_rl_test/NoLimit-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv"
    )
    tr = Trainer(
        make_config("small", **small, env="merlin_rl_test/NoLimit-v0"),
        run_dir=tmp_path / "nolimit",
        progress=False,
    )
    assert tr.cfg.memory_rows == 64
    tr.env.close()
    tr = Trainer(
        make_config("small", **small, env="CartPole-v1"),
        run_dir=tmp_path / "cartpole",
        progress=False,
    )
    assert tr.cfg.memory_rows == 500
    tr.env.close()


def test_resumed_metrics_keep_the_file_columns(tmp_path):
    """A resumed run appends under the existing header: a column this version logs and the old
    file lacks is dropped, not shifted into another column's place."""
    import csv

    from merlin_rl.config import make_config
    from merlin_rl.train import RunLog

    cfg = make_config("small")
    path = tmp_path / "metrics.csv"
    path.write_text("env_steps,wall_time,episode_return\n100,1.5,0.25\n")
    log = RunLog(tmp_path, cfg, resumed_from=100)
    log.write({"env_steps": 200, "wall_time": 1.0, "new/column": 7.0, "episode_return": 0.5})
    log.file.close()
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["env_steps", "wall_time", "episode_return"]
    assert rows[1] == {"env_steps": "200", "wall_time": "2.5", "episode_return": "0.5"}
