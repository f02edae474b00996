"""Soak test: train on the default task for many env steps, sampling resident memory, as JSON.

    python benchmarks/soak.py [--total-steps 1000000] [--every 50000] [--warmup 200000]

Goal: resident memory flat after warm-up (no leak from the graph, the memory state, logging or
checkpoints). Growth is reported from the first sample after ``--warmup`` to the last.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--total-steps", type=int, default=1_000_000)
    p.add_argument("--every", type=int, default=50_000)
    p.add_argument("--warmup", type=int, default=200_000)
    p.add_argument("--agent", default="merlin")
    args = p.parse_args()

    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    with tempfile.TemporaryDirectory() as tmp:
        cfg = make_config(
            "small",
            agent=args.agent,
            total_steps=args.total_steps,
            checkpoint_interval=args.every,
            log_interval=args.every,
        )
        tr = Trainer(cfg, run_dir=tmp, progress=False)
        samples = [{"env_steps": 0, "rss_mb": round(rss_mb(), 1), "wall_s": 0.0}]
        t0, next_sample = time.time(), args.every
        while tr.env_steps < cfg.total_steps:
            tr.update(tr.rollout())
            if tr.env_steps % cfg.checkpoint_interval < cfg.tau * cfg.num_envs:
                tr.checkpoint()  # include checkpoint writing in what is measured
            if tr.env_steps >= next_sample:
                samples.append(
                    {
                        "env_steps": tr.env_steps,
                        "rss_mb": round(rss_mb(), 1),
                        "wall_s": round(time.time() - t0, 1),
                    }
                )
                next_sample += args.every
        tr.env.close()
    after = [s for s in samples if s["env_steps"] >= args.warmup]
    growth = after[-1]["rss_mb"] - after[0]["rss_mb"] if len(after) > 1 else 0.0
    span = (after[-1]["env_steps"] - after[0]["env_steps"]) if len(after) > 1 else 1
    print(
        json.dumps(
            {
                "agent": args.agent,
                "total_steps": args.total_steps,
                "rss_after_warmup_mb": after[0]["rss_mb"] if after else None,
                "rss_final_mb": samples[-1]["rss_mb"],
                "growth_after_warmup_mb": round(growth, 1),
                "growth_mb_per_million_steps": round(growth / span * 1e6, 2),
                "samples": samples,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
