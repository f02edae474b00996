"""The results table of docs/results.md, from the summary.csv files of `merlin-rl experiment`
grids (and of benchmarks/peers/rppo_suite.py, which writes the same columns).

    python experiments/results_table.py docs/runs/paper_suite/summary.csv \\
        docs/runs/paper_suite_peers/summary.csv

One row per task and agent: the final return (mean +- std over seeds), the normalised score
(R - R_random) / (R_max - R_random) (mean +- std over seeds), and the env steps and wall time of
the first log row at or above the threshold (0.9 x the task's maximum return), as the mean over
the seeds that reached it, or "not reached". The grid needs ``threshold_fraction`` for the last
three columns. docs/results.md holds this script's output between the marker lines

    <!-- results-table: ARGS -->  ...  <!-- results-table: end -->

where ARGS are the arguments it was run with; tests/test_results_table.py checks that the two
agree, so that no figure in the table is edited by hand.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

HEADER = (
    "| task | agent | seeds | final return | normalised score | "
    "env steps to {thr} | wall time to {thr} |\n"
    "|---|---|---|---|---|---|---|"
)
BEGIN, END = "<!-- results-table: ", "<!-- results-table: end -->"


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _pm(mean: str, std: str, digits: int) -> str:
    m, s = _num(mean), _num(std)
    if m is None:
        return "—"
    return f"{m:.{digits}f} ± {s:.{digits}f}" if s is not None else f"{m:.{digits}f}"


def _reach(row: dict[str, str], column: str, unit: str) -> str:
    seeds, hit = int(_num(row.get("seeds")) or 0), _num(row.get("seeds_reaching_threshold"))
    value = _num(row.get(column))
    if not seeds or hit is None:
        return "—"
    if not hit or value is None:
        return "not reached"
    text = f"{value:,.0f}{unit}"
    return text if hit == seeds else f"{text} ({int(hit)}/{seeds} seeds)"


def read_rows(paths: list[str]) -> list[dict[str, str]]:
    rows = []
    for p in paths:
        with open(p, newline="", encoding="utf-8") as f:
            rows.extend(csv.DictReader(f))
    return rows


def table(paths: list[str]) -> str:
    """The markdown table of the summary.csv files ``paths``, tasks in their first order."""
    rows = read_rows(paths)
    tasks = list(dict.fromkeys(r["env"] for r in rows))
    fractions = {
        f"{_num(r['threshold']) / _num(r['max_return']):.2g}"
        for r in rows
        if _num(r.get("threshold")) is not None and _num(r.get("max_return"))
    }
    thr = f"{fractions.pop()} x max" if len(fractions) == 1 else "the threshold"
    lines = [HEADER.format(thr=thr)]
    for task in tasks:
        for r in (r for r in rows if r["env"] == task):
            lines.append(
                "| {task} | {agent} | {seeds} | {final} | {score} | {steps} | {wall} |".format(
                    task=task.removeprefix("merlin_rl/"),
                    agent=r["agent"],
                    seeds=r["seeds"],
                    final=_pm(r["final_return_mean"], r["final_return_std"], 3),
                    score=_pm(r.get("normalised_mean", ""), r.get("normalised_std", ""), 2),
                    steps=_reach(r, "steps_to_threshold_mean", ""),
                    wall=_reach(r, "wall_to_threshold_mean", " s"),
                )
            )
    return "\n".join(lines) + "\n"


def block_in(doc: str) -> tuple[list[str], str]:
    """(ARGS, the table) of the results-table block in the text ``doc``."""
    start = doc.index(BEGIN)
    line_end = doc.index("-->", start)
    args = doc[start + len(BEGIN) : line_end].split()
    body = doc[doc.index("\n", line_end) + 1 : doc.index(END, line_end)]
    return args, body


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("summaries", nargs="+", help="summary.csv files")
    p.add_argument(
        "--update",
        metavar="DOC",
        help="replace the results-table block of this markdown file instead of printing",
    )
    a = p.parse_args()
    try:
        text = table(a.summaries)
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f"results_table: cannot make the table of {a.summaries}: {e}")
    if not a.update:
        sys.stdout.write(text)
        return
    doc = Path(a.update).read_text()
    try:
        _, old = block_in(doc)
    except ValueError:
        sys.exit(f"results_table: {a.update!r} has no '{BEGIN}ARGS -->' ... '{END}' block")
    start = doc.index(BEGIN)
    head = f"{BEGIN}{' '.join(a.summaries)} -->\n"
    rest = doc[doc.index(END, start) :]
    Path(a.update).write_text(doc[:start] + head + text + rest)
    print(f"results_table: updated {a.update}")


if __name__ == "__main__":
    main()
