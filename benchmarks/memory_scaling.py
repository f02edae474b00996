"""Cost of the external memory per step: read (K^r heads) + usage + write with retroactive update,
forward and backward, for N memory rows and B environments; JSON out.

    python benchmarks/memory_scaling.py [--rows 64 256 1024 1350 4096 8192] [--envs 1 16 256]
                                        [--z-dim 200] [--heads 3] [--steps 20]

Each measurement runs ``--steps`` steps as one truncation window (the graph kept, one backward),
with every row written (a full memory, so reads see all N rows). Reports ms per step, the slope
and R^2 of a linear fit of cost against N (for N >= 256) per B, the ratio N=1350 / N=256, and the
memory saved for backward by one window at fixed N after episodes of different lengths (it
must not depend on how long the episode has been running).

``--end-to-end`` adds the cost that matters to a user: training env steps/s of the whole agent
(rollout + update, default task) with N = 256 and N = 1350 rows at B = 16, for the paper preset
(|z| = 200, 64x64 images, B = 16), the small preset, and the small preset with |z| = 200, and the
ratio of the per-step costs.
"""

from __future__ import annotations

import argparse
import json
import time

import sys
from pathlib import Path

import numpy as np
import torch

from merlin_rl import memory as mem_ops
from merlin_rl.memory import MemoryState


def full_memory(b: int, n: int, width: int) -> MemoryState:
    mem = MemoryState.zeros(b, n, width)
    mem.M.normal_()
    mem.written.fill_(True)
    mem.count.fill_(n)
    mem.usage.uniform_()
    return mem


def window(
    mem: MemoryState, z: torch.Tensor, keys: torch.Tensor, beta: torch.Tensor, gamma: float = 0.96
) -> torch.Tensor:
    loss = torch.zeros(())
    for t in range(z.shape[0]):
        reads, w = mem_ops.read(mem, keys[t], beta[t])
        mem = mem_ops.add_usage(mem, w)
        mem = mem_ops.write(mem, z[t], gamma)
        loss = loss + reads.square().mean()
    return loss


def time_step(b: int, n: int, z_dim: int, heads: int, steps: int, repeats: int) -> float:
    width = 2 * z_dim
    best = float("inf")
    for _ in range(repeats):
        mem = full_memory(b, n, width)
        z = torch.randn(steps, b, z_dim, requires_grad=True)
        keys = torch.randn(steps, b, heads, width, requires_grad=True)
        beta = torch.rand(steps, b, heads, requires_grad=True)
        t0 = time.perf_counter()
        window(mem, z, keys, beta).backward()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best * 1000


def linear_fit(x: list[float], y: list[float]) -> tuple[float, float]:
    """Slope and R^2 of a least-squares line."""
    xs, ys = np.array(x), np.array(y)
    slope, icpt = np.polyfit(xs, ys, 1)
    pred = slope * xs + icpt
    r2 = 1 - ((ys - pred) ** 2).sum() / max(((ys - ys.mean()) ** 2).sum(), 1e-30)
    return float(slope), float(r2)


def end_to_end(seconds: float) -> dict:
    """Training env steps/s of the full agent with 256 and 1350 memory rows at B = 16."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from throughput import measure

    out = {}
    runs = (
        ("paper_preset", "paper", {}),  # |z| = 200, 64x64 images, B = 16 (DESIGN §3)
        ("small_preset_z32", "small", {"z_dim": 32}),
        ("small_preset_z200", "small", {"z_dim": 200}),
    )
    for label, preset, extra in runs:
        rate = {
            n: measure(
                preset=preset,
                num_envs=16,
                seconds=seconds,
                breakdown_updates=0,
                env_seconds=0,
                acting=False,
                warmup=1,
                config={"memory_rows": n, **extra},
            )["train_steps_per_s"]
            for n in (256, 1350)
        }
        out[label] = {
            "steps_per_s_256": rate[256],
            "steps_per_s_1350": rate[1350],
            "cost_ratio_1350_vs_256": round(rate[256] / rate[1350], 3),
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rows", type=int, nargs="+", default=[64, 256, 512, 1024, 1350, 2048, 4096, 8192]
    )
    p.add_argument("--envs", type=int, nargs="+", default=[1, 16, 64, 256])
    p.add_argument("--z-dim", type=int, default=200)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument(
        "--max-elements",
        type=float,
        default=4e8,
        help="skip (B, N) pairs whose window would hold more floats than this",
    )
    p.add_argument(
        "--end-to-end",
        action="store_true",
        help="also time whole training steps with N = 256 and 1350 rows at B = 16",
    )
    p.add_argument("--seconds", type=float, default=20.0, help="timing budget per end-to-end run")
    args = p.parse_args()
    width = 2 * args.z_dim
    results, fits = [], {}
    for b in args.envs:
        xs, ys = [], []
        for n in args.rows:
            if b * n * width * args.steps * 4 > args.max_elements:
                continue
            ms = time_step(b, n, args.z_dim, args.heads, args.steps, args.repeats)
            results.append({"envs": b, "rows": n, "ms_per_step": round(ms, 4)})
            if n >= 256:
                xs.append(n)
                ys.append(ms)
        if len(xs) >= 3:
            slope, r2 = linear_fit(xs, ys)
            fits[str(b)] = {
                "ms_per_1000_rows": round(1000 * slope, 4),
                "r2": round(r2, 4),
                "rows": xs,
            }
    by = {(r["envs"], r["rows"]): r["ms_per_step"] for r in results}
    ratio = (by[(16, 1350)] / by[(16, 256)]) if (16, 1350) in by and (16, 256) in by else None
    # autograd memory of one tau-step window at fixed N after an episode has run for A steps:
    # the state carried between windows is detached, so A must not matter
    footprint = []
    for age in (0, 200, 2000):
        mem = full_memory(4, 256, width)
        mem.count.fill_(0)
        mem.written.fill_(False)
        with torch.no_grad():
            for _ in range(age):
                mem = mem_ops.write(mem, torch.randn(4, args.z_dim), 0.96)
        mem = mem.detach()
        z = torch.randn(args.steps, 4, args.z_dim, requires_grad=True)
        keys = torch.randn(args.steps, 4, args.heads, width, requires_grad=True)
        beta = torch.rand(args.steps, 4, args.heads, requires_grad=True)
        saved: list[int] = []

        def pack(x, saved=saved):
            saved.append(x.numel() * x.element_size())
            return x

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda x: x):
            window(mem, z, keys, beta)
        footprint.append({"episode_steps_before": age, "saved_mb": round(sum(saved) / 2**20, 2)})
    e2e = end_to_end(args.seconds) if args.end_to_end else None
    print(
        json.dumps(
            {
                "end_to_end_training_b16": e2e,
                "z_dim": args.z_dim,
                "heads": args.heads,
                "window_steps": args.steps,
                "threads": torch.get_num_threads(),
                "results": results,
                "linear_fit": fits,
                "ratio_1350_vs_256_rows_at_16_envs": None if ratio is None else round(ratio, 3),
                "saved_for_backward_per_window_b4_n256": footprint,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
