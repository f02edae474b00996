"""`merlin-rl experiment`: a grid of agents x envs x seeds, one process per run, summaries and
curves.

The grid file (YAML, TOML or JSON):

    agents = ["merlin", "rl-lstm"]
    envs = ["merlin_rl/ColourMatch-v0"]
    seeds = [0, 1]
    threshold = 0.9          # for "env steps to reach" (optional)
    out = "runs/my-grid"     # optional; default: runs/<file name>
    keep = "docs/runs/my-grid"  # optional: where finished runs' light files go (below)
    [train]                  # settings shared by every run (keys as in a run's config.json)
    total_steps = 300000

Optional keys for a suite of tasks:

    threshold_fraction = 0.9           # per env: "reach" means a return >= 0.9 x its maximum
    [per_env."merlin_rl/WaterMaze-v0"] # settings for the runs on one env (win over [train])
    total_steps = 600000
    [references."MiniGrid-MemoryS7-v0"]  # random and maximum return of an env that declares none
    random = 0.0
    max = 1.0
    [quick]                            # `merlin-rl experiment FILE --quick`: a smoke variant
    seeds = [0]                        # may replace agents, envs, seeds, per_env and out
    out = "runs/my-grid-quick"         # (default: <out>-quick) and add to [train]
    [quick.train]
    total_steps = 10000

Finished runs are kept and interrupted ones resumed, as long as the settings each recorded (its
config.json) are what the grid gives that cell now (:func:`stale_settings`); after a changed
default or grid file the runner refuses to start (``--summarise`` only warns).

``keep`` names a folder meant to be committed (the grid's own ``out`` holds checkpoints and is
not). As each run finishes, the runner copies its light files (config.json, metrics.csv,
finished.json) there, and at start and end every finished run of ``out`` and the summary and
curves; at start, before that, it copies every finished run kept there whose cell has no
finished run in ``out`` into ``out`` (an unfinished one there is set aside, not deleted), after
checking its settings like the others. Stale runs (``--summarise`` only) go neither way.
So a grid that spans sessions resumes in a fresh checkout. [quick] does not inherit ``keep``.

With ``threshold_fraction`` the summary also gives each env's random and maximum return (the
built-in tasks declare theirs: ``max_return``, ``random_return``), the normalised score
(R - R_random) / (R_max - R_random) and the wall time to reach the threshold.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from merlin_rl.config import (
    AGENTS,
    LEGACY_SETTINGS,
    Config,
    ConfigError,
    load_json,
    load_yaml,
    make_config,
)
from merlin_rl.plots import plot_runs, read_run

GRID_KEYS = {
    "agents",
    "envs",
    "seeds",
    "threshold",
    "threshold_fraction",
    "out",
    "train",
    "per_env",
    "references",
    "quick",
    "keep",
}
GRID_SUFFIXES = (".yaml", ".yml", ".toml", ".json")
QUICK_KEYS = {"agents", "envs", "seeds", "out", "train", "per_env", "keep"}


@dataclass
class Grid:
    agents: list[str]
    envs: list[str]
    seeds: list[int]
    threshold: float | None
    out: Path
    train: dict[str, Any]
    per_env: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    threshold_fraction: float | None = None
    references: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    keep: Path | None = None

    def train_for(self, env: str) -> dict[str, Any]:
        """The settings of the runs on ``env``: [train], then its [per_env] table."""
        return {**self.train, **self.per_env.get(env, {})}


def read_grid(path: str | Path, quick: bool = False) -> Grid:
    """The grid in ``path``, every run's settings checked; ``quick``: its [quick] variant."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in GRID_SUFFIXES:
        raise ConfigError(
            f"experiment file {str(path)!r}: a grid file must be YAML, TOML or JSON (ending in "
            f"{', '.join(GRID_SUFFIXES)})"
        )
    try:
        text = path.read_text()
        if kind == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif kind in (".yaml", ".yml"):
            data = load_yaml(text)  # plain values only, no objects, code or aliases
        else:
            data = load_json(text)
    except OSError as e:
        raise ConfigError(
            f"experiment file {str(path)!r} cannot be read: {e.strerror or e}"
        ) from None
    except Exception as e:  # JSON, TOML and YAML syntax errors
        raise ConfigError(
            f"experiment file {str(path)!r} cannot be parsed: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"experiment file {str(path)!r} must hold a table of settings")
    where = f"experiment file {str(path)!r}"
    _check_keys(data, GRID_KEYS, where)
    q = data.get("quick", {})
    for name, table in (("", data), ("quick.", q if isinstance(q, dict) else {})):
        for key in ("out", "keep"):
            if key in table and (not isinstance(table[key], str) or not table[key]):
                raise ConfigError(
                    f"{where}: {name}{key} must be a folder name (a string), got {table[key]!r}"
                )
    default_out = data.get("out") or str(Path("runs") / path.stem)
    if not isinstance(data.get("train", {}), dict):  # before [quick.train] is merged into it
        raise ConfigError(f"{where}: train must be a table of settings, got {data['train']!r}")
    if "quick" in data:
        if not isinstance(q, dict):
            raise ConfigError(f"{where}: quick must be a table of settings, got {q!r}")
        _check_keys(q, QUICK_KEYS, f"{where}: [quick]")
        for key in ("train", "per_env"):
            if key in q and not isinstance(q[key], dict):
                raise ConfigError(f"{where}: quick.{key} must be a table of settings")
    elif quick:
        raise ConfigError(f"{where} has no [quick] table, so --quick cannot be used")
    if quick:
        q_train = q.get("train", {})
        if "per_env" in q:  # the variant's own tables, used as they are
            per_env = q["per_env"]
        else:  # the grid's tables, without what [quick.train] sets, for the variant's envs
            per_env = data.get("per_env", {})
            if isinstance(per_env, dict):
                envs = q.get("envs", data.get("envs"))
                per_env = {
                    e: {k: v for k, v in t.items() if k not in q_train}
                    if isinstance(t, dict)
                    else t
                    for e, t in per_env.items()
                    if not isinstance(envs, list) or e in envs
                }
        top = [Path(x).resolve() for x in (data.get("keep"), default_out) if isinstance(x, str)]
        for key in ("keep", "out"):  # a smoke run must not write into the grid's folders
            if q.get(key) and Path(q[key]).resolve() in top:
                raise ConfigError(
                    f"{where}: quick.{key} must be another folder than the grid's keep and out"
                )
        data = {
            **data,
            **{k: v for k, v in q.items() if k != "train"},
            "train": {**(data.get("train") or {}), **q_train},
            "per_env": per_env,
            "out": q.get("out") or default_out + "-quick",
            "keep": q.get("keep"),  # a smoke variant keeps nothing unless it says so
        }
    for key in ("agents", "envs", "seeds"):
        if not isinstance(data.get(key), list) or not data[key]:
            raise ConfigError(f"{where}: {key} must be a non-empty list")
    bad = [a for a in data["agents"] if not isinstance(a, str) or a not in AGENTS]
    if bad:
        raise ConfigError(f"{where}: unknown agents {bad}; allowed: {', '.join(AGENTS)}")
    bad = [e for e in data["envs"] if not isinstance(e, str) or not e]
    if bad:
        raise ConfigError(f"{where}: envs must be env id strings, got {bad}")
    bad = [
        s
        for s in data["seeds"]
        if not isinstance(s, int) or isinstance(s, bool) or not 0 <= s < 2**31
    ]
    if bad:
        raise ConfigError(f"{where}: seeds must be integers in [0, 2**31), got {bad}")
    for key in ("agents", "envs", "seeds"):  # a cell twice would train two runs in one folder
        twice = [x for i, x in enumerate(data[key]) if x in data[key][:i]]
        if twice:
            raise ConfigError(f"{where}: {key} names {twice[0]!r} twice; list each once")
    threshold = data.get("threshold")
    if threshold is not None and not _is_number(threshold):
        raise ConfigError(f"{where}: threshold must be a number (a return), got {threshold!r}")
    fraction = data.get("threshold_fraction")
    if fraction is not None and not (_is_number(fraction) and 0 < fraction <= 1):
        raise ConfigError(
            f"{where}: threshold_fraction must be a number in (0, 1] (a share of the "
            f"maximum return), got {fraction!r}"
        )
    if threshold is not None and fraction is not None:
        raise ConfigError(f"{where}: give threshold or threshold_fraction, not both")
    train = data.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{where}: train must be a table of settings, got {train!r}")
    per_env = data.get("per_env", {})
    if not isinstance(per_env, dict) or not all(isinstance(v, dict) for v in per_env.values()):
        raise ConfigError(f"{where}: per_env must map env ids to tables of settings")
    stray = sorted(set(per_env) - set(data["envs"]), key=str)
    if stray:
        raise ConfigError(f"{where}: per_env names envs that are not in envs: {stray}")
    for table, name in [(train, "[train]")] + [(v, f"[per_env.{k!r}]") for k, v in per_env.items()]:
        _check_train_table(table, f"{where}: {name}")
    references = _check_references(data.get("references", {}), where)
    stray = sorted(set(references) - set(data["envs"]), key=str)
    if stray and not quick:
        raise ConfigError(f"{where}: references names envs that are not in envs: {stray}")
    for agent in data["agents"]:  # every run's settings, checked before the first run starts
        for env in data["envs"]:
            settings = {**train, **per_env.get(env, {})}
            try:
                make_config(
                    settings.get("preset", "small"),
                    **{k: v for k, v in settings.items() if k != "preset"},
                    agent=agent,
                    env=env,
                    seed=data["seeds"][0],
                )
            except ConfigError as e:
                raise ConfigError(f"{where}: run {agent} on {env}: {e}") from None
    out = Path(data.get("out") or default_out)
    keep = Path(data["keep"]) if data.get("keep") else None
    if keep is not None and keep.resolve() == out.resolve():
        raise ConfigError(f"{where}: keep must be another folder than out ({str(out)!r})")
    for key, folder in (("out", out), ("keep", keep)):
        blocked = _file_on_path(folder) if folder is not None else None
        if blocked is not None:
            raise ConfigError(f"{where}: {key} must be a folder, and {str(blocked)!r} is a file")
    if not quick and "quick" in data:  # its settings are checked now, not only under --quick
        try:
            read_grid(path, quick=True)
        except ConfigError as e:
            raise ConfigError(f"{e} (in its [quick] variant)") from None
    return Grid(
        list(data["agents"]),
        list(data["envs"]),
        list(data["seeds"]),
        threshold,
        out,
        train,
        per_env=per_env,
        threshold_fraction=fraction,
        references=references,
        keep=keep,
    )


def _file_on_path(folder: Path) -> Path | None:
    """``folder`` itself or the first of its parents that exists as something other than a
    folder (a file), which would stop the folder from being made; None if there is none."""
    for p in (folder, *folder.parents):
        if p.exists():
            return None if p.is_dir() else p
    return None


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed, key=str)  # a YAML file's keys may be of any type
    if unknown:
        raise ConfigError(f"{where} has unknown keys {unknown}; allowed: {sorted(allowed)}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_train_table(train: dict[str, Any], where: str) -> None:
    fixed = {"agent", "env", "seed", "run_dir"} & set(train)
    if fixed:
        raise ConfigError(f"{where} may not set {sorted(fixed)} (the grid sets them)")
    if "env_import" in train:
        raise ConfigError(
            f"{where} may not set env_import (a file never imports "
            "code); pass --env-import to merlin-rl experiment"
        )
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(train) - known, key=str)
    if unknown:
        raise ConfigError(f"{where} has unknown keys {unknown}; allowed: {sorted(known)}")
    empty = sorted(k for k, v in train.items() if v is None)
    if empty:  # make_config would drop them, and each run's own check then fails it
        raise ConfigError(f"{where}: {empty} have no value (null); give one or leave the key out")


def _check_references(refs: Any, where: str) -> dict[str, dict[str, float]]:
    if not isinstance(refs, dict):
        raise ConfigError(f"{where}: references must map env ids to {{random, max}} tables")
    for env, r in refs.items():
        if (
            not isinstance(r, dict)
            or set(r) != {"random", "max"}
            or not all(_is_number(v) for v in r.values())
            or not r["max"] > r["random"]
        ):
            raise ConfigError(
                f"{where}: references[{env!r}] must be {{random: number, max: number}} with "
                f"max > random, got {r!r}"
            )
    return {k: {"random": float(v["random"]), "max": float(v["max"])} for k, v in refs.items()}


def run_dir_for(grid: Grid, agent: str, env: str, seed: int) -> Path:
    return grid.out / f"{agent}__{env.replace('/', '_')}__s{seed}"


FINISHED = "finished.json"  # written beside a run's metrics.csv when it has finished
LIGHT = ("config.json", "metrics.csv", FINISHED)  # what is kept of a finished run
SUMMARY = ("summary.csv", "summary.md", "curves.png")  # and of the grid
# settings that say how a run was carried out, not what it learns (a run made with other values
# still belongs to the grid), and settings that 0 leaves to the run to resolve (its config.json
# records the value it chose)
_OPERATIONAL = {
    "run_dir",
    "env_import",
    "device",
    "async_envs",
    "compile",
    "log_interval",
    "checkpoint_interval",
    "keep_checkpoints",
    "tb_images_every",
    "max_nonfinite",
}
_AUTO = {"memory_rows": 0, "image_scale": 0.0}


def _kinds(cfg: Config) -> tuple[str, ...] | None:
    return _observation_kinds(cfg.env, json.dumps(cfg.env_kwargs, sort_keys=True))


def _latent_matters(cfg: Config) -> bool:
    """--latent changes nothing for the ablations (no decoders) nor for an env with one
    observation kind (mbp.MBP): runs made before it existed stand there."""
    kinds = _kinds(cfg)
    return cfg.agent == "merlin" and (kinds is None or len(kinds) != 1)


def _decoder_of(kind: str) -> Callable[[Config], bool]:
    """A setting of ``kind``'s decoder changes nothing for the ablations (no decoders) nor for
    an env without an input of that kind (encoders.VectorModality, ImageModality)."""

    def matters(cfg: Config) -> bool:
        kinds = _kinds(cfg)
        return cfg.agent == "merlin" and (kinds is None or kind in kinds)

    return matters


# settings that change nothing for some cells: runs made before them stand there (--mbp-clip:
# the ablations clip both optimisers globally whatever it says, learner.Learner)
_MATTERS: dict[str, Callable[[Config], bool]] = {
    "latent": _latent_matters,
    "vector_sigma": _decoder_of("vector"),
    "discrete_weight": _decoder_of("discrete"),
    "text_weight": _decoder_of("text"),
    "vector_sigma_min": lambda cfg: cfg.vector_sigma == "learned" and _decoder_of("vector")(cfg),
    "image_decoder": _decoder_of("image"),
    "image_output": _decoder_of("image"),
    "image_codes": lambda cfg: (
        cfg.agent == "merlin"
        and _symbolic_image(cfg.env, json.dumps(cfg.env_kwargs, sort_keys=True), cfg.seed)
    ),
    "mbp_clip": lambda cfg: cfg.agent == "merlin",
    "latent_input_norm": lambda cfg: cfg.agent == "merlin",  # an ablation's z has no prior
    # an ablation's z has no prior, and a direct posterior neither reads nor adds it
    "prior_grad": lambda cfg: cfg.agent == "merlin" and cfg.posterior_form == "residual",
    "posterior_form": lambda cfg: cfg.agent == "merlin",
    "policy_sees": lambda cfg: cfg.agent != "rl-lstm",  # RL-LSTM has no reads to see
    "ablation_mbp_lr": lambda cfg: cfg.agent != "merlin",  # MERLIN's MBP steps at lr_mbp
}


def inert_settings(cfg: Config, names: set[str]) -> list[str]:
    """Those of ``names`` that change nothing for a run of ``cfg`` (e.g. --ablation-mbp-lr for
    MERLIN, --image-output without an image input), in ``cfg``'s field order."""
    fields = [f.name for f in dataclasses.fields(cfg)]
    return [n for n in fields if n in names and n in _MATTERS and not _MATTERS[n](cfg)]


@functools.lru_cache(maxsize=None)
def _observation_kinds(env: str, kwargs: str) -> tuple[str, ...] | None:
    """The kind of each of ``env``'s observation entries (None if it cannot be made here)."""
    from merlin_rl.encoders import modality_for_space, space_items
    from merlin_rl.envs import make_vector_env

    try:
        vec = make_vector_env(env, 1, json.loads(kwargs))
    except Exception:
        return None
    try:
        return tuple(
            modality_for_space(k, s, 1, 1).kind
            for k, s in space_items(vec.single_observation_space)
        )
    except Exception:
        return None
    finally:
        vec.close()


@functools.lru_cache(maxsize=None)
def _symbolic_image(env: str, kwargs: str, seed: int) -> bool:
    """Whether ``env`` has an integer image of small codes (the auto --image-scale is not 255;
    True if it cannot be made here)."""
    from merlin_rl.acting import probe_image_scale
    from merlin_rl.encoders import PIXEL_SCALE
    from merlin_rl.envs import make_vector_env

    try:
        vec = make_vector_env(env, 1, json.loads(kwargs))
    except Exception:
        return True
    try:
        return probe_image_scale(vec, seed) != PIXEL_SCALE
    except Exception:
        return True
    finally:
        vec.close()


def cell_config(grid: Grid, agent: str, env: str, seed: int) -> Config:
    """The settings the grid gives one cell: the preset, then [train] and [per_env]."""
    settings = grid.train_for(env)
    return make_config(
        settings.get("preset", "small"),
        **{k: v for k, v in settings.items() if k != "preset"},
        agent=agent,
        env=env,
        seed=seed,
    )


def stale_settings(
    grid: Grid, agent: str, env: str, seed: int, run_dir: Path | None = None
) -> list[str]:
    """How the settings recorded in a cell's existing run (its config.json; ``run_dir``: the run
    there instead of the cell's own, e.g. a kept copy) differ from those the grid gives that cell
    now ("name: recorded, now value"); empty when they agree or there is no run yet. A changed
    default or grid file makes a finished run stale: the runner would skip it and mix two settings
    in one table."""
    path = (run_dir or run_dir_for(grid, agent, env, seed)) / "config.json"
    if not path.is_file():
        return []
    try:
        recorded = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return [f"config.json unreadable ({type(e).__name__})"]
    if not isinstance(recorded, dict):
        return ["config.json is not a table of settings"]
    recorded = {**LEGACY_SETTINGS, **recorded}
    now = cell_config(grid, agent, env, seed)
    out = []
    for name, value in dataclasses.asdict(now).items():
        if name in _OPERATIONAL or (name in _AUTO and value == _AUTO[name]):
            continue
        if name not in recorded or recorded[name] != value:
            if name in _MATTERS and not _MATTERS[name](now):
                continue
            out.append(f"{name}: {recorded.get(name, 'not recorded')!r}, now {value!r}")
    return out


def is_finished(run_dir: Path) -> bool:
    """A run finished: its final checkpoint, or the marker that the runner writes, which stays
    when only the light files (config.json, metrics.csv, finished.json) are kept, e.g. committed
    under docs/runs/ so that a grid resumes in a fresh checkout."""
    return (run_dir / "checkpoints" / "final.pt").exists() or (run_dir / FINISHED).is_file()


def keep_run(run_dir: Path, dest: Path) -> bool:
    """Copy a finished run's light files (:data:`LIGHT`) to ``dest``; False (nothing copied) when
    one of them is missing."""
    if not all((run_dir / name).is_file() for name in LIGHT):
        return False
    dest.mkdir(parents=True, exist_ok=True)
    for name in LIGHT:
        shutil.copy2(run_dir / name, dest / name)
    return True


def keep_light(
    src: Path, dest: Path, names: list[str] | None = None, summary: bool = True
) -> list[str]:
    """Copy the light files of the finished runs under ``src`` (those named in ``names``, or all)
    and, with ``summary``, the grid's summary and curves to ``dest``; the names of the runs it
    kept. A run that finished before the runner wrote markers (its final checkpoint alone) gets
    one first."""
    kept = []
    for run in sorted(p for p in src.iterdir() if p.is_dir() and "__s" in p.name):
        if names is not None and run.name not in names:
            continue
        done = (run / "checkpoints" / "final.pt").exists()
        if done and not (run / FINISHED).exists() and (run / "config.json").is_file():
            cfg = json.loads((run / "config.json").read_text())
            marker = {k: cfg.get(k) for k in ("agent", "env", "seed")}
            (run / FINISHED).write_text(json.dumps(marker) + "\n")
        if (run / FINISHED).is_file():
            if keep_run(run, dest / run.name):
                kept.append(run.name)
            else:
                print(f"keep: skip {run.name}: a light file is missing", file=sys.stderr)
    dest.mkdir(parents=True, exist_ok=True)
    if not summary:
        return kept
    for name in SUMMARY:
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)
    if (src / "curves").is_dir():
        shutil.copytree(src / "curves", dest / "curves", dirs_exist_ok=True)
    return kept


def kept_copy(grid: Grid, run_dir: Path) -> Path | None:
    """The finished copy of a cell's run kept under ``grid.keep``, where the cell's own folder
    holds no finished run; else None."""
    if grid.keep is None or is_finished(run_dir):
        return None
    kept = grid.keep / run_dir.name
    if (kept / FINISHED).is_file() and all((kept / n).is_file() for n in LIGHT):
        return kept
    return None


def _restore(kept: Path, run_dir: Path) -> None:
    """Bring a kept finished run back as ``run_dir``: its light files are copied beside it and
    renamed into place (a copy cut off half-way is redone next time). An unfinished run already
    there is set aside as <run_dir>.unfinished[-N], not deleted."""
    tmp = run_dir.with_name(run_dir.name + ".restoring")
    if tmp.exists():  # an earlier restore that was cut off
        shutil.rmtree(tmp)
    keep_run(kept, tmp)
    if run_dir.exists():
        aside, n = run_dir.with_name(run_dir.name + ".unfinished"), 1
        while aside.exists():
            n += 1
            aside = run_dir.with_name(f"{run_dir.name}.unfinished-{n}")
        run_dir.rename(aside)
        print(
            f"experiment: {run_dir.name} finished in {kept.parent}: its unfinished run here is "
            f"set aside as {aside.name}",
            file=sys.stderr,
        )
    tmp.rename(run_dir)


def _threads_per_run(jobs: int) -> int:
    """Intra-op threads of each run: OMP_NUM_THREADS when the user set it (e.g. two grids side by
    side), else the CPUs shared among the ``jobs`` parallel runs."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // jobs)


# the trainings this runner has started; a SIGTERM or SIGHUP to the runner stops them too
_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _stop_runs(signum: int, frame: Any) -> None:
    """Signal handler of the runner: start no more runs, stop the running ones (each resumes
    from its last checkpoint next time), then exit with 128 + the signal number."""
    with _LIVE_LOCK:
        _STOPPING.set()
        live = list(_LIVE)
    for proc in live:
        proc.terminate()
    for proc in live:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    raise SystemExit(128 + signum)


def _run_one(
    grid: Grid,
    agent: str,
    env: str,
    seed: int,
    threads: int,
    train_file: Path,
    env_import: str = "",
    number: str = "",
) -> str:
    """Train one cell in its own process (resumed if it has started) and mark it finished; a
    line on stderr when it starts and when it ends (``number``: its place among the runs to
    make, e.g. "[3/9]")."""
    run_dir = run_dir_for(grid, agent, env, seed)
    if is_finished(run_dir):
        return "finished"
    cmd = [
        sys.executable,
        "-m",
        "merlin_rl",
        "train",
        "--config",
        str(train_file),
        "--agent",
        agent,
        "--env",
        env,
        "--seed",
        str(seed),
        "--run-dir",
        str(run_dir),
        "--no-progress",
    ]
    if env_import:
        cmd += ["--env-import", env_import]
    if (run_dir / "config.json").exists():
        cmd.append("--resume")  # an interrupted run continues
    log = run_dir.parent / f"{run_dir.name}.log"
    what = f"experiment: {number + ' ' if number else ''}{agent} on {env}, seed {seed}"
    with open(log, "w") as f:
        with _LIVE_LOCK:
            if _STOPPING.is_set():
                return "stopped"
            started = time.monotonic()
            resumed = " (resumed)" if "--resume" in cmd else ""
            print(f"{what}: started{resumed}; log {log}", file=sys.stderr, flush=True)
            proc = subprocess.Popen(
                cmd,
                stdout=f,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OMP_NUM_THREADS": str(threads)},
            )
            _LIVE.add(proc)
        try:
            returncode = proc.wait()
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    if _STOPPING.is_set():
        return "stopped"
    seconds = f"{time.monotonic() - started:,.0f} s"
    if returncode != 0:
        print(f"{what}: failed after {seconds} (exit {returncode})", file=sys.stderr, flush=True)
        return f"failed (exit {returncode}, see {log})"
    print(f"{what}: finished in {seconds}", file=sys.stderr, flush=True)
    marker = {"agent": agent, "env": env, "seed": seed, "settings": grid.train_for(env)}
    (run_dir / FINISHED).write_text(json.dumps(marker) + "\n")
    if grid.keep is not None:  # at once: a runner stopped later keeps what finished
        keep_run(run_dir, grid.keep / run_dir.name)
    return "ran"


def env_references(grid: Grid, env: str) -> tuple[float, float] | None:
    """(random, maximum) return of ``env`` with the grid's knobs: from [references], else what
    the env declares (``random_return``, ``max_return``; the built-in tasks do), else None."""
    if env in grid.references:
        r = grid.references[env]
        return r["random"], r["max"]
    import gymnasium as gym

    try:
        e = gym.make(env, **dict(grid.train_for(env).get("env_kwargs") or {}))
    except (gym.error.Error, TypeError, ValueError) as err:
        raise ConfigError(f"env {env!r} cannot be made for its reference returns: {err}") from None
    try:
        lo = float(getattr(e.unwrapped, "random_return", math.nan))
        hi = float(getattr(e.unwrapped, "max_return", math.nan))
    finally:
        e.close()
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) and hi > lo else None


def _mean(xs: list[float]) -> float | str:
    return float(np.mean(xs)) if xs else ""


def _std(xs: list[float]) -> float | str:
    return float(np.std(xs)) if xs else ""


def summarise(grid: Grid) -> list[dict[str, Any]]:
    """One row per (agent, env) of the grid's finished runs (:func:`summary_row`); with
    ``threshold_fraction`` the threshold is that share of each env's maximum return."""
    rows = []
    for env in grid.envs:
        refs, threshold = None, grid.threshold
        if grid.threshold_fraction is not None:
            refs = env_references(grid, env)
            threshold = grid.threshold_fraction * refs[1] if refs else None
        for agent in grid.agents:
            dirs = [run_dir_for(grid, agent, env, s) for s in grid.seeds]
            dirs = [d for d in dirs if is_finished(d)]
            row = summary_row(agent, env, dirs, threshold, refs, grid.threshold_fraction)
            if row is not None:
                rows.append(row)
    return rows


def summary_row(
    agent: str,
    env: str,
    run_dirs: list[Path],
    threshold: float | None,
    refs: tuple[float, float] | None = None,
    fraction: float | None = None,
) -> dict[str, Any] | None:
    """The summary of finished runs (one per seed) of one agent on one env: final return mean +-
    std over seeds (the last 10% of each run's log rows), the seeds that reached ``threshold``
    and the mean env steps and (with ``fraction``) wall time of their first log row at or above
    it, and (with ``fraction``) the normalised score (R - R_random) / (R_max - R_random) from
    ``refs`` = (R_random, R_max). None without runs; runs in which no episode ended get a row
    with a note."""
    if not run_dirs:
        return None
    finals, reach, walls = [], [], []
    for d in run_dirs:
        _, steps, values = read_run(d, "episode_return")
        if not len(values):
            continue
        tail = values[-max(1, len(values) // 10) :]
        finals.append(float(tail.mean()))
        if threshold is not None:
            hit = np.nonzero(values >= threshold)[0]
            reach.append(float(steps[hit[0]]) if len(hit) else None)
            if len(hit) and fraction is not None:
                _, w_steps, wall = read_run(d, "wall_time")
                walls.append(
                    float(wall[min(np.searchsorted(w_steps, steps[hit[0]]), len(wall) - 1)])
                )
    reached = [r for r in reach if r is not None]
    row: dict[str, Any] = {
        "agent": agent,
        "env": env,
        "seeds": len(finals),
        "final_return_mean": _mean(finals),
        "final_return_std": _std(finals),
        "seeds_reaching_threshold": len(reached) if threshold is not None and finals else "",
        "steps_to_threshold_mean": _mean(reached),
    }
    if fraction is not None:
        scores = [(f - refs[0]) / (refs[1] - refs[0]) for f in finals] if refs else []
        row.update(
            threshold=threshold if threshold is not None else "",
            random_return=refs[0] if refs else "",
            max_return=refs[1] if refs else "",
            normalised_mean=_mean(scores),
            normalised_std=_std(scores),
            wall_to_threshold_mean=_mean(walls),
        )
    missing = len(run_dirs) - len(finals)
    if not finals:
        row["note"] = f"no finished episode in {len(run_dirs)} finished runs"
    else:
        row["note"] = f"{missing} runs finished no episode" if missing else ""
    return row


def write_summary(grid: Grid, rows: list[dict[str, Any]]) -> None:
    with open(grid.out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["agent"])
        w.writeheader()
        w.writerows(rows)
    if grid.threshold_fraction is not None:
        thr = f">= {grid.threshold_fraction} x max"
    else:
        thr = f">= {grid.threshold}" if grid.threshold is not None else "(no threshold set)"
    lines = [
        f"| agent | env | seeds | final return (mean ± std) | seeds reaching {thr} | "
        "env steps to reach it (mean) | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = (
            f"{r['steps_to_threshold_mean']:,.0f}" if r["steps_to_threshold_mean"] != "" else "—"
        )
        final = (
            f"{r['final_return_mean']:.3f} ± {r['final_return_std']:.3f}"
            if r["final_return_mean"] != ""
            else "—"
        )
        lines.append(
            f"| {r['agent']} | {r['env']} | {r['seeds']} | {final} | "
            f"{r['seeds_reaching_threshold']} | {steps} | {r['note']} |"
        )
    (grid.out / "summary.md").write_text("\n".join(lines) + "\n")


def run_experiment(
    path: str | Path,
    jobs: int = 1,
    env_import: str = "",
    quick: bool = False,
    summarise_only: bool = False,
    agents: list[str] | None = None,
) -> dict[str, Any]:
    """Run (or resume) the grid (its [quick] variant with ``quick``), then write summary.csv,
    summary.md, curves.png and, for several envs, curves/<env>.png (when some run finished an
    episode). ``env_import``: the user's --env-import, passed to every run. ``summarise_only``:
    run nothing, summarise the runs that have finished (a grid that spans sessions).
    ``agents``: run only these agents' cells (e.g. the ablations first, which a change to the
    MBP leaves standing); the summary still covers every finished run of the grid, so a stale run
    of any agent still stops the runner."""
    if jobs <= 0:
        raise ConfigError(f"--jobs must be a positive integer, got {jobs}")
    grid = read_grid(path, quick)
    if agents is not None:
        if summarise_only:
            raise ConfigError(
                "experiment: --agents chooses the cells to run and --summarise runs none: give one"
            )
        unknown = [a for a in agents if a not in grid.agents]
        if unknown or not agents:
            raise ConfigError(
                f"experiment: --agents {','.join(agents)!r} names no agent or one the grid does "
                f"not have ({', '.join(unknown) or 'empty'}); the grid's agents: "
                f"{', '.join(grid.agents)}"
            )
    if env_import:
        from merlin_rl.envs import import_env_modules

        import_env_modules(env_import)
    _check_env_ids(grid)
    if not summarise_only:
        _check_envs(grid)
    if grid.threshold_fraction is not None:  # before any run: every env needs its references
        missing = [e for e in grid.envs if env_references(grid, e) is None]
        if missing:
            raise ConfigError(
                f"experiment: threshold_fraction needs the random and maximum return of "
                f"{', '.join(missing)}: add [references.ENV] with random and max to the grid "
                "file (built-in tasks declare theirs)"
            )
    cells = [(a, e, s) for e in grid.envs for a in grid.agents for s in grid.seeds]
    kept = {c: k for c in cells if (k := kept_copy(grid, run_dir_for(grid, *c))) is not None}
    stale = {
        run_dir_for(grid, *c).name: d for c in cells if (d := stale_settings(grid, *c, kept.get(c)))
    }
    if stale:
        name, diffs = next(iter(stale.items()))
        where = " and ".join(
            sorted(
                {
                    str(grid.keep if c in kept else grid.out)
                    for c in cells
                    if run_dir_for(grid, *c).name in stale
                }
            )
        )
        message = (
            f"{len(stale)} run(s) under {where} were made with other settings than the grid "
            f"gives now (e.g. {name}: {'; '.join(diffs)}): the defaults or the grid file changed"
        )
        if not summarise_only:
            raise ConfigError(
                f"experiment: {message}; move those runs elsewhere (nothing was changed) or set "
                "the old values in the grid's [train] table"
            )
        print(f"experiment: warning: {message}; summarising them anyway", file=sys.stderr)
    grid.out.mkdir(parents=True, exist_ok=True)
    for c, k in kept.items():  # a fresh checkout: the committed runs come back into out
        if run_dir_for(grid, *c).name not in stale:  # (--summarise only: stale ones stay there)
            _restore(k, run_dir_for(grid, *c))
    names = [n for c in cells if (n := run_dir_for(grid, *c).name) not in stale]
    if grid.keep is not None:  # and runs that finished before the grid had `keep` go there
        keep_light(grid.out, grid.keep, names, summary=not stale)
    chosen = [c for c in cells if not summarise_only and (agents is None or c[0] in agents)]
    ran = dict(zip(chosen, _run_all(grid, chosen, jobs, env_import))) if chosen else {}
    status = [
        ran.get(c) or ("finished" if is_finished(run_dir_for(grid, *c)) else "not finished")
        for c in cells
    ]
    rows = summarise(grid)
    write_summary(grid, rows)
    done = {str(run_dir_for(grid, *c)) for c, st in zip(cells, status) if st in ("ran", "finished")}
    if done and any(r["final_return_mean"] != "" for r in rows):
        plot_runs(sorted(done), grid.out / "curves.png", strict=False)
        if len(grid.envs) > 1:  # and one figure per env
            (grid.out / "curves").mkdir(exist_ok=True)
            for env in grid.envs:
                dirs = [str(run_dir_for(grid, a, e, s)) for a, e, s in cells if e == env]
                if any(r["env"] == env and r["final_return_mean"] != "" for r in rows):
                    plot_runs(
                        [d for d in dirs if d in done],
                        grid.out / "curves" / f"{env.replace('/', '_')}.png",
                        strict=False,
                    )
    if grid.keep is not None:  # a summary of stale runs is not kept
        keep_light(grid.out, grid.keep, names, summary=not stale)
    return {
        "out": str(grid.out),
        "runs": {run_dir_for(grid, *c).name: st for c, st in zip(cells, status)},
        "summary": rows,
    }


def _run_all(
    grid: Grid, cells: list[tuple[str, str, int]], jobs: int, env_import: str
) -> list[str]:
    """Run the cells, ``jobs`` at a time; one settings file per env when [per_env] tables differ."""
    train_files = {}
    for env in grid.envs:
        name = "train_settings"
        if env in grid.per_env:
            name += "__" + env.replace("/", "_")
        train_files[env] = grid.out / f"{name}.json"
        train_files[env].write_text(json.dumps(grid.train_for(env), indent=2))
    threads = _threads_per_run(jobs)
    todo = [c for c in cells if not is_finished(run_dir_for(grid, *c))]
    numbers = {c: f"[{i}/{len(todo)}]" for i, c in enumerate(todo, 1)}  # of the runs to make
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        _STOPPING.clear()
        sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        handlers = {sig: signal.signal(sig, _stop_runs) for sig in sigs}
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            return list(
                pool.map(
                    lambda c: _run_one(
                        grid, *c, threads, train_files[c[1]], env_import, numbers.get(c, "")
                    ),
                    cells,
                )
            )
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)


def _check_envs(grid: Grid) -> None:
    """Each env of the grid can be made with its settings' env_kwargs, and the agents can take
    its spaces, before the first run starts (a bad env would otherwise fail its runs only when
    the runner reaches them, maybe hours in)."""
    from merlin_rl.encoders import UnsupportedSpaceError, modality_for_space, space_items
    from merlin_rl.envs import EnvError, make_vector_env

    for env in grid.envs:
        settings = grid.train_for(env)
        cfg = make_config(
            settings.get("preset", "small"),
            **{k: v for k, v in settings.items() if k != "preset"},
            env=env,
        )
        try:
            vec = make_vector_env(env, 1, cfg.env_kwargs)
            try:
                for key, space in space_items(vec.single_observation_space):
                    modality_for_space(key, space, 1, 1)
            finally:
                vec.close()
        except (EnvError, UnsupportedSpaceError) as e:
            raise ConfigError(f"experiment: env {env!r}: {e}") from None


def _check_env_ids(grid: Grid) -> None:
    """Every env id of the grid is registered (after the user's --env-import)."""
    import gymnasium as gym

    from merlin_rl.envs import BUILTIN_PREFIX

    for env in grid.envs:
        try:
            gym.spec(env)
        except gym.error.Error:
            builtin = sorted(k for k in gym.registry if k.startswith(BUILTIN_PREFIX))
            raise ConfigError(
                f"experiment: unknown env id {env!r} in envs; built-in tasks: "
                f"{', '.join(builtin)}; others need --env-import"
            ) from None
