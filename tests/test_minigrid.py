"""MiniGrid (a third-party Gymnasium package) through ``--env-import minigrid``: the observation
conversion of ``MiniGrid-MemoryS7-v0`` (image of object / colour / state ids, direction
Discrete(4), mission strings) and a tiny training run and evaluation from the command line.
Skipped when minigrid is not installed (``pip install minigrid``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

minigrid = pytest.importorskip("minigrid")

from merlin_rl.cli import main as cli_main  # noqa: E402
from merlin_rl.encoders import ObservationCodec  # noqa: E402
from merlin_rl.envs import import_env_modules, make_vector_env  # noqa: E402

ENV_ID = "MiniGrid-MemoryS7-v0"
MISSION = "go to the matching object at the end of the hallway"


def test_memory_s7_observations_convert():
    import_env_modules("minigrid")
    env = make_vector_env(ENV_ID, 3)
    try:
        obs, _ = env.reset(seed=0)
        codec = ObservationCodec(env.single_observation_space, image_channels=4, enc_dim=16)
        kinds = {k: m.kind for k, m in codec.items()}
        assert kinds == {"direction": "discrete", "image": "image", "mission": "text"}
        mission = codec.modality("mission")
        assert mission.length == len(MISSION) and mission.vocab == mission.tokenizer.vocab
        assert isinstance(obs["mission"], tuple) and obs["mission"][0] == MISSION
        t = codec.to_tensors(obs, torch.device("cpu"))
        assert t["mission"].shape == (3, len(MISSION)) and t["mission"].dtype == torch.int64
        assert mission.tokenizer.decode(t["mission"].numpy()) == list(obs["mission"])
        assert int(t["mission"].min()) >= 1  # all characters known, no padding at full length
        assert t["image"].shape == (3, 3, 7, 7)  # (B, C, H, W)
        np.testing.assert_allclose(
            t["image"].numpy() * 255, obs["image"].transpose(0, 3, 1, 2), atol=1e-4
        )
        np.testing.assert_array_equal(t["direction"].argmax(-1).numpy(), obs["direction"])
        obs, *_ = env.step(np.zeros(3, np.int64))
        again = codec.to_tensors(obs, torch.device("cpu"))  # the cached mission ids
        assert torch.equal(again["mission"], t["mission"])
        e = codec.encode(again)
        assert e.shape == (3, codec.out_dim) and torch.isfinite(e).all()
    finally:
        env.close()


def test_memory_s7_trains_and_evaluates_from_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    rc = cli_main(
        [
            "train",
            "--env",
            ENV_ID,
            "--env-import",
            "minigrid",
            "--total-steps",
            "48",
            "--num-envs",
            "2",
            "--tau",
            "8",
            "--z-dim",
            "8",
            "--mbp-hidden",
            "16",
            "--policy-hidden",
            "16",
            "--mlp-hidden",
            "16",
            "--enc-dim",
            "16",
            "--image-channels",
            "4",
            "--memory-rows",
            "8",
            "--log-interval",
            "16",
            "--run-dir",
            str(run),
            "--no-progress",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert (run / "checkpoints" / "final.pt").exists()
    lines = (run / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    assert len(lines) >= 2 and "loss/recon_text:mission" in header  # the mission is reconstructed
    row = dict(zip(header, lines[-1].split(",")))
    assert np.isfinite(float(row["loss/recon_text:mission"]))
    # its image holds small codes (ids up to ~10): auto scale 7, not 255, recorded for resumes
    assert json.loads((run / "config.json").read_text())["image_scale"] == 7.0
    capsys.readouterr()
    rc = cli_main(
        ["eval", "--checkpoint", str(run / "checkpoints" / "final.pt"), "--episodes", "1"]
    )
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert rc == 0
    result = json.loads(out)
    assert result["env"] == ENV_ID and result["episodes"] == 1
