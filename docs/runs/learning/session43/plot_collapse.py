"""Figure of collapse.sh's and collapse_e.sh's runs: normalised return against env steps, one
panel per agent and seed, one line per setting (D, A, P, E)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RANDOM, MAX = -0.494, 1.0
LABELS = {
    "D": "D: defaults",
    "A": "A: --advantage-norm off",
    "P": "P: --policy-epochs 4",
    "E": "E: --lr-mbp 5e-4",
}


def main(root: str, out: str) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True, sharey=True)
    for i, agent in enumerate(("merlin", "rl-lstm")):
        for j, seed in enumerate((100, 101)):
            ax = axes[i][j]
            for key, label in LABELS.items():
                p = Path(root) / f"{agent}_{key}_s{seed}" / "metrics.csv"
                if not p.exists():
                    continue
                rows = list(csv.DictReader(open(p)))
                x = [int(r["env_steps"]) for r in rows]
                y = [(float(r["episode_return"]) - RANDOM) / (MAX - RANDOM) for r in rows]
                ax.plot(x, y, label=label)
            ax.set_title(f"{agent}, seed {seed}")
            ax.axhline(0.9, color="grey", lw=0.5, ls="--")
            ax.set_ylim(-0.1, 1.05)
            if i == 1:
                ax.set_xlabel("env steps")
            if j == 0:
                ax.set_ylabel("normalised return")
    axes[0][0].legend(fontsize=8)
    axes[1][0].legend(fontsize=8)
    fig.suptitle("POPGym RepeatFirstEasy: learned, then lost? (calibration seeds)")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
