"""The ``merlin-rl`` command: ``train`` and ``eval``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

from merlin_rl.config import AGENTS, DEVICES, PRESETS, Config, ConfigError, make_config

# flags shown first in --help, with their help text; every other Config field gets a flag too
MAIN_FLAGS = {
    "env": "Gymnasium id to train on (built-in tasks are under merlin_rl/)",
    "agent": f"agent configuration: {', '.join(AGENTS)}",
    "total_steps": "environment steps to train for",
    "num_envs": "environments stepped together as one batch (B)",
    "seed": "random seed (CPU runs are reproducible)",
    "run_dir": "where config, metrics, TensorBoard logs and checkpoints go",
    "device": f"{', '.join(DEVICES)}",
    "async_envs": "step environments in subprocess workers (for slow external environments)",
    "compile": "torch.compile the per-step cell (slow first minutes; see docs/performance.md)",
    "env_import": "module(s) to import first, comma-separated, that register third-party envs",
}


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line saying what was wrong, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"merlin-rl: error: {message}\n")
        raise SystemExit(2)


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", default=None,
                   help="settings from a JSON or TOML file (keys as in a run's config.json)")
    p.add_argument("--preset", default=None, choices=list(PRESETS),
                   help="model sizes and learning settings (small: laptop CPU; paper: DESIGN §3)")
    fields = {f.name: f for f in dataclasses.fields(Config)}
    order = list(MAIN_FLAGS) + [n for n in fields if n not in MAIN_FLAGS]
    for name in order:
        f = fields[name]
        if name in ("preset",):
            continue
        flag = "--" + name.replace("_", "-")
        if name == "env_kwargs":
            p.add_argument(flag, type=json.loads, default=None, metavar="JSON",
                           help="keyword arguments for a built-in task, e.g. '{\"delay\": 40}'")
            continue
        type_name = f.type if isinstance(f.type, str) else f.type.__name__
        if type_name == "bool":
            p.add_argument(flag, action="store_true", default=None,
                           help=MAIN_FLAGS.get(name, "(off by default)"))
            continue
        typ = {"int": int, "float": float, "str": str}[type_name]
        choices = {"agent": AGENTS, "device": DEVICES}.get(name)
        p.add_argument(flag, type=typ, default=None, choices=choices,
                       help=MAIN_FLAGS.get(name, f"(default: preset value, {f.default!r} in small)"))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="merlin-rl", description="MERLIN: memory, RL and inference network.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train an agent (defaults: MERLIN on the built-in task)")
    _add_config_flags(t)
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its latest checkpoint")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --run-dir (its checkpoints, metrics, logs)")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    e = sub.add_parser("eval", help="evaluate a checkpoint; prints a JSON summary as last line")
    e.add_argument("--checkpoint", required=True, help="path to a .pt checkpoint")
    e.add_argument("--episodes", type=int, default=100, help="episodes to run (default 100)")
    e.add_argument("--greedy", action="store_true", help="argmax actions and mean z (default: sample)")
    e.add_argument("--seed", type=int, default=12345, help="environment seed")
    e.add_argument("--device", default="cpu", choices=DEVICES)
    pl = sub.add_parser("plot", help="learning curves of run directories (mean and 95%% interval "
                                     "over seeds, grouped by env and agent)")
    pl.add_argument("runs", nargs="+", metavar="RUN_DIR")
    pl.add_argument("--out", required=True, help="image file to write (.png, .pdf, .svg)")
    pl.add_argument("--metric", default="episode_return", help="metrics.csv column (default "
                                                                "episode_return)")
    m = sub.add_parser("memory", help="figure of an episode's memory read weights "
                                      "(time x memory row, per read head)")
    m.add_argument("--checkpoint", required=True, help="path to a .pt checkpoint")
    m.add_argument("--out", required=True, help="image file to write")
    m.add_argument("--seed", type=int, default=0, help="environment and sampling seed")
    x = sub.add_parser("experiment", help="run a grid of agents x envs x seeds (one process "
                                          "each; finished runs are kept) and summarise it")
    x.add_argument("grid", metavar="CONFIG", help="grid file (.yaml, .toml or .json)")
    x.add_argument("--jobs", type=int, default=1, help="runs at a time (default 1)")
    r = sub.add_parser("record", help="video of episodes with memory reads, reconstructions and "
                                      "return predictions beside the frames")
    r.add_argument("--checkpoint", required=True, help="path to a .pt checkpoint")
    r.add_argument("--out", required=True, help="FILE.gif (Pillow) or FILE.mp4 (video extra)")
    r.add_argument("--episodes", type=int, default=1, help="episodes to record (default 1)")
    r.add_argument("--env", default=None, help="another env id with the same spaces")
    r.add_argument("--fps", type=int, default=4, help="frames per second (default 4)")
    r.add_argument("--seed", type=int, default=0, help="environment and sampling seed")
    for command in (t, e, pl, m, x, r):
        command.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return p


def _train(args: argparse.Namespace) -> int:
    from merlin_rl.checkpoint import load_checkpoint
    from merlin_rl.distributed import shutdown, world_size_from_env
    from merlin_rl.train import Trainer

    names = {f.name for f in dataclasses.fields(Config)} - {"preset"}
    values: dict[str, Any] = _read_config_file(args.config) if args.config else {}
    values.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    run_dir = values.get("run_dir")
    resume_from: Path | None = None
    if args.resume:
        if not run_dir:
            raise ConfigError("--resume needs --run-dir, the run directory to continue")
        latest = Path(run_dir) / "checkpoints" / "latest.pt"
        saved = Path(run_dir) / "config.json"
        if latest.exists():  # the run's own settings, then what was given explicitly now
            values = {**dataclasses.asdict(load_checkpoint(latest)["config_obj"]), **values}
            resume_from = latest
        elif saved.exists():  # killed before its first checkpoint: start it again from scratch
            values = {**json.loads(saved.read_text()), **values}
            print(f"merlin-rl: {latest} does not exist yet; restarting the run from the beginning",
                  file=sys.stderr)
        else:
            raise ConfigError(f"--resume: no run to continue in {run_dir!r} (no {latest})")
    preset = args.preset or values.pop("preset", None) or "small"
    values.pop("preset", None)
    cfg = make_config(preset, **values)
    if cfg.run_dir and resume_from is None and _holds_run(Path(cfg.run_dir)):
        if not (args.overwrite or args.resume):
            raise ConfigError(f"--run-dir {cfg.run_dir!r} already holds a run; add --resume to "
                              "continue it, --overwrite to replace it, or choose another --run-dir")
        if world_size_from_env() == 1 or os.environ.get("RANK") == "0":
            _clear_run_dir(Path(cfg.run_dir))
    trainer = Trainer(cfg, progress=not args.no_progress)
    if resume_from is not None:
        latest = resume_from
        exact = trainer.load(latest)
        how = ("exactly (environments, recurrent state and memory restored)" if exact else
               "with fresh environments and recurrent state")
        if trainer.dist.is_main:
            print(f"resumed from {latest} at {trainer.env_steps} env steps, {how}", file=sys.stderr)
    main_rank = trainer.dist.is_main
    if main_rank:
        print(f"run directory: {trainer.run_dir}", file=sys.stderr)
    try:
        row = trainer.train()
    finally:
        shutdown(trainer.dist)
    if main_rank:
        summary = {k: row.get(k) for k in ("env_steps", "episode_return", "fps", "wall_time")}
        summary.update(run_dir=str(trainer.run_dir), processes=trainer.dist.world_size)
        print(json.dumps(summary))
    return 0


def _read_config_file(path: str) -> dict[str, Any]:
    """Settings from a JSON or TOML file (keys as in config.json); command-line flags win."""
    p = Path(path)
    try:
        text = p.read_text()
        if p.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except OSError as e:
        raise ConfigError(f"--config {path!r} cannot be read: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, TOMLDecodeError
        raise ConfigError(f"--config {path!r} is not valid {p.suffix.lstrip('.') or 'JSON'}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path!r} must hold an object of settings, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"--config {path!r} has unknown keys {unknown}; allowed: {sorted(known)}")
    for f in dataclasses.fields(Config):
        if f.name in data and f.name != "preset":
            want = {"int": int, "float": (int, float), "str": str, "bool": bool}.get(
                f.type if isinstance(f.type, str) else f.type.__name__, dict)
            v = data[f.name]
            if not isinstance(v, want) or (want is int and isinstance(v, bool)):
                raise ConfigError(f"--config {path!r}: {f.name} must be {f.type}, got {v!r}")
    return data


def _holds_run(run_dir: Path) -> bool:
    return any((run_dir / n).exists() for n in ("checkpoints", "metrics.csv", "config.json"))


def _clear_run_dir(run_dir: Path) -> None:
    """--overwrite: remove what a previous run wrote (and nothing else)."""
    for name in ("checkpoints", "tb"):
        shutil.rmtree(run_dir / name, ignore_errors=True)
    for name in ("metrics.csv", "config.json"):
        (run_dir / name).unlink(missing_ok=True)


def _load_agent(path: str, device):
    """(agent, config, checkpoint) from a checkpoint file, on ``device``, in eval mode."""
    from merlin_rl.agent import Agent
    from merlin_rl.checkpoint import load_checkpoint, load_model_state
    from merlin_rl.envs import import_env_modules, make_vector_env

    ckpt = load_checkpoint(Path(path))
    cfg: Config = ckpt["config_obj"]
    import_env_modules(cfg.env_import)
    env = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    env.close()
    load_model_state(agent, ckpt["model"], path)
    return agent.to(device).eval(), cfg, ckpt


def _eval(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.train import evaluate, resolve_device

    if args.episodes <= 0:
        raise ConfigError(f"--episodes must be a positive integer, got {args.episodes}")
    device = resolve_device(args.device)
    agent, cfg, ckpt = _load_agent(args.checkpoint, device)
    torch.manual_seed(args.seed)
    result = evaluate(agent, cfg, args.episodes, greedy=args.greedy, seed=args.seed, device=device)
    result.update(agent=cfg.agent, env=cfg.env, checkpoint=str(args.checkpoint),
                  env_steps=int(ckpt["env_steps"]))
    print(json.dumps(result))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from merlin_rl.plots import plot_runs

    summary = plot_runs(args.runs, args.out, args.metric)
    print(json.dumps({"out": args.out, "curves": summary}))
    return 0


def _memory(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.plots import memory_figure

    agent, cfg, _ = _load_agent(args.checkpoint, torch.device("cpu"))
    torch.manual_seed(args.seed)
    info = memory_figure(agent, cfg, args.out, seed=args.seed)
    print(json.dumps({"out": args.out, **info}))
    return 0


def _record(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.record import record

    if args.fps <= 0:
        raise ConfigError(f"--fps must be a positive integer, got {args.fps}")
    agent, cfg, _ = _load_agent(args.checkpoint, torch.device("cpu"))
    print(json.dumps(record(agent, cfg, args.out, args.episodes, args.env, args.fps, args.seed)))
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from merlin_rl.experiment import run_experiment

    result = run_experiment(args.grid, args.jobs)
    failed = {k: v for k, v in result["runs"].items() if v.startswith("failed")}
    for name, status in failed.items():
        print(f"merlin-rl: run {name} {status}", file=sys.stderr)
    print(json.dumps(result))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    from merlin_rl.checkpoint import CheckpointError
    from merlin_rl.encoders import UnsupportedSpaceError
    from merlin_rl.envs import EnvError
    from merlin_rl.train import TrainingDiverged

    args = build_parser().parse_args(argv)
    try:
        commands = {"train": _train, "eval": _eval, "plot": _plot, "memory": _memory,
                    "experiment": _experiment, "record": _record}
        return commands[args.command](args)
    except (ConfigError, EnvError, UnsupportedSpaceError, CheckpointError, OSError) as e:
        if args.debug:
            raise
        sys.stderr.write(f"merlin-rl: error: {e}\n")
        return 2
    except TrainingDiverged as e:
        if args.debug:
            raise
        sys.stderr.write(f"merlin-rl: error: {e}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("merlin-rl: interrupted\n")
        return 130
