"""Reading (i) of experiments/paper_suite_ablation_lr.yaml, written (forty-fourth session) before
any of its cells finished: the ablations' mean normalised final score over the grid's 48 cells
under `--ablation-mbp-lr policy` against the same cells of docs/runs/paper_suite (under `mbp`).
(i) holds if new >= old - 0.02 with all 48 cells finished. While the grid is incomplete it prints
the paired comparison over the cells finished so far (same agent, task and seed in both grids)
and says that no verdict is read yet. Scores come from merlin_rl.experiment.summary_row, the
runner's own final (the last 10% of log rows) and references.

    python docs/runs/learning/session44/reading_i.py [NEW_DIR]   (default: the kept folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

from merlin_rl.experiment import env_references, is_finished, read_grid, summary_row

ROOT = Path(__file__).resolve().parents[4]
MARGIN = 0.02


def score(run: Path, refs: tuple[float, float]) -> float | None:
    row = summary_row("a", "e", [run], None, refs, 0.9)
    if row is None or row["normalised_mean"] == "":
        return None
    return float(row["normalised_mean"])


def main(new_dir: str | None) -> None:
    grid = read_grid(ROOT / "experiments" / "paper_suite_ablation_lr.yaml")
    new_root = Path(new_dir) if new_dir else ROOT / "docs" / "runs" / "paper_suite_ablation_lr"
    # the cells under `mbp` were docs/runs/paper_suite's until the verdict (forty-fifth session,
    # reading_i.txt beside session45's files); since then that grid holds these cells, and the old
    # ones are kept in docs/runs/paper_suite_ablation_mbp
    old_root = ROOT / "docs" / "runs" / "paper_suite_ablation_mbp"
    pairs, total = [], 0
    print(
        "| agent | task | seed | mbp (old) | policy (new) | new - old |\n|---|---|---|---|---|---|"
    )
    for env in grid.envs:
        refs = env_references(grid, env)
        for agent in grid.agents:
            for seed in grid.seeds:
                total += 1
                name = f"{agent}__{env.replace('/', '_')}__s{seed}"
                new, old = new_root / name, old_root / name
                if not (is_finished(new) and is_finished(old)):
                    continue
                o, n = score(old, refs), score(new, refs)
                if o is None or n is None:
                    continue
                pairs.append((o, n))
                print(
                    f"| {agent} | {env.split('/')[-1]} | {seed} | {o:.3f} | {n:.3f} | {n - o:+.3f} |"
                )
    if not pairs:
        print(f"\nNo finished cell yet (0 of {total}).")
        return
    mo = sum(o for o, _ in pairs) / len(pairs)
    mn = sum(n for _, n in pairs) / len(pairs)
    print(
        f"\n{len(pairs)} of {total} cells: mean under mbp {mo:.3f}, under policy {mn:.3f} ({mn - mo:+.3f})"
    )
    if len(pairs) < total:
        print("Reading (i): not read yet (the grid is not complete).")
    else:
        holds = mn >= mo - MARGIN
        print(
            f"Reading (i): {'HOLDS' if holds else 'does not hold'} ({mn:.3f} against {mo:.3f} - {MARGIN})"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
