"""The ninth session's RepeatSymbol calibration (seed 100, RepeatSymbol runs only): return and policy entropy of each run.

python docs/runs/learning/calibration9/figure.py docs/runs/learning/calibration9 docs/learning_repeat_symbol_policy_epochs.png
"""

import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

src, out = Path(sys.argv[1]), sys.argv[2]
plt.rcParams["axes.prop_cycle"] = plt.cycler(color=plt.get_cmap("tab20").colors)
fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2))
for d in sorted(p for p in src.iterdir() if (p / "metrics.csv").is_file()):
    rows = [r for r in csv.DictReader(open(d / "metrics.csv")) if r["episode_return"]]
    x = [int(r["env_steps"]) for r in rows]
    cfg = json.load(open(d / "config.json"))
    if "RepeatSymbol" not in cfg["env"] or cfg["seed"] != 100:
        continue
    style = "-" if d.name.startswith("merlin") else "--"
    (line,) = a.plot(x, [float(r["episode_return"]) for r in rows], style, label=d.name)
    b.plot(x, [float(r["loss/entropy"]) for r in rows], style, color=line.get_color())
a.axhline(-0.5, color="grey", lw=0.8)
a.axhline(0.9, color="grey", lw=0.8, ls=":")
a.set(
    xlabel="env steps", ylabel="episode return (random -0.5, max 1)", title="RepeatSymbol, seed 100"
)
b.set(xlabel="env steps", ylabel="policy entropy (nats)", title="entropy")
a.legend(fontsize=7)
fig.tight_layout()
fig.savefig(out, dpi=90)
