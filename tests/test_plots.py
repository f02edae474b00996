"""`merlin-rl plot` and `merlin-rl memory` produce real figures from tiny runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from merlin_rl.cli import main as cli_main
from merlin_rl.config import make_config
from merlin_rl.plots import mean_and_interval
from merlin_rl.train import Trainer
from scripts import TINY as BASE

torch.set_num_threads(1)

TINY = dict(BASE, memory_rows=8, tau=5, total_steps=200, log_interval=40, checkpoint_interval=200)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for agent, seed in (("merlin", 0), ("merlin", 1), ("rl-lstm", 0)):
        d = root / f"{agent}_{seed}"
        Trainer(
            make_config("small", agent=agent, seed=seed, **TINY), run_dir=d, progress=False
        ).train()
        dirs.append(d)
    return dirs


def _png_pixels(path):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    return img


def test_plot_groups_runs_and_draws(runs, tmp_path, capsys):
    out = tmp_path / "curves.png"
    rc = cli_main(["plot", *map(str, runs), "--out", str(out), "--metric", "loss/policy"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["curves"]
    assert summary["merlin_rl/ColourMatch-v0/merlin"]["runs"] == 2
    assert summary["merlin_rl/ColourMatch-v0/rl-lstm"]["runs"] == 1
    img = _png_pixels(out)
    assert img[..., :3].std() > 0.05  # not blank


def test_plot_group_by_a_config_key(runs, tmp_path, capsys):
    out = tmp_path / "by_seed.png"
    rc = cli_main(["plot", *map(str, runs), "--out", str(out), "--group-by", "seed"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["curves"]
    assert sorted(summary) == [
        "merlin_rl/ColourMatch-v0/merlin seed=0",
        "merlin_rl/ColourMatch-v0/merlin seed=1",
        "merlin_rl/ColourMatch-v0/rl-lstm seed=0",
    ]
    assert all(v["runs"] == 1 for v in summary.values())
    bad = tmp_path / "bad.png"
    assert cli_main(["plot", str(runs[0]), "--out", str(bad), "--group-by", "colour"]) == 2
    err = capsys.readouterr().err
    assert "--group-by 'colour' is not a config key" in err and not bad.exists()


def test_plot_labels_a_run_from_before_a_key_existed_with_its_legacy_value(runs, tmp_path, capsys):
    import shutil

    from merlin_rl.config import LEGACY_SETTINGS
    from merlin_rl.encoders import PIXEL_SCALE

    assert LEGACY_SETTINGS["image_scale"] == PIXEL_SCALE
    copies = []
    for run, width in ((runs[0], None), (runs[1], 0)):  # a run from before the key, one with 0
        d = tmp_path / f"copy_{len(copies)}"
        shutil.copytree(run, d, ignore=shutil.ignore_patterns("checkpoints"))
        cfg = json.loads((d / "config.json").read_text())
        del cfg["decoder_hidden"]
        if width is not None:
            cfg["decoder_hidden"] = width
        (d / "config.json").write_text(json.dumps(cfg))
        copies.append(str(d))
    out = tmp_path / "by_width.png"
    rc = cli_main(["plot", *copies, "--out", str(out), "--group-by", "decoder_hidden"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["curves"]
    label = "merlin_rl/ColourMatch-v0/merlin decoder_hidden=0"  # one line, not "0" and "?"
    assert list(summary) == [label] and summary[label]["runs"] == 2


def test_plot_bad_metric_and_not_a_run(runs, tmp_path, capsys):
    assert (
        cli_main(["plot", str(runs[0]), "--out", str(tmp_path / "x.png"), "--metric", "nope"]) == 2
    )
    assert "nope" in capsys.readouterr().err
    assert cli_main(["plot", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_memory_figure(runs, tmp_path, capsys):
    out = tmp_path / "mem.png"
    rc = cli_main(
        ["memory", "--checkpoint", str(runs[0] / "checkpoints" / "final.pt"), "--out", str(out)]
    )
    assert rc == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["steps"] == 5 and info["heads"][-1] == "policy read"
    assert _png_pixels(out)[..., :3].std() > 0.05


def test_memory_figure_needs_memory(runs, tmp_path, capsys):
    rc = cli_main(
        [
            "memory",
            "--checkpoint",
            str(runs[2] / "checkpoints" / "final.pt"),
            "--out",
            str(tmp_path / "m.png"),
        ]
    )
    assert rc == 2 and "no external memory" in capsys.readouterr().err


def test_mean_and_interval_vs_hand_computed():
    a = (np.array([0.0, 10.0]), np.array([0.0, 1.0]))
    b = (np.array([0.0, 10.0]), np.array([1.0, 3.0]))
    grid, mean, half = mean_and_interval([a, b], points=3)
    np.testing.assert_allclose(grid, [0, 5, 10])
    np.testing.assert_allclose(mean, [0.5, 1.25, 2.0])
    # std (ddof=1) of two values x, y is |x - y| / sqrt(2); half = 1.96 * std / sqrt(2)
    np.testing.assert_allclose(half, 1.96 * np.array([1.0, 1.5, 2.0]) / 2)


def test_record_gif(runs, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "ep.gif"
    rc = cli_main(
        [
            "record",
            "--checkpoint",
            str(runs[0] / "checkpoints" / "final.pt"),
            "--out",
            str(out),
            "--episodes",
            "2",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["frames"] == 10 and len(info["returns"]) == 2  # 2 episodes of 5 steps
    im = Image.open(out)
    assert im.n_frames == 10 and im.size[0] > 300 and im.size[1] > 100
    im.seek(4)
    assert np.asarray(im.convert("RGB")).std() > 10  # not blank


def test_record_rl_lstm_and_bad_output(runs, tmp_path, capsys):
    ckpt = str(runs[2] / "checkpoints" / "final.pt")
    assert cli_main(["record", "--checkpoint", ckpt, "--out", str(tmp_path / "a.gif")]) == 0
    capsys.readouterr()
    assert cli_main(["record", "--checkpoint", ckpt, "--out", str(tmp_path / "a.avi")]) == 2
    assert ".gif or .mp4" in capsys.readouterr().err


def test_the_observation_panel_has_no_black_half_without_a_decoder():
    from merlin_rl.record import panel_image

    obs = np.full((4, 5, 3), 0.5)
    assert panel_image(obs, None).shape == (4, 5, 3)  # RL-MEM, RL-LSTM: the observation alone
    both = panel_image(obs, np.zeros((4, 5, 3)))
    assert both.shape == (4, 10, 3) and np.array_equal(both[:, :5], obs)


def test_tensorboard_images_and_hparams(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = make_config("small", **{**TINY, "tb_images_every": 2})
    Trainer(cfg, run_dir=tmp_path, progress=False).train()
    acc = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0})
    acc.Reload()
    tags = acc.Tags()["images"]
    assert "reconstruction/image" in tags and "memory/read_weights" in tags
    assert any(p.is_dir() for p in (tmp_path / "tb").iterdir())  # the hparams run


def test_record_mp4_without_the_video_extra(runs, tmp_path, capsys):
    pytest.importorskip("PIL")
    try:
        import imageio  # noqa: F401

        pytest.skip("imageio is installed")
    except ImportError:
        pass
    rc = cli_main(
        [
            "record",
            "--checkpoint",
            str(runs[0] / "checkpoints" / "final.pt"),
            "--out",
            str(tmp_path / "a.mp4"),
        ]
    )
    assert rc == 2 and "merlin-rl[video]" in capsys.readouterr().err
