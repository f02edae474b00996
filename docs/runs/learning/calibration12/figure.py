"""The twelfth session: lambda between 0.5 and 0.9, the return heads' own lambda and the baseline's
z on RepeatSymbol and WaterMaze (seed 100), and RepeatSymbol against RecurrentPPO side by side in
one run (seed 0), in env steps and wall time.

python docs/runs/learning/calibration12/figure.py docs/learning_lambda.png
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LEARNING = Path(__file__).resolve().parent.parent
LAMBDAS = [  # (lambda, RepeatSymbol run, WaterMaze run); today's defaults otherwise
    ("0.9 (default)", "calibration11/rs_ph128_mean", "calibration11/wm_mean_ph128"),
    ("0.8", "calibration12/rs_lam08", "calibration12/wm_lam08"),
    ("0.7", "calibration12/rs_lam07", "calibration12/wm_lam07"),
    ("0.5", "calibration11/rs_mean_ph128_lam05", "calibration11/wm_mean_ph128_lam05"),
    ("0.5, --lam-value 0.9", "calibration12/rs_lam05_lv09", "calibration12/wm_lam05_lv09"),
    ("0.9, --value-input mean", "calibration12/rs_vmean", "calibration12/wm_vmean"),
]
SIDE_BY_SIDE = [
    ("calibration12/rs_s0_def", "MERLIN, defaults"),
    ("calibration12/rs_s0_lam05", "MERLIN, --lam 0.5"),
    ("calibration12/rppo_rs_s0", "RecurrentPPO (sb3-contrib defaults)"),
]


def curve(run: str, x: str = "env_steps") -> tuple[list[float], list[float]]:
    with open(LEARNING / run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["episode_return"] not in ("", "nan")]
    return [float(r[x]) for r in rows], [float(r["episode_return"]) for r in rows]


fig, axes = plt.subplots(1, 4, figsize=(22, 5))
for lam, rs, wm in LAMBDAS:
    axes[0].plot(*curve(rs), label=f"lambda {lam}")
    axes[1].plot(*curve(wm), label=f"lambda {lam}")
for run, label in SIDE_BY_SIDE:
    axes[2].plot(*curve(run), label=label)
    axes[3].plot(*curve(run, "wall_time"), label=label)
titles = [
    "RepeatSymbol, seed 100: lambda",
    "WaterMaze, seed 100: lambda",
    "RepeatSymbol, seed 0, side by side: env steps",
    "RepeatSymbol, seed 0, side by side: wall time",
]
for i, (ax, title) in enumerate(zip(axes, titles)):
    if i != 1:
        ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set(title=title, xlabel="wall time (s)" if i == 3 else "env steps", ylabel="episode return")
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=80)
