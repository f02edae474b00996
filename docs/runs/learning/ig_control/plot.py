"""The InstructedGoal control curves (docs/learning.md, eighteenth session, part 4).

python docs/runs/learning/ig_control/plot.py   # writes docs/learning_ig_control.png
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).parent
RUNS = {
    "rl_lstm_always_s100": "RL-LSTM, instruction at every step",
    "merlin_always_s100": "MERLIN, instruction at every step",
    "merlin_always_factored_noclip_s100": "MERLIN, every step, factored, MBP unclipped",
    "rl_lstm_one_object_s100": "RL-LSTM, one object (random 0.335)",
    "merlin_one_object_s100": "MERLIN, one object (random 0.335)",
}


def main() -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, label in RUNS.items():
        rows = list(csv.DictReader(open(HERE / name / "metrics.csv")))
        x = [int(r["env_steps"]) for r in rows]
        y = [float(r["episode_return"]) for r in rows]
        ax.plot(x, y, label=label, ls="--" if "one_object" in name else "-")
    ax.axhline(0.26, color="grey", lw=0.8, label="random, three objects (0.26)")
    ax.set_xscale("log")
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return (max 1)")
    ax.set_title("InstructedGoal without memory (seed 100)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE.parents[2] / "learning_ig_control.png", dpi=100)


if __name__ == "__main__":
    main()
