"""Figures: learning curves from run directories, and an episode's memory read weights."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from merlin_rl.config import LEGACY_SETTINGS, Config, ConfigError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


FIGURE_TYPES = (".png", ".pdf", ".svg")


def check_output_file(out: str | Path, allowed: tuple[str, ...], flag: str = "--out") -> Path:
    """Refuse an output path before any work: wrong extension, missing or unwritable folder, or
    a folder in its place."""
    if "\x00" in str(out):
        raise ConfigError(f"{flag} {str(out)!r}: a file name cannot hold a NUL byte")
    out = Path(out)
    if out.suffix.lower() not in allowed:
        names = ", ".join(allowed[:-1]) + " or " + allowed[-1] if len(allowed) > 1 else allowed[0]
        raise ConfigError(f"{flag} {str(out)!r}: the file name must end in {names}")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise ConfigError(f"{flag} {str(out)!r}: {str(parent)!r} is a file, not a folder")
    if not parent.is_dir():
        raise ConfigError(f"{flag} {str(out)!r}: the folder {str(parent)!r} does not exist")
    if out.is_dir():
        raise ConfigError(f"{flag} {str(out)!r} is a folder; give a file name")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError(f"{flag} {str(out)!r} cannot be written (permission denied)")
    return out


def write_replacing(out: str | Path, write: Callable[[Path], None]) -> None:
    """``write(path)`` to a file beside ``out`` with its suffix, renamed over ``out`` once whole:
    Ctrl-C or a failure while writing leaves any earlier ``out`` as it was, and no part-written
    file."""
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        write(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_run_config(cfg_path: Path) -> dict:
    """A run's config.json as a dict; ConfigError naming the file when it is not one."""
    try:
        cfg = json.loads(cfg_path.read_text())
    except OSError as e:
        raise ConfigError(f"{str(cfg_path)!r} cannot be read: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
        raise ConfigError(f"{str(cfg_path)!r} is not valid JSON: {e}") from None
    except RecursionError:
        raise ConfigError(f"{str(cfg_path)!r} is nested too deeply to be settings") from None
    if not isinstance(cfg, dict):
        raise ConfigError(
            f"{str(cfg_path)!r} must hold a JSON object of settings, got {type(cfg).__name__}"
        )
    return cfg


def read_metrics(metrics: Path) -> list[dict[str, str]]:
    """The rows of a metrics.csv; ConfigError naming the file when it is not a CSV file with an
    env_steps column."""
    try:
        with open(metrics, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
            header = rows[0].keys() if rows else None
    except OSError as e:
        raise ConfigError(f"{str(metrics)!r} cannot be read: {e.strerror or e}") from None
    except (csv.Error, UnicodeDecodeError) as e:  # NUL bytes, binary data
        raise ConfigError(f"{str(metrics)!r} is not a CSV text file: {e}") from None
    if header is not None and str(next(iter(header), "")).startswith("\ufeff"):
        raise ConfigError(
            f"{str(metrics)!r} starts with a byte-order mark (saved by a spreadsheet?); save it "
            "as UTF-8 without one"
        )
    if header is not None and "env_steps" not in header:
        raise ConfigError(
            f"{str(metrics)!r} has no env_steps column; columns: "
            f"{', '.join(map(str, header))[:200]}"
        )
    return rows


def _number(metrics: Path, line: int, column: str, text: str | None) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(
            f"{str(metrics)!r} line {line}: {column} is not a number: {text!r}"
        ) from None


def read_run(run_dir: str | Path, metric: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """(config, env_steps, metric values) of one run directory; rows where the metric is NaN
    (no episode finished in that interval) are dropped."""
    run_dir = Path(run_dir)
    metrics, cfg_path = run_dir / "metrics.csv", run_dir / "config.json"
    if not metrics.is_file() or not cfg_path.is_file():
        raise ConfigError(
            f"{str(run_dir)!r} is not a run directory (needs metrics.csv and config.json)"
        )
    cfg = read_run_config(cfg_path)
    rows = read_metrics(metrics)
    if rows and metric not in rows[0]:
        raise ConfigError(
            f"--metric {metric!r} is not a column of {str(metrics)!r}; columns: "
            f"{', '.join(rows[0])}"
        )
    numbered = [  # (line in the file, env steps, value)
        (
            i + 2,
            _number(metrics, i + 2, "env_steps", r["env_steps"]),
            _number(metrics, i + 2, metric, r[metric]),
        )
        for i, r in enumerate(rows)
        if r.get(metric) not in ("", None)
    ]
    for (_, before, _), (line, now, _) in zip(numbered, numbered[1:]):
        if now < before:  # a curve is interpolated over steps that go forward
            raise ConfigError(
                f"{str(metrics)!r} line {line}: env_steps goes back from {before:g} to {now:g}; "
                "a run's rows go forward in env steps (rows of two runs in one file?)"
            )
    pts = [(s, v) for _, s, v in numbered if math.isfinite(v) and math.isfinite(s)]
    steps = np.array([s for s, _ in pts])
    return cfg, steps, np.array([v for _, v in pts])


def mean_and_interval(
    curves: list[tuple[np.ndarray, np.ndarray]], points: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate each (steps, values) curve onto a common grid up to the shortest run; return
    (grid, mean, half-width of a 95% interval of the mean; 0 for a single run)."""
    end = min(s[-1] for s, _ in curves)
    start = max(s[0] for s, _ in curves)
    grid = np.linspace(start, end, points) if end > start else np.array([end])
    ys = np.stack([np.interp(grid, s, v) for s, v in curves])
    n = len(curves)
    half = 1.96 * ys.std(0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(len(grid))
    return grid, ys.mean(0), half


def plot_runs(
    run_dirs: list[str],
    out: str | Path,
    metric: str = "episode_return",
    group_by: str = "agent",
    strict: bool = True,
) -> dict:
    """Learning curves: one panel per env, one line per value of the config key ``group_by``
    (the agent by default; e.g. ``allocation`` to compare settings), mean over seeds, 95% band.
    ``strict``: runs of one line that share no env steps are refused (else their mean is drawn at
    the shortest run's end; a grid's summary draws what it has)."""
    if group_by not in {f.name for f in dataclasses.fields(Config)}:
        raise ConfigError(
            f"--group-by {group_by!r} is not a config key; allowed: a key of a run's config.json, "
            "e.g. agent, allocation, policy_input"
        )
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for d in run_dirs:
        cfg, steps, values = read_run(d, metric)
        if len(steps):
            # a run from before the key existed ran with its legacy value
            label = str(cfg.get(group_by, LEGACY_SETTINGS.get(group_by, "?")))
            if group_by != "agent":
                label = f"{cfg.get('agent', '?')} {group_by}={label}"
            groups[str(cfg.get("env", "?"))][label].append((steps, values, str(d)))
    if not groups:
        raise ConfigError(f"no finite {metric!r} values in {run_dirs}")
    for env, lines in groups.items():
        for label, curves in lines.items():
            if strict and max(s[0] for s, _, _ in curves) > min(s[-1] for s, _, _ in curves):
                spans = ", ".join(f"{d}: {s[0]:g} to {s[-1]:g}" for s, _, d in curves)
                raise ConfigError(
                    f"plot: the {label} runs on {env} share no env steps ({spans}), so they "
                    "have no mean; plot them apart"
                )
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4), squeeze=False)
    summary = {}
    for ax, (env, agents) in zip(axes[0], sorted(groups.items())):
        for agent, curves in sorted(agents.items()):
            grid, mean, half = mean_and_interval([(s, v) for s, v, _ in curves])
            (line,) = ax.plot(grid, mean, label=f"{agent} (n={len(curves)})")
            ax.fill_between(grid, mean - half, mean + half, color=line.get_color(), alpha=0.2)
            summary[f"{env}/{agent}"] = {"runs": len(curves), "final_mean": float(mean[-1])}
        ax.set_title(env)
        ax.set_xlabel("env steps")
        ax.set_ylabel(metric)
        ax.legend(fontsize=8)
    fig.tight_layout()
    write_replacing(out, lambda path: fig.savefig(path, dpi=100))
    plt.close(fig)
    return summary


@torch.no_grad()
def memory_figure(agent, cfg, out: str | Path, seed: int = 0) -> dict:
    """Run one episode (env 0 of a small batch) and draw the read weights over memory rows for
    each MBP head and the policy's head: time (down) x memory row (across)."""
    from merlin_rl.envs import make_vector_env
    from merlin_rl.record import collect_episode
    from merlin_rl.train import EnvLoop

    if not agent.use_memory:
        raise ConfigError(f"agent {cfg.agent!r} has no external memory to show")
    env = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    steps = collect_episode(agent, env, EnvLoop(env, agent, torch.device("cpu"), seed))
    env.close()
    weights = [np.concatenate([s["mbp_w"], s["pol_w"][None]], 0) for s in steps]  # (K^r + 1, N)
    rewards = [s["reward"] for s in steps]
    w = np.stack(weights, 1)  # (heads, T, N)
    used = max(1, int(min(w.shape[2], len(weights))))
    plt = _pyplot()
    names = [f"MBP read {i + 1}" for i in range(w.shape[0] - 1)] + ["policy read"]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.6), squeeze=False)
    for ax, name, wi in zip(axes[0], names, w):
        ax.imshow(wi[:, :used], aspect="auto", cmap="viridis", vmin=0, vmax=max(1e-6, wi.max()))
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("memory row")
        ax.set_ylabel("time step")
    fig.suptitle(
        f"{cfg.agent} on {cfg.env}: read weights over one episode (return {sum(rewards):.2f})",
        fontsize=10,
    )
    fig.tight_layout()
    write_replacing(out, lambda path: fig.savefig(path, dpi=100))
    plt.close(fig)
    return {"steps": len(weights), "return": sum(rewards), "heads": names}
