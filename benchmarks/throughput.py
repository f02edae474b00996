"""Training throughput of MERLIN and where the time goes, as JSON.

    python benchmarks/throughput.py [--env merlin_rl/ColourMatch-v0] [--agent merlin]
                                    [--preset small] [--num-envs B] [--device cpu|cuda|auto]
                                    [--seconds S | --updates U] [--threads T]
                                    [--breakdown-updates K] [--env-seconds E] [--warmup W]

Everything runs the real training code (``merlin_rl.train.Trainer``: ``rollout()`` then
``update()``), in one process, after ``--warmup`` untimed segments (a segment is tau steps of the
B environments followed by one update):

1. **clean timing** for ``--seconds`` (or exactly ``--updates`` segments), nothing instrumented:
   ``train_steps_per_s`` (rollout + update, end to end), ``rollout_steps_per_s`` (the acting part
   of training, graph kept), ``update_ms_per_segment``;
2. **acting without a graph**: a few ``rollout()`` calls under ``torch.no_grad()``
   (``acting_steps_per_s_no_grad``);
3. **breakdown** over ``--breakdown-updates`` more segments: forward pre/post hooks and wrappers
   (installed in this process only, removed afterwards; no file in ``src/`` changes) time the
   encoders, the MBP's prior/posterior, LSTM and read interface, memory reads and writes (the
   functions of ``merlin_rl.memory``), the policy, the decoders, the return heads, the loss terms,
   ``loss.backward()``, gradient clipping and the optimiser steps, the environment's ``step``.
   Each component's time is exclusive (a memory read inside the policy counts as a read, not as
   policy), so the components add up to the instrumented segment. Each is reported as ms per
   segment, as a fraction of the whole training iteration (``fraction_of_training``: rollout +
   update) and, for its part inside ``update()``, as a fraction of the update
   (``fraction_of_update``). The backward pass is one number (not split by module).
   ``instrumentation_overhead`` compares the instrumented segment with
   the clean one. On CUDA every timed region synchronises (the breakdown is then exact but
   slower than the clean run; the clean timing synchronises only at segment boundaries);
4. **raw environment rate** (random actions, ``--env-seconds``), as in ``benchmarks/speed.py``.

The environment's share of training time is given twice: measured inside training
(``env_share.from_breakdown``) and estimated from the raw env rate
(``env_share.from_raw_env_rate`` = training steps/s / raw env steps/s).

Peak resident memory is the process's maximum RSS (``getrusage``), which includes the Python and
PyTorch import; ``rss_before_trainer_mb`` gives that baseline. On CUDA the peak allocated GPU
memory is reported too.

:func:`measure` is the reusable entry point (``benchmarks/peers/rppo_speed.py`` calls it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import torch

from merlin_rl import memory as mem_ops
from merlin_rl.agent import AgentState
from merlin_rl.config import DEFAULT_ENV, ConfigError, make_config
from merlin_rl.envs import EnvError, make_vector_env
from merlin_rl.train import Trainer

# Components of the breakdown, grouped as in the issue (the groups add up to the segment).
GROUPS: dict[str, tuple[str, ...]] = {
    "encoders": ("encoders",),
    "mbp": ("mbp_prior_posterior", "mbp_lstm", "mbp_interface"),
    "memory_read": ("memory_read",),
    "memory_write": ("memory_write",),
    "policy": ("policy",),
    "decoders": ("decoders",),
    "return_heads": ("return_heads",),
    "loss_terms": ("loss_terms",),
    "backward": ("backward",),
    "optimiser": ("grad_clip", "optimiser"),
    "env": ("env_step",),
    "other": (
        "obs_to_tensor",
        "env_loop_other",
        "agent_step_other",
        "noise",
        "state_reset",
        "other",
    ),
}
COMPONENTS = tuple(c for cs in GROUPS.values() for c in cs)
PHASES = ("rollout", "update")


# ----------------------------------------------------------------------------- machine info
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 1024), 1)


def machine_info(device: torch.device | None = None) -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "arch": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": load_average(),
        "cuda_available": torch.cuda.is_available(),
    }
    if device is not None and device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages (a busy machine makes every number here slower)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def thread_info() -> dict[str, Any]:
    return {
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def check_device(name: str) -> None:
    """Fail early, with a clear message, on --device cuda without a GPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for but no CUDA GPU is available "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); "
            "use --device cpu or auto"
        )


# -------------------------------------------------------------------------------- profiler
class Profiler:
    """Exclusive wall time of nested regions, keyed by (phase, component).

    ``push``/``pop`` bracket a region; a region's time minus the time of the regions nested in it
    is its exclusive time. The outermost region (``rollout`` or ``update``) sets the phase, and its
    own exclusive time is recorded as component ``other``."""

    def __init__(self, sync: bool = False) -> None:
        self.sync = sync
        self.stack: list[list[Any]] = []
        self.time: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self.phase_time: dict[str, float] = defaultdict(float)

    def _now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    def push(self, name: str) -> None:
        self.stack.append([name, self._now(), 0.0])

    def pop(self) -> None:
        now = self._now()
        name, t0, children = self.stack.pop()
        dt = now - t0
        if self.stack:
            phase = self.stack[0][0]
            self.stack[-1][2] += dt
        else:
            phase, name = name, "other"
            self.phase_time[phase] += dt
        self.time[(phase, name)] += dt - children
        self.calls[(phase, name)] += 1

    @contextmanager
    def region(self, name: str) -> Iterator[None]:
        self.push(name)
        try:
            yield
        finally:
            self.pop()

    def wrap(self, fn: Callable, name: str) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.push(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.pop()

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed


@contextmanager
def instrument(tr: Trainer, prof: Profiler) -> Iterator[None]:
    """Time the components of ``tr``'s rollout and update; everything is restored on exit.

    Module forward pre/post hooks time the MBP LSTM and the policy's acting steps;
    ``Policy.sequence`` (the policy over a replayed segment), the MBP's methods, the memory
    functions (looked up through ``merlin_rl.memory`` by the agent and the policy), the env loop,
    the loss code, ``Tensor.backward``, ``clip_grad_norm_`` and the optimisers' ``step`` are
    wrapped."""
    agent, mbp = tr.agent, tr.agent.mbp
    handles = []

    def hook(module: torch.nn.Module, name: str) -> None:
        handles.append(module.register_forward_pre_hook(lambda *_: prof.push(name)))
        handles.append(module.register_forward_hook(lambda *_: prof.pop()))

    hook(mbp.lstm, "mbp_lstm")
    hook(agent.policy, "policy")

    restore: list[tuple[Any, str, Any, bool]] = []  # (owner, attribute, old value, was own attr)

    def patch(owner: Any, attr: str, name: str) -> None:
        own = attr in vars(owner)
        old = getattr(owner, attr)
        restore.append((owner, attr, vars(owner)[attr] if own else old, own))
        setattr(owner, attr, prof.wrap(old, name))

    # instance attributes (bound methods wrapped on the instance)
    patch(mbp, "encode", "encoders")
    patch(mbp, "latent", "mbp_prior_posterior")
    patch(mbp, "returns", "return_heads")
    if hasattr(mbp, "interface"):
        patch(mbp, "read_interface", "mbp_interface")
    if mbp.decoders:
        patch(mbp, "reconstruction_losses", "decoders")
    patch(mbp.codec, "to_tensors", "obs_to_tensor")
    patch(agent.policy, "sequence", "policy")
    patch(agent, "step", "agent_step_other")
    patch(agent, "evaluate", "loss_terms")
    patch(tr, "losses", "loss_terms")
    patch(tr.learner, "losses", "loss_terms")
    patch(tr, "_noise", "noise")
    patch(tr.loop, "step", "env_loop_other")
    patch(tr.env, "step", "env_step")
    for opt in (tr.opt_mbp, tr.opt_policy):
        patch(opt, "step", "optimiser")
        patch(opt, "zero_grad", "optimiser")
    # module-level functions and class attributes
    patch(mem_ops, "read", "memory_read")
    patch(mem_ops, "add_usage", "memory_write")
    patch(mem_ops, "write", "memory_write")
    patch(AgentState, "reset", "state_reset")
    patch(torch.nn.utils, "clip_grad_norm_", "grad_clip")
    patch(torch.Tensor, "backward", "backward")
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for owner, attr, old, own in reversed(restore):
            if own:
                setattr(owner, attr, old)
            else:
                delattr(owner, attr)


def summarise(prof: Profiler, segments: int) -> dict[str, Any]:
    """Per-component and per-group ms per segment and fractions."""
    ms = lambda x: 1000.0 * x / segments  # noqa: E731
    seg_ms = ms(sum(prof.phase_time.values()))
    upd_ms = ms(prof.phase_time.get("update", 0.0))
    rnd = lambda x: round(x, 4)  # noqa: E731

    def entry(names: tuple[str, ...]) -> dict[str, Any]:
        per = {p: ms(sum(prof.time.get((p, n), 0.0) for n in names)) for p in PHASES}
        total = sum(per.values())
        return {
            "ms_per_segment": rnd(total),
            "rollout_ms": rnd(per["rollout"]),
            "update_ms": rnd(per["update"]),
            "fraction_of_training": rnd(total / seg_ms) if seg_ms else None,
            "fraction_of_update": rnd(per["update"] / upd_ms) if upd_ms else None,
        }

    components = {}
    for name in COMPONENTS:
        e = entry((name,))
        e["calls_per_segment"] = round(
            sum(prof.calls.get((p, name), 0) for p in PHASES) / segments, 2
        )
        components[name] = e
    return {
        "segments": segments,
        "segment_ms": rnd(seg_ms),
        "rollout_ms": rnd(ms(prof.phase_time.get("rollout", 0.0))),
        "update_ms": rnd(upd_ms),
        "groups": {g: entry(names) for g, names in GROUPS.items()},
        "components": components,
    }


# ---------------------------------------------------------------------------------- measure
def env_steps_per_s(
    env_id: str, num_envs: int, seconds: float, env_kwargs: dict[str, Any] | None = None
) -> float:
    """Raw vector-env steps/s with uniformly random actions (no agent)."""
    env = make_vector_env(env_id, num_envs, env_kwargs)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(20):
            env.step(
                rng.integers(env.single_action_space.n, size=num_envs)
                + int(env.single_action_space.start)
            )
        n += 20 * num_envs
        if time.perf_counter() - t0 >= seconds:
            break
    rate = n / (time.perf_counter() - t0)
    env.close()
    return rate


def measure(
    env: str = DEFAULT_ENV,
    agent: str = "merlin",
    preset: str = "small",
    num_envs: int | None = None,
    device: str = "cpu",
    seconds: float = 30.0,
    updates: int | None = None,
    breakdown_updates: int = 5,
    env_seconds: float = 2.0,
    warmup: int = 2,
    threads: int | None = None,
    seed: int = 0,
    acting: bool = True,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train with the real Trainer and measure it (see the module docstring); returns a dict.

    ``config``: further Config overrides (e.g. ``{"memory_rows": 1350}``).
    ``updates`` (segments) replaces the ``seconds`` budget of the clean timing when given.
    ``breakdown_updates`` 0, ``env_seconds`` 0 or ``acting`` False skip those phases."""
    check_device(device)
    if threads is not None:
        torch.set_num_threads(threads)
    overrides: dict[str, Any] = dict(
        env=env, agent=agent, total_steps=10**12, seed=seed, device=device
    )
    if num_envs is not None:
        overrides["num_envs"] = num_envs
    overrides.update(config or {})
    cfg = make_config(preset, **overrides)
    rss0 = rss_mb()
    with tempfile.TemporaryDirectory(prefix="merlin-throughput-") as tmp:
        tr = Trainer(cfg, run_dir=tmp, progress=False)
        try:
            return _measure(
                tr, cfg, seconds, updates, breakdown_updates, env_seconds, warmup, acting, rss0
            )
        finally:
            tr.env.close()


def _measure(
    tr: Trainer,
    cfg,
    seconds: float,
    updates: int | None,
    breakdown_updates: int,
    env_seconds: float,
    warmup: int,
    acting: bool,
    rss0: float,
) -> dict[str, Any]:
    dev = tr.device
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    steps_per_seg = cfg.tau * tr.local_envs
    n_params = sum(p.numel() for p in tr.agent.parameters())
    out: dict[str, Any] = {
        "benchmark": "throughput",
        "env": cfg.env,
        "agent": cfg.agent,
        "preset": cfg.preset,
        "num_envs": cfg.num_envs,
        "tau": cfg.tau,
        "device": str(dev),
        "parameters": n_params,
        "torch": torch.__version__,
        **thread_info(),
        "machine": machine_info(dev),
        "budget": {
            "seconds": None if updates is not None else seconds,
            "updates": updates,
            "warmup_segments": warmup,
            "breakdown_updates": breakdown_updates,
            "env_seconds": env_seconds,
        },
    }
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)

    # warm-up (first-call allocations, lazy init, compilation with --compile), not timed
    t0 = time.perf_counter()
    for _ in range(warmup):
        tr.update(tr.rollout())
    sync()
    out["compile"] = cfg.compile
    out["warmup_s"] = round(time.perf_counter() - t0, 2)

    # 1. clean timing
    t_roll = t_upd = 0.0
    n = 0
    start = time.perf_counter()
    while n < (updates if updates is not None else 1) or (
        updates is None and time.perf_counter() - start < seconds
    ):
        t0 = time.perf_counter()
        seg = tr.rollout()
        sync()
        t1 = time.perf_counter()
        tr.update(seg)
        sync()
        t2 = time.perf_counter()
        t_roll += t1 - t0
        t_upd += t2 - t1
        n += 1
    del seg
    steps = n * steps_per_seg
    out.update(
        {
            "segments_timed": n,
            "env_steps_timed": steps,
            "train_steps_per_s": round(steps / (t_roll + t_upd), 2),
            "rollout_steps_per_s": round(steps / t_roll, 2),
            "segment_ms": round(1000 * (t_roll + t_upd) / n, 3),
            "rollout_ms_per_segment": round(1000 * t_roll / n, 3),
            "update_ms_per_segment": round(1000 * t_upd / n, 3),
            "update_fraction": round(t_upd / (t_roll + t_upd), 4),
        }
    )

    # 2. acting only, no autograd graph (pure inference through the same rollout code)
    if acting:
        k = max(1, min(n, 5))
        t0 = time.perf_counter()
        with torch.no_grad():
            for _ in range(k):
                tr.rollout()
        sync()
        out["acting_steps_per_s_no_grad"] = round(k * steps_per_seg / (time.perf_counter() - t0), 2)
        tr.state = tr.state.detach()

    # 3. breakdown (not with --compile: the timing wrappers and hooks would make the compiled step
    # recompile and break its graph, so the breakdown would time something else)
    if breakdown_updates > 0 and not tr.cfg.compile:
        prof = Profiler(sync=cuda)
        with instrument(tr, prof):
            for _ in range(breakdown_updates):
                with prof.region("rollout"):
                    seg = tr.rollout()
                with prof.region("update"):
                    tr.update(seg)
        del seg
        bd = summarise(prof, breakdown_updates)
        bd["instrumentation_overhead"] = round(bd["segment_ms"] / out["segment_ms"] - 1, 4)
        out["breakdown"] = bd

    # 4. the environment alone
    share: dict[str, Any] = {}
    if env_seconds > 0:
        rate = env_steps_per_s(cfg.env, tr.local_envs, env_seconds, cfg.env_kwargs)
        out["env_steps_per_s_batched"] = round(rate, 1)
        share["from_raw_env_rate"] = round(out["train_steps_per_s"] / rate, 5)
    if "breakdown" in out:
        share["from_breakdown"] = out["breakdown"]["groups"]["env"]["fraction_of_training"]
    out["env_share"] = share

    out["rss_before_trainer_mb"] = rss0
    out["rss_end_mb"] = rss_mb()
    out["peak_rss_mb"] = max(peak_rss_mb(), out["rss_end_mb"])
    if cuda:
        out["cuda_peak_allocated_mb"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    out["machine"]["load_average_end"] = load_average()
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", default=DEFAULT_ENV)
    p.add_argument("--agent", default="merlin", help="merlin, rl-mem or rl-lstm")
    p.add_argument("--preset", default="small", help="small or paper")
    p.add_argument("--num-envs", type=int, default=None, help="default: the preset's")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    budget = p.add_mutually_exclusive_group()
    budget.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="wall-clock budget of the clean timing (default 30)",
    )
    budget.add_argument(
        "--updates",
        type=int,
        default=None,
        help="time exactly this many segments (rollout + update) instead",
    )
    p.add_argument(
        "--breakdown-updates",
        type=int,
        default=5,
        help="instrumented segments for the per-component breakdown (0: none)",
    )
    p.add_argument(
        "--env-seconds",
        type=float,
        default=2.0,
        help="budget of the raw env-rate measurement (0: none)",
    )
    p.add_argument("--warmup", type=int, default=2, help="untimed segments first")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (default: torch's, i.e. OMP_NUM_THREADS or cores)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the per-step cell (compilation happens in the warm-up)",
    )
    p.add_argument("--memory-rows", type=int, default=None, help="override N (default: preset's)")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=JSON",
        help="further Config overrides, e.g. epochs=1 minibatches=1",
    )
    args = p.parse_args(argv)
    for name in ("updates", "threads"):
        v = getattr(args, name)
        if v is not None and v <= 0:
            p.error(f"--{name} must be a positive integer, got {v}")
    for name in ("breakdown_updates", "warmup"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    if args.seconds <= 0 or args.env_seconds < 0:
        p.error("--seconds must be > 0 and --env-seconds >= 0")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        out = measure(
            env=args.env,
            agent=args.agent,
            preset=args.preset,
            num_envs=args.num_envs,
            device=args.device,
            seconds=args.seconds,
            updates=args.updates,
            breakdown_updates=args.breakdown_updates,
            env_seconds=args.env_seconds,
            warmup=args.warmup,
            threads=args.threads,
            seed=args.seed,
            config={
                **{
                    k: v
                    for k, v in (("compile", args.compile), ("memory_rows", args.memory_rows))
                    if v
                },
                **{k: json.loads(v) for k, v in (x.split("=", 1) for x in args.set)},
            },
        )
    except (ConfigError, EnvError) as e:
        print(f"throughput.py: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
