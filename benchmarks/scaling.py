"""Training env steps/s with P = 1, 2, ... processes on this machine (torchrun, gloo on CPU), as JSON.

    python benchmarks/scaling.py [--procs 1 2] [--total-steps 64000] [--num-envs 32]
                                 [--threads-per-proc T] [-- extra train flags]

Each run is `torchrun --standalone --nproc_per_node=P -m merlin_rl train ...` on the default task
with the same global batch (--num-envs split over the ranks); threads per rank = cores // P.
Parallel efficiency = (steps/s with P) / (P * steps/s with 1).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile


def run(
    procs: int, total_steps: int, num_envs: int, extra: list[str], threads: int | None = None
) -> dict:
    threads = threads or max(1, (os.cpu_count() or 1) // procs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={procs}",
            "-m",
            "merlin_rl",
            "train",
            "--total-steps",
            str(total_steps),
            "--num-envs",
            str(num_envs),
            "--run-dir",
            f"{tmp}/run",
            "--no-progress",
            "--log-interval",
            str(total_steps),
            *extra,
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise SystemExit(f"P={procs} failed:\n{res.stderr[-2000:]}")
        summary = json.loads(res.stdout.strip().splitlines()[-1])
    return {
        "procs": procs,
        "threads_per_proc": threads,
        "steps_per_s": summary["fps"],
        "wall_time_s": summary["wall_time"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--total-steps", type=int, default=64_000)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--threads-per-proc", type=int, default=None, help="default: cores // P")
    p.add_argument("extra", nargs="*", help="extra `merlin-rl train` flags (after --)")
    args = p.parse_args()
    rows = [
        run(n, args.total_steps, args.num_envs, args.extra, args.threads_per_proc)
        for n in args.procs
    ]
    base = next((r["steps_per_s"] for r in rows if r["procs"] == 1), None)
    for r in rows:
        if base:
            r["speedup"] = r["steps_per_s"] / base
            r["parallel_efficiency"] = r["speedup"] / r["procs"]
    print(
        json.dumps(
            {
                "cpu_count": os.cpu_count(),
                "num_envs": args.num_envs,
                "total_steps": args.total_steps,
                "runs": rows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
