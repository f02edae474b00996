"""Plot episode return against wall-clock time and env steps from runs' metrics.csv files.

python experiments/plot_curves.py --out docs/colour_match_curves.png LABEL=RUN_DIR [LABEL=RUN_DIR ...]
"""

from __future__ import annotations

import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(run_dir: str) -> dict[str, list[float]]:
    with open(f"{run_dir}/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    keys = ("env_steps", "wall_time", "episode_return")
    return {k: [float(r[k]) for r in rows] for k in keys}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", help="LABEL=RUN_DIR")
    p.add_argument("--out", required=True)
    p.add_argument("--max-return", type=float, default=1.0)
    p.add_argument("--random-return", type=float, default=0.25)
    args = p.parse_args()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for spec in args.runs:
        label, run_dir = spec.split("=", 1)
        m = read_metrics(run_dir)
        axes[0].plot([t / 60 for t in m["wall_time"]], m["episode_return"], label=label)
        axes[1].plot([s / 1e6 for s in m["env_steps"]], m["episode_return"], label=label)
    for ax, xl in zip(axes, ("wall-clock minutes (2-core CPU)", "env steps (millions)")):
        ax.axhline(args.max_return, color="grey", ls="--", lw=0.8)
        ax.axhline(0.9 * args.max_return, color="green", ls=":", lw=0.8, label="90% of max")
        ax.axhline(args.random_return, color="grey", ls=":", lw=0.8, label="random")
        ax.set_xlabel(xl)
        ax.set_ylabel("episode return")
        low = min(0.0, args.random_return)
        ax.set_ylim(low - 0.05 * (args.max_return - low), 1.05 * args.max_return)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
