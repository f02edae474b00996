"""Score stage2.sh's runs: per run final and AUC (normalised with the task's declared random and
maximum return), the means per task and setting, and the rule's verdict. Markdown out."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REFS = {"ColourMatch": (0.25, 1.0), "RepeatSymbol": (-0.5, 1.0)}


def scores(path: Path, task: str) -> tuple[float, float]:
    lo, hi = REFS[task]
    rows = list(csv.DictReader(open(path / "metrics.csv")))
    s = [(float(r["episode_return"]) - lo) / (hi - lo) for r in rows]
    return sum(s[-5:]) / len(s[-5:]), sum(s) / len(s)


def main(root: str, setting: str) -> None:
    runs = {}
    print("| run | final | AUC |\n|---|---|---|")
    for p in sorted(Path(root).iterdir()):
        if (p / "metrics.csv").exists():
            task, name, _ = p.name.split("_")
            runs.setdefault((task, name), []).append(scores(p, task))
            f, a = runs[(task, name)][-1]
            print(f"| {p.name} | {f:.3f} | {a:.3f} |")
    print("\n| task | setting | runs | mean final | mean AUC |\n|---|---|---|---|---|")
    keeps = []
    for task in REFS:
        means = {}
        for name in ("D", setting):
            got = runs.get((task, name), [])
            if got:
                means[name] = (sum(f for f, _ in got) / len(got), sum(a for _, a in got) / len(got))
                print(
                    f"| {task} | {name} | {len(got)} | {means[name][0]:.3f} | {means[name][1]:.3f} |"
                )
        if len(means) == 2:
            keeps.append(
                means[setting][0] >= means["D"][0] - 0.05
                and means[setting][1] >= means["D"][1] - 0.05
            )
        else:
            keeps.append(False)
    print(
        f"\n- {setting}: {'KEEPS' if all(keeps) else 'does not keep'} the home tasks "
        f"(ColourMatch {'yes' if keeps[0] else 'no'}, RepeatSymbol {'yes' if keeps[1] else 'no'})"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
