"""Score stage2e.sh's runs: part 1 (E against D for RL-LSTM on RepeatPrevious and CartPole) and
part 2 (the bandit over seeds 0-2, seed 0 from the popgym_more grid). Markdown out."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

REFS = {
    "RepeatPrevious": (-0.493, 1.0),
    "PositionOnlyCartPole": (0.1138, 1.0),
    "MultiarmedBandit": (-0.0047, 0.8182),
}


def scores(metrics: Path, task: str) -> tuple[float, float]:
    lo, hi = REFS[task]
    rows = list(csv.DictReader(open(metrics)))
    s = [(float(r["episode_return"]) - lo) / (hi - lo) for r in rows]
    return sum(s[-5:]) / len(s[-5:]), sum(s) / len(s)


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main(root: str, grid: str) -> None:
    got: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    print("| run | final | AUC |\n|---|---|---|")
    for p in sorted(Path(root).iterdir()):
        if (p / "metrics.csv").exists() and p.name.count("_") == 3:
            agent, task, name, _ = p.name.split("_")
            f, a = scores(p / "metrics.csv", task)
            got.setdefault((agent, task, name), []).append((f, a))
            print(f"| {p.name} | {f:.3f} | {a:.3f} |")
    d = got.get(("rl-lstm", "RepeatPrevious", "D"), []) + got.get(
        ("rl-lstm", "PositionOnlyCartPole", "D"), []
    )
    e = got.get(("rl-lstm", "RepeatPrevious", "E"), []) + got.get(
        ("rl-lstm", "PositionOnlyCartPole", "E"), []
    )
    if d and e:
        fd, ad = mean([x for x, _ in d]), mean([y for _, y in d])
        fe, ae = mean([x for x, _ in e]), mean([y for _, y in e])
        holds = fe >= fd + 0.10 and ae >= ad - 0.05
        print(
            f"\n- Part 1, E: {'HOLDS' if holds else 'does not hold'} ({len(e)} runs; final {fe:.3f}"
            f" against D's {fd:.3f} + 0.10; AUC {ae:.3f} against D's {ad:.3f} - 0.05)"
        )
    finals = {}
    for agent in ("merlin", "rl-lstm"):
        seed0 = Path(grid) / f"{agent}__popgym-MultiarmedBanditEasy-v0__s0" / "metrics.csv"
        runs = [f for f, _ in got.get((agent, "MultiarmedBandit", "D"), [])]
        if seed0.exists():
            runs.append(scores(seed0, "MultiarmedBandit")[0])
        finals[agent] = runs
    if all(finals.values()):
        fm, fl = mean(finals["merlin"]), mean(finals["rl-lstm"])
        print(
            f"- Part 2, the bandit over {len(finals['merlin'])} seeds: MERLIN {fm:.3f}, RL-LSTM"
            f" {fl:.3f}: the miss is {'REAL' if fm < fl - 0.05 else 'not real'} by the reading"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
