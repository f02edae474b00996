"""Helpers for tests: load a script of experiments/ or benchmarks/ (they are files, not package
modules), and a tiny agent for fast training tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
# a tiny MERLIN on ColourMatch with delay 3: settings for tests that act and learn a few segments
TINY = dict(
    z_dim=8,
    enc_dim=16,
    image_channels=4,
    mlp_hidden=16,
    mbp_hidden=16,
    policy_hidden=16,
    memory_rows=4,
    num_envs=4,
    tau=7,
    env_kwargs={"delay": 3},
)


def load_script(relative: str) -> ModuleType:
    """The module of the script at ``relative`` (a path under the repository root)."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def assert_probe_refuses(
    script: str, env: str, allowed: str, tmp_path, capsys, monkeypatch
) -> None:
    """Train a tiny MERLIN on ``env``, then run the probe ``script`` on its checkpoint: one line
    on stderr naming what is ``allowed``, exit code 2."""
    import sys

    import pytest

    from merlin_rl.cli import main as cli_main

    run = tmp_path / "run"
    cli_main(["train", "--env", env, "--total-steps", "64", "--num-envs", "2", "--tau", "4",
              "--run-dir", str(run), "--no-progress", "--z-dim", "4", "--enc-dim", "8",
              "--image-channels", "2", "--mlp-hidden", "8", "--mbp-hidden", "8",
              "--policy-hidden", "8", "--decoder-hidden", "8"])  # fmt: skip
    capsys.readouterr()
    mod = load_script(script)
    monkeypatch.setattr(
        sys, "argv", [script, "--checkpoint", str(run / "checkpoints" / "final.pt")]
    )
    with pytest.raises(SystemExit) as e:
        mod.main()
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"allowed: {allowed}" in err[0]
