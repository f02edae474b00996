"""The thirteenth session's pre-registered tests (run.sh here and in calibration14): per run and
per arm, RepeatSymbol's mean of the last three log rows and WaterMaze's mean of the last five,
the run's wall time, and the rule's verdict (the first arm is the defaults).

python docs/runs/learning/calibration13/summary.py [RUNS_DIR]   (default: this folder)
python docs/runs/learning/calibration13/summary.py --figure docs/learning_calibration13.png
python docs/runs/learning/calibration13/summary.py runs/calibration14 --arms def,pm4,pm8
"""

import argparse
import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARMS = ["def", "lam08", "vmean"]
SEEDS = [101, 102, 103]
TASKS = {"rs": ("RepeatSymbol, 150k", 3, 150_000), "wm": ("WaterMaze, 200k", 5, 200_000)}


def returns(path: Path) -> list[tuple[float, float]]:
    with open(path / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["episode_return"] not in ("", "nan")]
    return [(float(r["env_steps"]), float(r["episode_return"])) for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description="the thirteenth session's rule, run by run")
    p.add_argument("runs", nargs="?", default=str(HERE), help="folder of the runs")
    p.add_argument("--figure", default="", help="write the figure here")
    p.add_argument("--arms", default=",".join(ARMS), help="comma-separated; the first: defaults")
    args = p.parse_args()
    root = Path(args.runs)
    ARMS[:] = args.arms.split(",")
    table: dict[tuple[str, str], list[float]] = {}
    for task, (_, last, budget) in TASKS.items():
        for arm in ARMS:
            for seed in SEEDS:
                run = root / f"{task}_{arm}_{seed}"
                if not (run / "metrics.csv").exists():
                    continue
                curve = returns(run)
                if not curve or curve[-1][0] < budget:  # still running
                    continue
                final = sum(r for _, r in curve[-last:]) / len(curve[-last:])
                first = next((int(s) for s, r in curve if r >= 0.9), None) if task == "rs" else None
                table.setdefault((task, arm), []).append(final)
                extra = f", 0.9 first at {first:,}" if first else ""
                with open(run / "metrics.csv", newline="") as f:
                    wall = float(list(csv.DictReader(f))[-1]["wall_time"])
                print(
                    f"{task}_{arm}_{seed}: {final:.2f} (last row at {int(curve[-1][0]):,}{extra}; "
                    f"{wall:.0f} s)"
                )
    means = {k: sum(v) / len(v) for k, v in table.items()}
    for (task, arm), m in sorted(means.items()):
        print(f"mean {task} {arm}: {m:.3f} over {len(table[(task, arm)])} seeds")
    if ("rs", ARMS[0]) in means:
        verdicts(table, means)
    if args.figure:
        figure(root, Path(args.figure))


def verdicts(
    table: dict[tuple[str, str], list[float]], means: dict[tuple[str, str], float]
) -> None:
    base = ARMS[0]
    for arm in ARMS[1:]:
        a = means.get(("rs", arm))
        if a is None:
            continue
        ok_a = a >= means[("rs", base)] + 0.10
        verdict = f"{arm}: (a) RS {a:.3f} vs {means[('rs', base)]:.3f} + 0.10: {'pass' if ok_a else 'miss'}"
        if ok_a and ("wm", arm) in means and ("wm", base) in means:
            w, d = means[("wm", arm)], means[("wm", base)]
            ok_b = w >= d - 0.50
            ok_c = min(table[("wm", arm)]) >= 2.50
            verdict += f"; (b) WM {w:.3f} vs {d:.3f} - 0.50: {'pass' if ok_b else 'miss'}"
            verdict += f"; (c) lowest WM seed {min(table[('wm', arm)]):.2f} >= 2.50: {'pass' if ok_c else 'miss'}"
        print(verdict)


def figure(root: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(24, 4.5))
    colours = {"def": "C0", "lam08": "C1", "vmean": "C2"}
    labels = {"def": "defaults (lambda 0.9)", "lam08": "--lam 0.8", "vmean": "--value-input mean"}
    for ax, (task, (title, _, _)) in zip(axes, TASKS.items()):
        for arm in ARMS:
            for i, seed in enumerate(SEEDS):
                run = root / f"{task}_{arm}_{seed}"
                if not (run / "metrics.csv").exists():
                    continue
                x, y = zip(*returns(run))
                colour, label = colours.get(arm, f"C{ARMS.index(arm)}"), labels.get(arm, arm)
                ax.plot(x, y, color=colour, alpha=0.8, label=label if i == 0 else None)
        if task == "rs":
            ax.axhline(0.9, color="grey", lw=0.8, ls="--")
        ax.set(title=f"{title}, seeds 101-103", xlabel="env steps", ylabel="episode return")
        ax.legend(fontsize=8)
    # the check on ColourMatch (seed 100; the defaults' run is the eleventh session's) and the
    # RepeatSymbol runs beside RecurrentPPO (seed 0), in wall time
    learning = HERE.parent
    ax = axes[2]
    for run, label in (
        (learning / "calibration11" / "cm_mean_ph128", "defaults (lambda 0.9), eleventh session"),
        (root / "cm_lam08_100", "--lam 0.8"),
    ):
        if (run / "metrics.csv").exists():
            ax.plot(*zip(*returns(run)), label=label)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set(title="ColourMatch, seed 100", xlabel="env steps", ylabel="episode return")
    ax.legend(fontsize=8)
    ax = axes[3]
    for run, label in (
        (root / "rppo_rs_s0", "RecurrentPPO (sb3-contrib defaults, 8 envs)"),
        (root / "rs_s0_lam05", "MERLIN --lam 0.5"),
        (root / "rs_s0_lam08", "MERLIN --lam 0.8"),
    ):
        if (run / "metrics.csv").exists():
            with open(run / "metrics.csv", newline="") as f:
                rows = [r for r in csv.DictReader(f) if r["episode_return"] not in ("", "nan")]
            ax.plot(
                [float(r["wall_time"]) for r in rows],
                [float(r["episode_return"]) for r in rows],
                label=label,
            )
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set(
        title="RepeatSymbol, seed 0, side by side", xlabel="wall time (s)", ylabel="episode return"
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


if __name__ == "__main__":
    main()
