"""Score collapse.sh's runs: final, AUC, first row >= 0.9 and the largest drop after 0.8, per
run and per setting (means over the agent-seed pairs), and the rule's verdict. Markdown out."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

RANDOM, MAX = -0.494, 1.0


def scores(path: Path) -> dict:
    rows = list(csv.DictReader(open(path / "metrics.csv")))
    steps = [int(r["env_steps"]) for r in rows]
    s = [(float(r["episode_return"]) - RANDOM) / (MAX - RANDOM) for r in rows]
    first08 = next((i for i, v in enumerate(s) if v >= 0.8), None)
    drop, peak = 0.0, -1e9
    if first08 is not None:
        for v in s[first08:]:
            peak = max(peak, v)
            drop = max(drop, peak - v)
    reach = next((steps[i] for i, v in enumerate(s) if v >= 0.9), None)
    return {
        "final": sum(s[-5:]) / len(s[-5:]),
        "auc": sum(s) / len(s),
        "reach": reach,
        "drop": drop if first08 is not None else None,
        "steps": steps[-1],
    }


def main(root: str) -> None:
    runs = {p.name: scores(p) for p in sorted(Path(root).iterdir()) if (p / "metrics.csv").exists()}
    print("| run | env steps | final | AUC | first row >= 0.9 | largest drop after 0.8 |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        reach = f"{r['reach']:,}" if r["reach"] else "not reached"
        drop = f"{r['drop']:.2f}" if r["drop"] is not None else "(never 0.8)"
        print(f"| {name} | {r['steps']:,} | {r['final']:.2f} | {r['auc']:.2f} | {reach} | {drop} |")
    means = {}
    for setting in "DAPE":
        got = [r for n, r in runs.items() if f"_{setting}_s" in n]
        if got:
            means[setting] = (
                sum(r["final"] for r in got) / len(got),
                sum(r["auc"] for r in got) / len(got),
                len(got),
            )
    print("\n| setting | runs | mean final | mean AUC |\n|---|---|---|---|")
    for k, (f, a, n) in means.items():
        print(f"| {k} | {n} | {f:.3f} | {a:.3f} |")
    lstm_d = [r for n, r in runs.items() if n.startswith("rl-lstm_D_s")]
    lstm_e = [r for n, r in runs.items() if n.startswith("rl-lstm_E_s")]
    if lstm_d and lstm_e:
        fd, ad = (sum(r[k] for r in lstm_d) / len(lstm_d) for k in ("final", "auc"))
        fe, ae = (sum(r[k] for r in lstm_e) / len(lstm_e) for k in ("final", "auc"))
        lead = fe >= fd + 0.10 and ae >= ad - 0.05
        print(
            f"\n- E (RL-LSTM alone): {'LEAD' if lead else 'no lead'} (final {fe:.3f} against"
            f" its D's {fd:.3f} + 0.10; AUC {ae:.3f} against its D's {ad:.3f} - 0.05)"
        )
    if "D" in means:
        print()
        for k in "AP":
            if k in means:
                lead = means[k][0] >= means["D"][0] + 0.10 and means[k][1] >= means["D"][1] - 0.05
                print(
                    f"- {k}: {'LEAD' if lead else 'no lead'} (final {means[k][0]:.3f} against"
                    f" D's {means['D'][0]:.3f} + 0.10; AUC {means[k][1]:.3f} against"
                    f" D's {means['D'][1]:.3f} - 0.05)"
                )


if __name__ == "__main__":
    main(sys.argv[1])
