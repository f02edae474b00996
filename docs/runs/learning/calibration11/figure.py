"""The eleventh session's calibration on RepeatSymbol (seed 100): what MERLIN's policy reads and
how its learner assigns credit, against the tenth-session defaults.

python docs/runs/learning/calibration11/figure.py docs/learning_repeat_symbol_policy_input.png
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
LEARNING = HERE.parent
PANELS = {  # title: [(run, label)]
    "RepeatSymbol, seed 100: the MBP's speed and the policy's size": [
        ("calibration9/merlin_pe8_lr5e4", "defaults (policy reads the sample z_t)"),
        ("calibration11/rs_lrmbp1e3", "--lr-mbp 1e-3"),
        ("calibration11/rs_lrmbp3e4", "--lr-mbp 3e-4"),
        ("calibration11/rs_lrmbp6e3", "--lr-mbp 6e-3"),
        ("calibration11/rs_ph128", "--policy-hidden 128"),
        ("calibration11/rs_ph256", "--policy-hidden 256"),
    ],
    "RepeatSymbol, seed 100: what the policy reads, credit": [
        ("calibration9/merlin_pe8_lr5e4", "defaults (policy reads the sample z_t)"),
        ("calibration11/rs_mean", "--policy-input mean"),
        ("calibration11/rs_lam05", "--lam 0.5"),
        ("calibration11/rs_mean_lam05", "--policy-input mean --lam 0.5"),
        ("calibration11/rs_ph128_mean", "--policy-input mean --policy-hidden 128"),
        ("calibration11/rs_mean_ph128_lam05", "all three (the new defaults)"),
    ],
    "RepeatSymbol, seeds 100-102": [
        ("calibration9/merlin_pe8_lr5e4", "tenth-session defaults, seed 100"),
        ("calibration9/merlin_pe8_lr5e4_s101", "tenth-session defaults, seed 101"),
        ("calibration9/merlin_pe8_lr5e4_s102", "tenth-session defaults, seed 102"),
        ("calibration11/rs_mean_ph128_lam05", "new defaults, seed 100"),
        ("calibration11/rs_mean_ph128_lam05_s101", "new defaults, seed 101"),
        ("calibration11/rs_mean_ph128_lam05_s102", "new defaults, seed 102"),
    ],
    "ColourMatch, seeds 100-101": [
        ("calibration9/cm_pe17_lr5e4", "tenth-session defaults but P = 17, seed 100"),
        ("calibration9/cm_pe8_lr5e4_s101", "tenth-session defaults, seed 101"),
        ("calibration11/cm_mean_ph128", "mean, 2 x 128, seed 100"),
        ("calibration11/cm_mean_ph128_lam05", "new defaults, seed 100"),
        ("calibration11/cm_mean_ph128_lam05_s101", "new defaults, seed 101"),
    ],
    "KeyToDoor, seed 100": [
        ("calibration10/kd_pe8", "tenth-session defaults"),
        ("calibration11/kd_mean_ph128", "mean, 2 x 128"),
        ("calibration11/kd_mean_ph128_lam05", "new defaults"),
    ],
    "WaterMaze, seed 100 (reward after a swim)": [
        ("calibration11/wm_def", "tenth-session defaults (sample, 2 x 64, lambda 0.9)"),
        ("calibration11/wm_lam05", "lambda 0.5"),
        ("calibration11/wm_mean_ph128", "mean, 2 x 128"),
        ("calibration11/wm_mean_ph128_lam05", "mean, 2 x 128, lambda 0.5"),
    ],
}


def curve(run: str) -> tuple[list[int], list[float]]:
    with open(LEARNING / run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["episode_return"] not in ("", "nan")]
    return [int(float(r["env_steps"])) for r in rows], [float(r["episode_return"]) for r in rows]


fig, axes = plt.subplots(2, 3, figsize=(19, 9))
for ax, (title, runs) in zip(axes.flat, PANELS.items()):
    for run, label in runs:
        if (LEARNING / run / "metrics.csv").is_file():
            x, y = curve(run)
            ax.plot(x, y, label=f"{label} ({run.split('/')[-1]})")
    if title.startswith(("RepeatSymbol", "ColourMatch")):
        ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set(title=title, xlabel="env steps", ylabel="episode return")
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=80)
