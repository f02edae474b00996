"""Bad and hostile input over every subcommand (issue 13): each gives exit code 2, exactly one
stderr line naming the flag or file, no traceback, and leaves every file as it was.

All cases run through ``merlin_rl.cli.main(argv)`` in this process (the code path ``__main__``
calls) against copies of one tiny trained run, so the file stays fast on a small CPU. Then: a
seeded fuzz of a real checkpoint, and the fixes that are not errors (resume of a finished run,
JSON without NaN, wall_time after a resume, a full disk, Ctrl-C during start-up, --help).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl import checkpoint as ckpt_mod
from merlin_rl.checkpoint import CheckpointError, load_checkpoint
from merlin_rl.cli import CHOICES, FLAG_HELP, build_parser, main
from merlin_rl.config import Config

TINY = [
    "--num-envs",
    "2",
    "--tau",
    "5",
    "--z-dim",
    "8",
    "--enc-dim",
    "16",
    "--image-channels",
    "4",
    "--mlp-hidden",
    "16",
    "--mbp-hidden",
    "16",
    "--policy-hidden",
    "16",
    "--memory-rows",
    "8",
    "--env-kwargs",
    '{"delay": 3}',
    "--log-interval",
    "20",
    "--checkpoint-interval",
    "20",
    "--no-progress",
]
HAS_CUDA = torch.cuda.is_available()


# ------------------------------------------------------------------------------ test envs
class StepRaises(gym.Env):
    """An external env whose simulator crashes on the first step."""

    observation_space = gym.spaces.Box(0, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        raise RuntimeError("the simulator crashed\nsecond line")


class NanObs(StepRaises):
    """Right shape and dtype, but NaN values."""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.full(3, np.nan, np.float32), {}


for _id, _cls in (("test/StepRaises-v0", StepRaises), ("test/NanObs-v0", NanObs)):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_cls, disable_env_checker=True)


# ------------------------------------------------------------------------------ helpers
@dataclass
class Result:
    rc: int
    out: str
    err: str


def run_cli(capsys, *args) -> Result:
    """``main(args)`` here; an uncaught exception becomes a traceback on stderr and exit 1."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    except BaseException:  # noqa: BLE001 - what the real process would print
        out = capsys.readouterr()
        return Result(1, out.out, out.err + traceback.format_exc())
    out = capsys.readouterr()
    return Result(rc, out.out, out.err)


def assert_one_line(res: Result, *names: str) -> str:
    detail = f"rc={res.rc}\nstdout:\n{res.out}\nstderr:\n{res.err}"
    assert "Traceback" not in res.err, detail
    assert res.rc == 2, detail
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, detail
    assert lines[0].startswith("merlin-rl: error: "), detail
    for name in names:
        assert name in lines[0], f"{name!r} not named\n{detail}"
    assert "weights_only" not in lines[0], detail  # never PyTorch's advice to load unsafely
    return lines[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a hash of its contents."""
    return {
        str(p.relative_to(root)): (
            hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        )
        for p in sorted(root.rglob("*"))
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny MERLIN run (40 env steps, checkpoints at 20 and 40), shared by every test."""
    run = tmp_path_factory.mktemp("trained") / "run"
    rc = main(["train", "--run-dir", str(run), "--total-steps", "40", *TINY])
    assert rc == 0 and (run / "checkpoints" / "final.pt").is_file()
    return run


@dataclass
class Ctx:
    tmp: Path  # everything a case touches is under here
    run: Path  # a copy of the trained run
    ckpt: Path  # its final.pt

    def write(self, name: str, text: str | bytes) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text)
        return p

    def altered(
        self, name: str, settings: dict | None = None, drop: tuple[str, ...] = (), **parts
    ) -> Path:
        """A copy of the checkpoint with ``settings`` changed, ``parts`` replaced and the keys
        ``drop`` removed."""
        ck = torch.load(self.ckpt, weights_only=True)
        if settings:
            ck["config"] = json.dumps({**json.loads(ck["config"]), **settings})
        ck.update(parts)
        for key in drop:
            del ck[key]
        torch.save(ck, self.tmp / name)
        return self.tmp / name


@pytest.fixture
def ctx(trained, tmp_path, monkeypatch) -> Ctx:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # imports leave no __pycache__
    monkeypatch.syspath_prepend(str(tmp_path))  # so that a module here *could* be imported
    monkeypatch.chdir(tmp_path)
    for mod in ("evilmod", "boom_mod", "syntax_mod", "exit_mod"):
        sys.modules.pop(mod, None)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    # a module that would leave a mark if anything imported it
    (tmp_path / "evilmod.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('PWNED').write_text('ran')\n"
    )
    return Ctx(tmp_path, run, run / "checkpoints" / "final.pt")


def _train(c: Ctx, *args) -> list:
    return ["train", "--run-dir", c.run, "--total-steps", "40", *TINY, *args]


def _train_new(c: Ctx, *args) -> list:
    return ["train", "--run-dir", c.tmp / "new", "--total-steps", "40", *TINY, *args]


def _train_own_kwargs(c: Ctx, *args) -> list:
    """``_train_new`` without TINY's --env-kwargs (which would win over a --config file's)."""
    i = TINY.index("--env-kwargs")
    return [
        "train",
        "--run-dir",
        c.tmp / "new",
        "--total-steps",
        "40",
        *TINY[:i],
        *TINY[i + 2 :],
        *args,
    ]


def _resume_checkpoint_env_import(c: Ctx) -> list:
    c.altered("latest.pt", {"env_import": "evilmod"}).replace(c.run / "checkpoints" / "latest.pt")
    return ["train", "--run-dir", c.run, "--resume", "--total-steps", "60"]


def _eval(c: Ctx, ckpt: Path, *args) -> list:
    return ["eval", "--checkpoint", ckpt, "--episodes", "1", *args]


def _grid(c: Ctx, **changes) -> list:
    grid = {
        "agents": ["rl-lstm"],
        "envs": ["merlin_rl/ColourMatch-v0"],
        "seeds": [0],
        "out": str(c.tmp / "grid_out"),
        "train": {"total_steps": 40, "num_envs": 2},
    }
    grid.update(changes)
    return ["experiment", c.write("grid.json", json.dumps(grid))]


_ALIAS_BOMB = (  # nested aliases: 5 lines that expand to 10**6 values when printed
    "[&a0 [x, x, x, x, x, x, x, x, x, x], "
    + ", ".join(f"&a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6))
    + "]"
)


def _grid_yaml(c: Ctx, top: str, train: str = "  total_steps: 40\n  num_envs: 2\n") -> list:
    """A YAML grid file: a valid grid, with ``top`` added at its top level and ``train`` as the
    body of its train table."""
    text = (
        "agents: [rl-lstm]\nenvs: [merlin_rl/ColourMatch-v0]\nseeds: [0]\n"
        f"out: {c.tmp / 'grid_out'}\ntrain:\n{train}{top}"
    )
    return ["experiment", c.write("grid.yaml", text)]


def _bad_run(
    c: Ctx, metrics: bytes | None = None, config: str | None = None, name: str = "plotrun"
) -> Path:
    d = c.tmp / name
    shutil.copytree(c.run, d)
    if metrics is not None:
        (d / "metrics.csv").write_bytes(metrics)
    if config is not None:
        (d / "config.json").write_text(config)
    return d


def _resume_without_checkpoint(
    c: Ctx, config: str | None = None, metrics: bytes | None = None
) -> list:
    shutil.rmtree(c.run / "checkpoints")  # as if killed before the first checkpoint
    if config is not None:
        (c.run / "config.json").write_text(config)
    if metrics is not None:
        (c.run / "metrics.csv").write_bytes(metrics)
    return ["train", "--run-dir", c.run, "--resume", "--no-progress"]


def _resume_with(c: Ctx, metrics: bytes) -> list:
    (c.run / "metrics.csv").write_bytes(metrics)
    return ["train", "--run-dir", c.run, "--resume", "--total-steps", "60", "--no-progress"]


def _foreign_folder(c: Ctx, with_ckpt_dir: bool) -> list:
    d = c.tmp / "mine"
    (d / "checkpoints").mkdir(parents=True)
    (d / "config.json").write_text(
        json.dumps(
            {"agent": "merlin", "env": "x", "total_steps": 1} if with_ckpt_dir else {"my": "notes"}
        )
    )
    (d / "checkpoints" / "model.bin").write_bytes(b"someone else's weights")
    (d / "metrics.csv").write_text("env_steps,x\n1,2\n")
    return ["train", "--run-dir", d, "--total-steps", "40", *TINY, "--overwrite"]


def _module(c: Ctx, name: str, code: str) -> str:
    c.write(f"{name}.py", code)
    return name


# id -> (build(ctx) -> argv, words the error line must contain)
Case = tuple[Callable[[Ctx], list], tuple[str, ...]]


def _out_is_the_checkpoint(c, command: str, name: str, out: str) -> list:
    """``command`` with --out naming (by another spelling) a copy of the checkpoint."""
    return [command, "--checkpoint", shutil.copy(c.ckpt, c.tmp / name), "--out", out]


CASES: dict[str, Case] = {
    # --- train --overwrite: the old run stays intact whatever is wrong with the new settings
    "overwrite-bogus-env-kwargs": (
        lambda c: _train(c, "--overwrite", "--env-kwargs", '{"bogus": 1}'),
        ("bogus",),
    ),
    "overwrite-unknown-env": (
        lambda c: _train(c, "--overwrite", "--env", "NoSuchEnv-v9"),
        ("NoSuchEnv-v9",),
    ),
    "overwrite-num-envs-1e9": (
        lambda c: _train(c, "--overwrite", "--num-envs", "1000000000"),
        ("--num-envs 1000000000",),
    ),
    "overwrite-memory-rows-1e11": (
        lambda c: _train(c, "--overwrite", "--memory-rows", "100000000000"),
        ("--memory-rows",),
    ),
    "overwrite-z-dim-1e11": (
        lambda c: _train(c, "--overwrite", "--z-dim", "100000000000"),
        ("--z-dim 100000000000",),
    ),
    "overwrite-image-channels-huge": (
        lambda c: _train(c, "--overwrite", "--image-channels", "100000"),
        ("--image-channels 100000",),
    ),
    "overwrite-image-channels-overflow": (
        lambda c: _train(c, "--overwrite", "--image-channels", "99999999999999999999"),
        ("--image-channels",),
    ),
    "overwrite-decoder-hidden-overflow": (
        lambda c: _train(c, "--overwrite", "--decoder-hidden", "10" + "0" * 30),
        ("--decoder-hidden",),
    ),
    "overwrite-tau-over-total": (
        lambda c: _train(c, "--overwrite", "--tau", "1000000000"),
        ("--tau", "--total-steps"),
    ),
    "overwrite-tau-too-big-for-memory": (
        lambda c: _train(c, "--overwrite", "--total-steps", "4000000000", "--tau", "1000000000"),
        ("--tau 1000000000",),
    ),
    "overwrite-nan-observation": (
        lambda c: _train(c, "--overwrite", "--env", "test/NanObs-v0", "--env-kwargs", "{}"),
        ("NaN or inf",),
    ),
    "overwrite-env-step-raises": (  # fails after the old run was moved aside: it is restored
        lambda c: _train(c, "--overwrite", "--env", "test/StepRaises-v0", "--env-kwargs", "{}"),
        ("test/StepRaises-v0", "step()", "RuntimeError: the simulator crashed"),
    ),
    "overwrite-folder-not-a-run": (
        lambda c: _foreign_folder(c, False),
        ("--overwrite", "mine", "not a merlin-rl run"),
    ),
    "overwrite-foreign-checkpoints": (
        lambda c: _foreign_folder(c, True),
        ("--overwrite", "checkpoints"),
    ),
    "without-overwrite": (lambda c: _train(c), ("--overwrite", "--resume")),
    "resume-and-overwrite": (
        lambda c: _train(c, "--resume", "--overwrite"),
        ("--resume", "--overwrite"),
    ),
    # --- train: config files
    "config-preset-list": (
        lambda c: [
            "train",
            "--config",
            c.write("c.json", '{"preset": ["small"]}'),
            "--run-dir",
            c.tmp / "r",
        ],
        ("c.json", "preset"),
    ),
    "config-yaml-wrong-type": (
        lambda c: [
            "train",
            "--config",
            c.write("c.yaml", "z_dim: big\n"),
            "--run-dir",
            c.tmp / "r",
        ],
        ("c.yaml", "z_dim"),
    ),
    "config-yaml-syntax": (
        lambda c: ["train", "--config", c.write("c.yml", "z_dim: [8\n"), "--run-dir", c.tmp / "r"],
        ("c.yml", "YAML"),
    ),
    "config-unsupported-format": (
        lambda c: ["train", "--config", c.write("c.ini", "[x]\n"), "--run-dir", c.tmp / "r"],
        ("c.ini", "JSON, TOML or YAML"),
    ),
    "config-not-json": (
        lambda c: ["train", "--config", c.write("c.json", "{not json"), "--run-dir", c.tmp / "r"],
        ("c.json", "JSON"),
    ),
    "config-list": (
        lambda c: ["train", "--config", c.write("c.json", "[1, 2]"), "--run-dir", c.tmp / "r"],
        ("c.json", "list"),
    ),
    "config-bool-for-int": (
        lambda c: [
            "train",
            "--config",
            c.write("c.json", '{"z_dim": true}'),
            "--run-dir",
            c.tmp / "r",
        ],
        ("c.json", "z_dim"),
    ),
    "config-env-import": (
        lambda c: [
            "train",
            "--config",
            c.write("c.json", '{"env_import": "evilmod"}'),
            "--run-dir",
            c.tmp / "r",
        ],
        ("c.json", "--env-import evilmod"),
    ),
    "config-missing": (lambda c: ["train", "--config", c.tmp / "nope.json"], ("nope.json",)),
    # --- train: flags
    "env-kwargs-not-json": (
        lambda c: _train(c, "--env-kwargs", "{delay: 3"),
        ("--env-kwargs is not valid JSON",),
    ),
    "env-kwargs-list": (lambda c: _train(c, "--env-kwargs", "[1, 2]"), ("--env-kwargs",)),
    "env-kwargs-reserved": (
        lambda c: _train_new(c, "--env-kwargs", '{"vector_kwargs": {}}'),
        ("--env-kwargs", "vector_kwargs"),
    ),
    "new-run-nan-observation": (  # refused before the run directory is created
        lambda c: _train_new(c, "--env", "test/NanObs-v0", "--env-kwargs", "{}"),
        ("NaN or inf",),
    ),
    "seed-overflow": (lambda c: _train(c, "--seed", "99999999999999999999999"), ("--seed",)),
    "seed-negative": (lambda c: _train(c, "--seed", "-1"), ("--seed", "-1")),
    "total-steps-not-int": (lambda c: _train(c, "--total-steps", "abc"), ("--total-steps",)),
    "allocation-unknown": (lambda c: _train(c, "--allocation", "lifo"), ("--allocation",)),
    "agent-unknown": (lambda c: _train(c, "--agent", "dqn"), ("--agent", "dqn")),
    "gamma-above-1": (lambda c: _train(c, "--gamma", "2"), ("--gamma",)),
    "lr-inf": (lambda c: _train(c, "--lr-policy", "inf"), ("--lr-policy",)),
    "device-cuda-without-gpu": (
        lambda c: _train(c, "--overwrite", "--device", "cuda"),
        ("--device cuda",),
    ),
    "run-dir-is-a-file": (
        lambda c: ["train", "--run-dir", c.write("afile", "x"), "--total-steps", "40", *TINY],
        ("afile",),
    ),
    "env-module-colon-form": (
        lambda c: _train(c, "--env", "evilmod:Foo-v0"),
        ("--env", "evilmod:Foo-v0"),
    ),
    "env-import-raises": (
        lambda c: _train_new(
            c, "--env-import", _module(c, "boom_mod", "raise RuntimeError('boom at import')\n")
        ),
        ("--env-import", "boom_mod", "RuntimeError: boom at import"),
    ),
    "env-import-syntax-error": (
        lambda c: _train_new(c, "--env-import", _module(c, "syntax_mod", "def f(:\n")),
        ("syntax_mod", "SyntaxError"),
    ),
    "env-import-sys-exit": (
        lambda c: _train_new(
            c, "--env-import", _module(c, "exit_mod", "import sys\nsys.exit(3)\n")
        ),
        ("exit_mod", "SystemExit: 3"),
    ),
    "env-import-missing": (
        lambda c: _train_new(c, "--env-import", "no_such_module_xyz"),
        ("no_such_module_xyz",),
    ),
    # --- train --resume with damaged run files
    "resume-config-not-json": (
        lambda c: _resume_without_checkpoint(c, "{not json"),
        ("config.json", "JSON"),
    ),
    "resume-config-list": (
        lambda c: _resume_without_checkpoint(c, "[1, 2]"),
        ("config.json", "list"),
    ),
    "resume-config-bad-value": (
        lambda c: _resume_without_checkpoint(
            c, json.dumps({**json.loads((c.run / "config.json").read_text()), "memory_rows": -1})
        ),
        ("config.json", "--memory-rows"),
    ),
    "resume-restart-with-bad-flag": (
        lambda c: [*_resume_without_checkpoint(c), "--gamma", "2"],
        ("--gamma",),
    ),
    "resume-metrics-garbage": (
        lambda c: _resume_with(c, b"env_steps,wall_time\n20,0.1\nzz,yy\n"),
        ("metrics.csv", "line 3"),
    ),
    "resume-metrics-nul": (
        lambda c: _resume_with(c, b"env_steps,wall_time\n20,0.1\n\x00\x00\n"),
        ("metrics.csv",),
    ),
    "resume-metrics-binary": (lambda c: _resume_with(c, bytes(range(256)) * 4), ("metrics.csv",)),
    "resume-checkpoint-env-import": (_resume_checkpoint_env_import, ("--env-import evilmod",)),
    "resume-without-run-dir-contents": (
        lambda c: ["train", "--run-dir", c.tmp / "empty", "--resume"],
        ("--resume", "empty"),
    ),
    # --- eval: checkpoints that are damaged, hostile or invalid
    "eval-missing": (lambda c: _eval(c, c.tmp / "none.pt"), ("none.pt",)),
    "eval-random-bytes": (
        lambda c: _eval(c, c.write("junk.pt", random.Random(1).randbytes(4096))),
        ("junk.pt", "not a merlin-rl checkpoint"),
    ),
    "eval-pickled-object": (
        lambda c: _eval(c, c.altered("p.pt", payload=Result(0, "", ""))),
        ("p.pt", "not allowed", "Result"),
    ),
    "eval-truncated": (
        lambda c: _eval(c, c.write("cut.pt", c.ckpt.read_bytes()[:3000])),
        ("cut.pt",),
    ),
    "eval-memory-rows-negative": (
        lambda c: _eval(c, c.altered("a.pt", {"memory_rows": -1})),
        ("a.pt", "--memory-rows"),
    ),
    "eval-z-dim-negative": (
        lambda c: _eval(c, c.altered("a.pt", {"z_dim": -1})),
        ("a.pt", "--z-dim"),
    ),
    "eval-env-kwargs-list": (
        lambda c: _eval(c, c.altered("a.pt", {"env_kwargs": [1, 2]})),
        ("a.pt", "--env-kwargs"),
    ),
    "eval-preset-list": (
        lambda c: _eval(c, c.altered("a.pt", {"preset": ["small"]})),
        ("a.pt", "--preset"),
    ),
    "eval-unknown-setting": (
        lambda c: _eval(c, c.altered("a.pt", {"colour": 3})),
        ("a.pt", "colour"),
    ),
    "eval-env-colon-form": (
        lambda c: _eval(c, c.altered("a.pt", {"env": "evilmod:X-v0"})),
        ("a.pt", "--env"),
    ),
    "eval-env-steps-text": (
        lambda c: _eval(c, c.altered("a.pt", env_steps="abc")),
        ("a.pt", "env_steps"),
    ),
    "eval-model-int": (lambda c: _eval(c, c.altered("a.pt", model=5)), ("a.pt", "model")),
    "eval-model-nan": (
        lambda c: _eval(
            c,
            c.altered(
                "a.pt",
                model={
                    k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                    for k, v in torch.load(c.ckpt, weights_only=True)["model"].items()
                },
            ),
        ),
        ("a.pt", "NaN"),
    ),
    "eval-config-not-json": (
        lambda c: _eval(c, c.altered("a.pt", config="{oops")),
        ("a.pt", "JSON"),
    ),
    "eval-config-list": (
        lambda c: _eval(c, c.altered("a.pt", config="[1, 2]")),
        ("a.pt", "settings"),
    ),
    "eval-no-model": (lambda c: _eval(c, c.altered("a.pt", drop=("model",))), ("a.pt", "model")),
    "eval-format-version": (
        lambda c: _eval(c, c.altered("a.pt", format_version=2)),
        ("a.pt", "format version"),
    ),
    "eval-shapes-differ": (
        lambda c: _eval(c, c.altered("a.pt", {"mlp_hidden": 24})),
        ("a.pt", "shapes differ", "checkpoint ("),
    ),
    "eval-env-import-not-trusted": (
        lambda c: _eval(
            c, c.altered("a.pt", {"env_import": "evilmod", "env": "evil/Env-v0", "env_kwargs": {}})
        ),
        ("a.pt", "--env-import evilmod"),
    ),
    "eval-env-import-this": (  # 'this' would print the Zen of Python
        lambda c: _eval(
            c, c.altered("a.pt", {"env_import": "this", "env": "zen/Env-v0", "env_kwargs": {}})
        ),
        ("--env-import this",),
    ),
    "eval-seed-overflow": (
        lambda c: _eval(c, c.ckpt, "--seed", "99999999999999999999999"),
        ("--seed", "2147483647"),
    ),
    "eval-seed-negative": (lambda c: _eval(c, c.ckpt, "--seed", "-1"), ("--seed", "-1", "0 to")),
    "eval-episodes-0": (
        lambda c: ["eval", "--checkpoint", c.ckpt, "--episodes", "0"],
        ("--episodes",),
    ),
    "eval-episodes-huge": (
        lambda c: _eval(c, c.ckpt)[:-2] + ["--episodes", "99999999999999999999"],
        ("--episodes", "1,000,000"),
    ),
    "eval-max-steps-0": (
        lambda c: ["eval", "--checkpoint", c.ckpt, "--max-steps", "0"],
        ("--max-steps",),
    ),
    "eval-max-steps-huge": (
        lambda c: ["eval", "--checkpoint", c.ckpt, "--max-steps", "10000000000"],
        ("--max-steps", "1,000,000,000"),
    ),
    "record-episodes-huge": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.gif", "--episodes", "100000"],
        ("--episodes", "1,000"),
    ),
    "memory-out-nul-byte": (
        lambda c: ["memory", "--checkpoint", c.ckpt, "--out", "a\x00b.png"],
        ("--out", "NUL"),
    ),
    "eval-device-cuda": (lambda c: _eval(c, c.ckpt, "--device", "cuda"), ("--device cuda",)),
    # --- memory
    "memory-out-extension": (
        lambda c: ["memory", "--checkpoint", c.ckpt, "--out", "x.xyz"],
        ("--out", "x.xyz", ".png"),
    ),
    "memory-out-no-extension": (
        lambda c: ["memory", "--checkpoint", c.ckpt, "--out", "name"],
        ("--out", "name"),
    ),
    "memory-out-missing-folder": (
        lambda c: ["memory", "--checkpoint", c.ckpt, "--out", c.tmp / "no" / "x.png"],
        ("--out", "does not exist"),
    ),
    "memory-out-is-folder": (
        lambda c: [
            "memory",
            "--checkpoint",
            c.ckpt,
            "--out",
            (c.tmp / "d.png").mkdir() or c.tmp / "d.png",
        ],
        ("--out", "folder"),
    ),
    "memory-seed-overflow": (
        lambda c: [
            "memory",
            "--checkpoint",
            c.ckpt,
            "--out",
            "m.png",
            "--seed",
            "99999999999999999999999",
        ],
        ("--seed",),
    ),
    "memory-random-bytes": (
        lambda c: ["memory", "--checkpoint", c.write("j.pt", b"\x80" * 99), "--out", "m.png"],
        ("j.pt",),
    ),
    # --- plot
    "plot-out-extension": (lambda c: ["plot", c.run, "--out", "x.xyz"], ("--out", "x.xyz")),
    "plot-out-missing-folder": (
        lambda c: ["plot", c.run, "--out", c.tmp / "no" / "x.png"],
        ("--out", "does not exist"),
    ),
    "plot-metrics-not-numeric": (
        lambda c: ["plot", _bad_run(c, b"env_steps,episode_return\n20,abc\n"), "--out", "p.png"],
        ("metrics.csv", "episode_return", "abc"),
    ),
    "plot-metrics-binary": (
        lambda c: ["plot", _bad_run(c, bytes(range(256)) * 8), "--out", "p.png"],
        ("metrics.csv",),
    ),
    "plot-metrics-nul": (
        lambda c: ["plot", _bad_run(c, b"env_steps,episode_return\n\x00,1\n"), "--out", "p.png"],
        ("metrics.csv",),
    ),
    "plot-metrics-no-env-steps": (
        lambda c: ["plot", _bad_run(c, b"step,episode_return\n1,2\n"), "--out", "p.png"],
        ("metrics.csv", "env_steps"),
    ),
    "plot-config-corrupt": (
        lambda c: ["plot", _bad_run(c, config="{not json"), "--out", "p.png"],
        ("config.json", "JSON"),
    ),
    "plot-config-list": (
        lambda c: ["plot", _bad_run(c, config="[1, 2]"), "--out", "p.png"],
        ("config.json", "list"),
    ),
    "plot-not-a-run": (lambda c: ["plot", c.tmp, "--out", "p.png"], ("not a run directory",)),
    "plot-unknown-metric": (
        lambda c: ["plot", c.run, "--out", "p.png", "--metric", "nope"],
        ("--metric", "nope"),
    ),
    # --- record
    "record-out-extension": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.avi"],
        ("--out", ".gif or .mp4"),
    ),
    "record-out-missing-folder": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", c.tmp / "no" / "v.gif"],
        ("--out", "does not exist"),
    ),
    "record-fps-0": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.gif", "--fps", "0"],
        ("--fps",),
    ),
    "record-episodes-negative": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.gif", "--episodes", "-1"],
        ("--episodes",),
    ),
    "record-other-env": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.gif", "--env", "NoSuchEnv-v9"],
        ("NoSuchEnv-v9",),
    ),
    "record-seed-negative": (
        lambda c: ["record", "--checkpoint", c.ckpt, "--out", "v.gif", "--seed", "-1"],
        ("--seed",),
    ),
    # --- experiment: the whole grid is checked before the first run
    "grid-seed-text": (lambda c: _grid(c, seeds=["zero"]), ("seeds", "zero")),
    "grid-env-number": (lambda c: _grid(c, envs=[123]), ("envs", "123")),
    "grid-train-number": (lambda c: _grid(c, train=5), ("train", "5")),
    "grid-out-number": (lambda c: _grid(c, out=5), ("out", "5")),
    "grid-threshold-text": (lambda c: _grid(c, threshold="high"), ("threshold", "high")),
    "grid-train-bad-value": (lambda c: _grid(c, train={"z_dim": 0}), ("--z-dim",)),
    "grid-train-env-import": (
        lambda c: _grid(c, train={"env_import": "evilmod"}),
        ("env_import", "--env-import"),
    ),
    "grid-unknown-env": (lambda c: _grid(c, envs=["NoSuchEnv-v9"]), ("NoSuchEnv-v9",)),
    "grid-jobs-0": (lambda c: [*_grid(c), "--jobs", "0"], ("--jobs",)),
    "grid-missing-file": (lambda c: ["experiment", c.tmp / "g.toml"], ("g.toml",)),
    # forty-fourth session's red team: values config.json cannot record, inputs nested too deeply,
    # a smoke variant writing into the grid's folders, a broken [quick] found only under --quick
    "config-env-kwargs-yaml-set": (
        lambda c: _train_own_kwargs(
            c, "--config", c.write("s.yaml", "env_kwargs: {d: !!set {a}}\n")
        ),
        ("--env-kwargs", "JSON values"),
    ),
    "config-env-kwargs-yaml-date": (
        lambda c: _train_own_kwargs(
            c, "--config", c.write("d.yaml", "env_kwargs: {d: 2001-01-01}\n")
        ),
        ("--env-kwargs", "JSON values"),
    ),
    "grid-train-env-kwargs-binary": (
        lambda c: _grid_yaml(c, "", "  total_steps: 40\n  env_kwargs: {d: !!binary aGVsbG8=}\n"),
        ("--env-kwargs", "JSON values"),
    ),
    "config-env-kwargs-too-deep": (
        lambda c: _train_new(c, "--env-kwargs", '{"a": ' * 40 + "1" + "}" * 40),
        ("--env-kwargs", "levels deep"),
    ),
    "config-nested-past-the-parser": (
        lambda c: _train_new(
            c,
            "--config",
            c.write("deep.json", '{"env_kwargs": ' + '{"a": ' * 5000 + "1" + "}" * 5001),
        ),
        ("deep.json", "nested too deeply"),
    ),
    "env-kwargs-nested-past-the-parser": (
        lambda c: _train_new(c, "--env-kwargs", '{"a": ' * 5000 + "1" + "}" * 5000),
        ("--env-kwargs", "nested too deeply"),
    ),
    "config-yaml-key-twice": (
        lambda c: _train_new(c, "--config", c.write("t.yaml", "z_dim: 8\nz_dim: 9\n")),
        ("t.yaml", "'z_dim' is given twice"),
    ),
    "config-json-key-twice": (
        lambda c: _train_new(c, "--config", c.write("t.json", '{"tau": 5, "tau": 6}')),
        ("t.json", "'tau' is given twice"),
    ),
    "env-kwargs-key-twice": (
        lambda c: _train_new(c, "--env-kwargs", '{"delay": 3, "delay": 4}'),
        ("--env-kwargs", "'delay' is given twice"),
    ),
    "grid-yaml-key-twice": (
        lambda c: _grid_yaml(c, "seeds: [1]\n"),
        ("grid.yaml", "'seeds' is given twice"),
    ),
    "grid-keep-under-a-file": (
        lambda c: _grid(c, keep=str(c.write("afile", "x") / "k")),
        ("keep must be a folder", "afile"),
    ),
    "grid-out-under-a-file": (
        lambda c: _grid(c, out=str(c.write("bfile", "x") / "o")),
        ("out must be a folder", "bfile"),
    ),
    "grid-file-suffix-unknown": (
        lambda c: ["experiment", c.write("grid.txt", "agents: [merlin]\n")],
        ("grid.txt", "YAML, TOML or JSON"),
    ),
    "config-choice-of-another-type": (
        lambda c: _train_new(c, "--config", c.write("b.yaml", "ablation_mbp_lr: true\n")),
        ("ablation_mbp_lr", "allowed: mbp, policy"),
    ),
    "config-yaml-nested-key-twice": (
        lambda c: _train_own_kwargs(
            c, "--config", c.write("n.yaml", "env_kwargs: {delay: 3, delay: 4}\n")
        ),
        ("n.yaml", "'delay' is given twice"),
    ),
    "grid-quick-out-is-keep": (
        lambda c: _grid(c, keep=str(c.tmp / "kept"), quick={"out": str(c.tmp / "kept")}),
        ("quick.out", "keep"),
    ),
    "grid-quick-out-is-out": (
        lambda c: _grid(c, quick={"out": str(c.tmp / "grid_out")}),
        ("quick.out",),
    ),
    "grid-quick-train-bad-value": (
        lambda c: _grid(c, quick={"train": {"ablation_mbp_lr": "x"}}),
        ("--ablation-mbp-lr", "[quick] variant"),
    ),
    # --- found by the forty-second session's red team
    "grid-agent-twice": (lambda c: _grid(c, agents=["rl-lstm", "rl-lstm"]), ("agents", "twice")),
    "grid-seed-twice": (lambda c: _grid(c, seeds=[0, 0]), ("seeds", "0", "twice")),
    "grid-yaml-int-and-text-keys": (
        lambda c: _grid_yaml(c, "1: x\nbogus: y\n"),
        ("unknown keys", "bogus"),
    ),
    "grid-yaml-train-int-and-text-keys": (
        lambda c: _grid_yaml(c, "", "  1: 2\n  foo: 3\n"),
        ("unknown keys", "foo"),
    ),
    "grid-quick-train-not-a-table": (
        lambda c: [*_grid(c, train=[1], quick={}), "--quick"],
        ("train must be a table",),
    ),
    "grid-train-null": (lambda c: _grid(c, train={"z_dim": None}), ("z_dim", "null")),
    "grid-bad-env-kwargs": (
        lambda c: _grid(c, train={"total_steps": 40, "num_envs": 2, "env_kwargs": {"bogus": 1}}),
        ("ColourMatch", "bogus"),
    ),
    "grid-unsupported-action-space": (
        lambda c: _grid(c, envs=["Pendulum-v1"]),
        ("Pendulum-v1", "action space"),
    ),
    "grid-out-is-a-file": (
        lambda c: _grid(c, out=str(c.write("afile", "x"))),
        ("out must be a folder", "afile"),
    ),
    "grid-yaml-alias-bomb": (
        lambda c: _grid_yaml(c, "quick: " + _ALIAS_BOMB + "\n"),
        ("aliases",),
    ),
    "config-yaml-alias-bomb": (
        lambda c: _train_new(c, "--config", c.write("c.yaml", "z_dim: " + _ALIAS_BOMB + "\n")),
        ("aliases", "c.yaml"),
    ),
    "plot-run-twice": (
        lambda c: ["plot", c.run, c.tmp / "run", "--out", "p.png"],
        ("twice",),
    ),
    "eval-checkpoint-env-kwargs-reserved": (
        lambda c: _eval(
            c, c.altered("vk.pt", {"env_kwargs": {"vector_kwargs": {}}}), "--episodes", "1"
        ),
        ("vk.pt", "its env cannot be made", "vector_kwargs"),
    ),
    # --- forty-fifth session's red team
    "memory-out-is-the-checkpoint": (
        lambda c: _out_is_the_checkpoint(c, "memory", "ck.png", "./ck.png"),
        ("--out", "ck.png", "--checkpoint"),
    ),
    "record-out-is-the-checkpoint": (
        lambda c: _out_is_the_checkpoint(c, "record", "ck.gif", "ck.gif"),
        ("--out", "ck.gif", "--checkpoint"),
    ),
    "plot-out-under-a-file": (
        lambda c: ["plot", c.run, "--out", c.run / "config.json" / "p.png"],
        ("config.json", "not a folder"),
    ),
    "plot-metrics-steps-go-back": (  # np.interp drew a wrong curve from it
        lambda c: [
            "plot",
            _bad_run(c, b"env_steps,episode_return\n20,0.5\n40,1\n20,0\n"),
            "--out",
            "p.png",
        ],
        ("metrics.csv", "line 4", "env_steps", "goes back"),
    ),
    "plot-runs-share-no-steps": (  # their mean was one point, at steps neither run has
        lambda c: [
            "plot",
            _bad_run(c, b"env_steps,episode_return\n1,1\n2,3\n", name="early"),
            _bad_run(c, b"env_steps,episode_return\n100,1\n200,3\n", name="late"),
            "--out",
            "p.png",
        ],
        ("early", "late", "share no env steps"),
    ),
    "plot-metrics-byte-order-mark": (  # said: no env_steps column; columns: env_steps, ...
        lambda c: [
            "plot",
            _bad_run(c, b"\xef\xbb\xbfenv_steps,episode_return\n20,0.5\n"),
            "--out",
            "p.png",
        ],
        ("metrics.csv", "byte-order mark"),
    ),
    "resume-latest-lost": (
        lambda c: (
            (c.run / "checkpoints" / "latest.pt").unlink()
            or ["train", "--run-dir", c.run, "--resume", "--total-steps", "60", "--no-progress"]
        ),
        ("latest.pt", "--overwrite"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(ctx, capsys, case):
    if case in ("device-cuda-without-gpu", "eval-device-cuda") and HAS_CUDA:
        pytest.skip("a GPU is available")
    build, names = CASES[case]
    argv = build(ctx)
    before = snapshot(ctx.tmp)
    res = run_cli(capsys, *argv)
    if case == "overwrite-env-step-raises":  # it failed in training, after this progress line
        info = f"run directory: {ctx.run}\n"
        assert res.err.startswith(info), res.err
        res.err = res.err[len(info) :]
    assert_one_line(res, *names)
    assert snapshot(ctx.tmp) == before, "a file was changed, created or deleted"
    assert not (ctx.tmp / "PWNED").exists() and "evilmod" not in sys.modules


def test_there_are_at_least_60_cases():
    assert len(CASES) >= 60


def test_zen_is_not_printed(ctx, capsys):
    """A checkpoint naming env_import='this' must not import it (it would print the Zen)."""
    sys.modules.pop("this", None)
    res = run_cli(
        capsys, *_eval(ctx, ctx.altered("z.pt", {"env_import": "this", "env": "zen/Env-v0"}))
    )
    assert_one_line(res, "--env-import this")
    assert "Beautiful is better" not in res.out + res.err and "this" not in sys.modules


def test_checkpoint_env_import_is_not_needed_for_a_registered_env(ctx, capsys):
    """The stored env_import is never imported; a registered env loads fine without it."""
    res = run_cli(capsys, *_eval(ctx, ctx.altered("e.pt", {"env_import": "evilmod"})))
    assert res.rc == 0, res.err
    assert json.loads(res.out.strip().splitlines()[-1])["episodes"] == 1
    assert not (ctx.tmp / "PWNED").exists() and "evilmod" not in sys.modules


def test_users_env_import_is_honoured(ctx, capsys):
    """--env-import on eval is the user's own choice: it is imported."""
    sys.modules.pop("okmod", None)
    _module(ctx, "okmod", "X = 1\n")
    res = run_cli(capsys, *_eval(ctx, ctx.ckpt, "--env-import", "okmod"))
    assert res.rc == 0, res.err
    assert "okmod" in sys.modules


# ------------------------------------------------------------------------------ fuzz
def _fuzz_variants(data: bytes, settings: dict, rng: random.Random) -> list[tuple[str, object]]:
    """~50 seeded variants: truncations, byte flips, and settings set to odd values."""
    out: list[tuple[str, object]] = []
    for _ in range(15):
        n = rng.randrange(len(data))
        out.append((f"truncated-{n}", data[:n]))
    for _ in range(20):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        out.append(("flipped", bytes(b)))
    junk = [-1, 0, 10**30, 1e308, float("nan"), "abc", "", [1, 2], {"a": 1}, None, True, 2.5]
    for _ in range(15):
        key = rng.choice(sorted(settings))
        value = rng.choice(junk)
        out.append((f"config-{key}={value!r}", {key: value}))
    return out


def test_checkpoint_fuzz(ctx, capsys):
    data = ctx.ckpt.read_bytes()
    settings = json.loads(torch.load(ctx.ckpt, weights_only=True)["config"])
    variants = _fuzz_variants(data, settings, random.Random(13))
    assert len(variants) == 50
    outcomes = {"loaded": 0, "refused": 0}
    for i, (name, v) in enumerate(variants):
        path = ctx.tmp / f"fuzz_{i}.pt"
        if isinstance(v, bytes):
            path.write_bytes(v)
        else:
            try:
                ctx.altered(path.name, v)
            except ValueError:  # json cannot write this value (NaN is allowed, so rarely)
                continue
        res = run_cli(capsys, *_eval(ctx, path))
        if res.rc == 0:
            json.loads(res.out.strip().splitlines()[-1])  # a valid result line
            outcomes["loaded"] += 1
        else:
            try:
                assert_one_line(res)
            except AssertionError as e:
                raise AssertionError(f"variant {i} ({name}): {e}") from None
            outcomes["refused"] += 1
        assert not (ctx.tmp / "PWNED").exists()
    print(outcomes)
    assert outcomes["refused"] >= 15 and outcomes["loaded"] >= 1, outcomes


# ------------------------------------------------------------------------------ not errors
def test_overwrite_replaces_only_after_the_first_checkpoint(ctx, capsys, monkeypatch):
    """The old run is moved aside; it exists until the new run's first checkpoint is written,
    and is gone afterwards."""
    from merlin_rl.train import Trainer

    seen = []
    real = Trainer.checkpoint

    def spy(self, final=False):
        seen.append(sorted(p.name for p in ctx.run.glob(".overwritten-*")))
        return real(self, final)

    monkeypatch.setattr(Trainer, "checkpoint", spy)
    res = run_cli(capsys, *_train(ctx, "--overwrite", "--seed", "5"))
    assert res.rc == 0, res.err
    assert seen and len(seen[0]) == 1  # aside before the first checkpoint
    assert not list(ctx.run.glob(".overwritten-*"))  # removed after it
    assert json.loads((ctx.run / "config.json").read_text())["seed"] == 5


def test_overwrite_interrupted_before_first_checkpoint_restores_the_old_run(
    ctx, capsys, monkeypatch
):
    from merlin_rl.train import Trainer

    before = snapshot(ctx.run)

    def interrupted(self, final=False):
        raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "checkpoint", interrupted)
    res = run_cli(capsys, *_train(ctx, "--overwrite", "--seed", "5"))
    assert res.rc == 130 and "Traceback" not in res.err
    assert snapshot(ctx.run) == before


def test_overwrite_stopped_by_sigterm_before_first_checkpoint_restores_the_old_run(
    ctx, capsys, monkeypatch
):
    """SIGTERM (a scheduler, `kill`, a stopped experiment) unwinds like Ctrl-C: exit 143 and the
    old run is back, no .overwritten-* left. The handler is called in place of the signal, so
    the old code (no handler: the process would die) fails here instead of killing the tests."""
    import signal

    from merlin_rl.train import Trainer

    before = snapshot(ctx.run)
    previous = signal.getsignal(signal.SIGTERM)

    def terminated(self, final=False):
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler), "SIGTERM would end the process without putting the run back"
        handler(signal.SIGTERM, None)

    monkeypatch.setattr(Trainer, "checkpoint", terminated)
    res = run_cli(capsys, *_train(ctx, "--overwrite", "--seed", "5"))
    assert res.rc == 128 + signal.SIGTERM and "Traceback" not in res.err, res.err
    assert snapshot(ctx.run) == before
    assert signal.getsignal(signal.SIGTERM) == previous  # the handler is put back


def test_resume_of_a_finished_run(ctx, capsys):
    res = run_cli(capsys, "train", "--run-dir", ctx.run, "--resume", "--no-progress")
    assert res.rc == 0, res.err
    assert "is finished" in res.err and "Traceback" not in res.err
    summary = json.loads(res.out.strip().splitlines()[-1])
    assert summary["finished"] is True and summary["env_steps"] == 40


def test_summary_is_valid_json_without_episodes(ctx, capsys):
    """No episode finished: episode_return is null, not NaN (which is not JSON)."""
    res = run_cli(
        capsys,
        "train",
        "--run-dir",
        ctx.tmp / "short",
        "--total-steps",
        "4",
        *TINY[:2],
        "--tau",
        "2",
        *TINY[4:],
    )
    assert res.rc == 0, res.err
    line = res.out.strip().splitlines()[-1]
    assert "NaN" not in line and json.loads(line)["episode_return"] is None


def test_wall_time_continues_after_resume(ctx, capsys):
    res = run_cli(
        capsys, "train", "--run-dir", ctx.run, "--resume", "--total-steps", "60", "--no-progress"
    )
    assert res.rc == 0, res.err
    lines = (ctx.run / "metrics.csv").read_text().strip().splitlines()
    col = lines[0].split(",").index("wall_time")
    times = [float(r.split(",")[col]) for r in lines[1:]]
    assert len(times) == 3 and times[2] > times[1] >= times[0] > 0, times


def test_yaml_config_is_supported(ctx, capsys):
    cfg = ctx.write("c.yaml", "agent: rl-lstm\nz_dim: 8\n")
    res = run_cli(
        capsys, "train", "--config", cfg, "--run-dir", ctx.tmp / "y", "--total-steps", "20", *TINY
    )
    assert res.rc == 0, res.err
    assert json.loads((ctx.tmp / "y" / "config.json").read_text())["agent"] == "rl-lstm"


def test_full_disk_runtime_error_keeps_the_previous_checkpoint(ctx, monkeypatch):
    """torch's zip writer reports a full disk as RuntimeError('... unexpected pos ...')."""
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    from scripts import TINY

    cfg = make_config("small", **dict(TINY, memory_rows=8, num_envs=2, tau=5))
    tr = Trainer(cfg, run_dir=ctx.tmp / "disk", progress=False)
    tr.update(tr.rollout())
    tr.checkpoint()
    good = load_checkpoint(ctx.tmp / "disk" / "checkpoints" / "latest.pt")["model"]
    tr.update(tr.rollout())

    def full_disk(obj, f):
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")

    monkeypatch.setattr(ckpt_mod.torch, "save", full_disk)
    with pytest.raises(CheckpointError, match="previous checkpoint is intact"):
        tr.checkpoint()
    monkeypatch.undo()
    after = load_checkpoint(ctx.tmp / "disk" / "checkpoints" / "latest.pt")["model"]
    assert all(torch.equal(good[k], after[k]) for k in good)
    assert not list((ctx.tmp / "disk" / "checkpoints").glob(".*.tmp"))
    tr.env.close()


def test_allocation_failure_is_one_line(ctx, capsys, monkeypatch):
    """What the estimate misses: the allocator's RuntimeError becomes one line, exit 2."""
    import merlin_rl.train as train_mod

    def fails(*a, **k):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: "
            "can't allocate memory: you tried to allocate 360000000000 bytes."
        )

    monkeypatch.setattr(train_mod, "Agent", fails)
    before = snapshot(ctx.tmp)
    assert_one_line(
        run_cli(capsys, *_train(ctx, "--overwrite")), "out of memory", "360000000000 bytes"
    )
    assert snapshot(ctx.tmp) == before


def test_other_runtime_errors_are_not_hidden(ctx, capsys, monkeypatch):
    import merlin_rl.train as train_mod

    def bug(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(train_mod, "Agent", bug)
    res = run_cli(capsys, *_train_new(ctx))
    assert res.rc == 1 and "Traceback" in res.err  # a bug is reported as a bug


def test_debug_shows_the_traceback(ctx, capsys):
    _module(ctx, "boom_mod", "raise RuntimeError('boom at import')\n")
    with pytest.raises(Exception, match="boom_mod"):
        main([str(a) for a in _train_new(ctx, "--env-import", "boom_mod", "--debug")])


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    code = (
        "import sys; sys.argv[0] = 'merlin-rl'; import merlin_rl; "
        "raise KeyboardInterrupt"
    )  # as if Ctrl-C arrived while torch was being imported
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.stderr == "merlin-rl: interrupted\n", proc.stderr
    assert proc.returncode in (130, -2)


def test_every_train_flag_explains_itself():
    """Each flag says what it is, its range or unit, and its default; fixed choices are listed."""
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # noqa: SLF001
    by_dest = {a.dest: a for a in train._actions}  # noqa: SLF001
    for f in Config.__dataclass_fields__:
        if f == "preset":
            continue
        assert f in FLAG_HELP, f"no help text for --{f.replace('_', '-')} in cli.FLAG_HELP"
        text = by_dest[f].help
        assert "default" in text, (f, text)
        assert len(text) > len("(default x)") + 15, (f, text)
    for name, choices in {**CHOICES, "preset": ("small", "paper")}.items():
        assert tuple(by_dest[name].choices) == tuple(choices), name
    shown = train.format_help()
    assert (
        "--allocation {usage,usage-literal,fifo}" in shown
        and "--agent {merlin,rl-mem,rl-lstm}" in shown
    )
    assert "preset value" not in shown


def test_grid_whose_runs_finish_no_episode_succeeds(ctx, capsys, monkeypatch):
    """The runs succeed; the summary says "no finished episode" (no curves, exit code 0)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    train = {
        "total_steps": 4,
        "num_envs": 2,
        "tau": 2,
        "z_dim": 8,
        "enc_dim": 16,
        "image_channels": 4,
        "mlp_hidden": 16,
        "mbp_hidden": 16,
        "policy_hidden": 16,
        "env_kwargs": {"delay": 3},
    }
    res = run_cli(capsys, *_grid(ctx, train=train, threshold=0.5))
    assert res.rc == 0, res.err
    result = json.loads(res.out.strip().splitlines()[-1])
    assert list(result["runs"].values()) == ["ran"]
    assert "no finished episode" in result["summary"][0]["note"]
    assert "no finished episode" in (ctx.tmp / "grid_out" / "summary.md").read_text()


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("imageio") is not None,
    reason="the video extra is installed",
)
def test_mp4_without_the_video_extra_is_refused_before_rendering(ctx, capsys, monkeypatch):
    import merlin_rl.record as rec

    monkeypatch.setattr(rec, "render_frames", lambda *a: pytest.fail("rendered first"))
    before = snapshot(ctx.tmp)
    assert_one_line(
        run_cli(capsys, "record", "--checkpoint", ctx.ckpt, "--out", "v.mp4"),
        "--out",
        "merlin-rl[video]",
    )
    assert snapshot(ctx.tmp) == before


@pytest.mark.parametrize("command", ["plot", "memory", "record"])
def test_ctrl_c_while_writing_keeps_the_old_output(ctx, capsys, monkeypatch, command):
    """Ctrl-C (or a full disk) while a figure or video is being written leaves the file that was
    there as it was, and no part-written file (red team: the old GIF was left empty)."""
    import matplotlib.figure
    from PIL import Image

    def cut(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"part of a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", cut)
    monkeypatch.setattr(Image.Image, "save", cut)
    out = ctx.write("out.gif" if command == "record" else "out.png", b"the user's old figure")
    argv = {
        "plot": ["plot", ctx.run, "--out", out],
        "memory": ["memory", "--checkpoint", ctx.ckpt, "--out", out],
        "record": ["record", "--checkpoint", ctx.ckpt, "--out", out],
    }[command]
    before = snapshot(ctx.tmp)
    res = run_cli(capsys, *argv)
    assert res.rc == 130 and res.err == "merlin-rl: interrupted\n", res.err
    assert snapshot(ctx.tmp) == before, "the old file was changed or a part-written one left"


def test_an_error_line_is_cut_short(ctx, capsys):
    """A value quoted from a file can be of any size; the error line stays short."""
    cfg = ctx.write("big.json", json.dumps({"z_dim": list(range(20_000))}))
    res = run_cli(capsys, *_train_new(ctx, "--config", cfg))
    line = assert_one_line(res, "z_dim", "characters in all")
    assert len(line) < 2_100


def test_yaml_inline_merge_keys_still_work():
    """The duplicate-key check leaves YAML's merge key alone, and a key after a merge overrides
    the merged one, as YAML says."""
    from merlin_rl.config import load_yaml

    assert load_yaml("a: 1\n<<: {b: 2}\n") == {"a": 1, "b": 2}
    assert load_yaml("<<: {a: 1}\na: 2\n") == {"a": 2}
