"""The logged return against the checkpoint's frozen eval on the suite (forty-seventh session;
a measurement, no rule). The forty-sixth session found that on POPGym RepeatFirstMedium, whose
415-step episodes span ~21 updates, the logged return counts what the policy learns within an
episode, and a final checkpoint can score far below it. Here: the 42 RL-MEM and RL-LSTM final
checkpoints of the built-in tasks in runs/paper_suite_ablation_lr (the grid's ablation cells;
MERLIN's grid checkpoints are not on this machine), each `merlin-rl eval --episodes 128 --seed
12345`, normalised with the task's references, beside the run's logged final (the last 10% of
its log rows, as the grid's summary).

    python docs/runs/learning/session47/logged_vs_frozen.py eval   # appends logged_vs_frozen.jsonl
    python docs/runs/learning/session47/logged_vs_frozen.py read
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from merlin_rl.experiment import env_references, read_grid, run_dir_for, summary_row

HERE = Path(__file__).parent
OUT = HERE / "logged_vs_frozen.jsonl"
GRID = "experiments/paper_suite_ablation_lr.yaml"


def cells():
    g = read_grid(GRID)
    for env in g.envs:
        if not env.startswith("merlin_rl/"):
            continue
        refs = env_references(g, env)
        for agent in g.agents:
            for seed in g.seeds:
                d = run_dir_for(g, agent, env, seed)
                if (d / "checkpoints" / "final.pt").exists():
                    yield agent, env, seed, d, refs


def evaluate() -> None:
    done = {json.loads(x)["checkpoint"] for x in OUT.open()} if OUT.exists() else set()
    for agent, env, seed, d, refs in cells():
        ckpt = str(d / "checkpoints" / "final.pt")
        if ckpt in done:
            continue
        cmd = ["merlin-rl", "eval", "--checkpoint", ckpt, "--episodes", "128", "--seed", "12345"]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        row = summary_row(agent, env, [d], None, refs, 0.9)
        res.update(
            seed=seed,
            frozen=(res["mean_return"] - refs[0]) / (refs[1] - refs[0]),
            logged=row["normalised_mean"],
        )
        with OUT.open("a") as f:
            f.write(json.dumps(res) + "\n")
        print(agent, env, seed, round(res["frozen"], 3), round(res["logged"], 3), flush=True)


def read() -> None:
    rows = [json.loads(x) for x in OUT.open()]
    print(f"{'agent':8s} {'task':34s} {'logged':>7s} {'frozen':>7s} {'gap':>7s}  (means over seeds)")
    gaps = []
    for key in sorted({(r["agent"], r["env"]) for r in rows}):
        rs = [r for r in rows if (r["agent"], r["env"]) == key]
        lg, fz = np.mean([r["logged"] for r in rs]), np.mean([r["frozen"] for r in rs])
        gaps += [r["logged"] - r["frozen"] for r in rs]
        print(f"{key[0]:8s} {key[1]:34s} {lg:7.3f} {fz:7.3f} {lg - fz:+7.3f}")
    g = np.array(gaps)
    print(f"{len(g)} runs: logged - frozen mean {g.mean():+.3f}, |gap| mean {np.abs(g).mean():.3f}, "
          f"largest {g.max():+.3f} / {g.min():+.3f}")


if __name__ == "__main__":
    {"eval": evaluate, "read": read}[sys.argv[1] if len(sys.argv) > 1 else "read"]()
