"""The tenth session's calibration (seed 100): MERLIN with the defaults of the time against
`--policy-epochs 8 --lr-policy 5e-4`, per suite task.

python docs/runs/learning/calibration10/figure.py docs/learning_policy_epochs_suite.png
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = Path(__file__).resolve().parent
LEARNING = HERE.parent
PAIRS = {  # task: (default run, policy-epochs run)
    "KeyToDoor": ("calibration10/kd_def", "calibration10/kd_pe8"),
    "MemoryGame": ("calibration7/mg_dh512", "calibration10/mg_pe8"),
    "VisuomotorMapping": ("calibration7/vm_dh512", "calibration10/vm_pe8"),
    "InstructedGoal": ("calibration10/ig_def", "calibration10/ig_pe8"),
    "ActiveVisualMatch": ("calibration7/avm_dh512", "calibration9/avm_pe17_lr5e4"),
    "ColourMatch": ("calibration7/cm_dh512", "calibration9/cm_pe17_lr5e4"),
}


def curve(run: str) -> tuple[list[int], list[float]]:
    with open(LEARNING / run / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["episode_return"] not in ("", "nan")]
    return [int(float(r["env_steps"])) for r in rows], [float(r["episode_return"]) for r in rows]


fig, axes = plt.subplots(2, 3, figsize=(13, 7))
for ax, (task, (base, pe)) in zip(axes.flat, PAIRS.items()):
    for run, label in ((base, "defaults (policy epochs 0, lr 2e-3)"), (pe, "policy epochs")):
        if (LEARNING / run / "metrics.csv").is_file():
            x, y = curve(run)
            ax.plot(x, y, label=f"{label}: {run.split('/')[-1]}")
    ax.set(title=f"{task}, seed 100", xlabel="env steps", ylabel="episode return")
    ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(sys.argv[1], dpi=80)
