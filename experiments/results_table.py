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
agree, so that no figure in the table is edited by hand. A document may hold several such blocks
(one per grid); ``--update`` replaces the one whose first ARG is this call's first argument.
A file given as ``FILE@AGENT,AGENT`` gives those agents' rows only (e.g. MERLIN's rows of one
grid beside the ablations of another).

    python experiments/results_table.py --diagnostics docs/runs/paper_suite [--update DOC]

prints (or writes between ``<!-- diagnostics-table: ARGS -->`` and ``<!-- diagnostics-table:
end -->``) what the agents' losses were at the end of the finished runs under a grid directory:
per task and agent, the mean over seeds of each run's last 10% of log rows of the KL, of each
reconstruction term, of the return loss and of the policy's entropy.

    python experiments/results_table.py --milestones 200000,500000,1000000 docs/runs/long_budget

prints (or writes between ``<!-- milestones-table: ARGS -->`` and ``<!-- milestones-table:
end -->``) each task and agent's normalised score and return at those env steps, for the runs
under a grid directory that has a summary.csv (which gives each task's random and maximum
return): at a milestone M a run's score is the mean return of the last 10% of its log rows up to
the first row at or past M (the final score's rule, applied to the run cut at M), then the mean
(+- std) over seeds; "—" where no run got that far. Unfinished runs count up to where they got;
tasks with no finished run (not in summary.csv yet) are left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

HEADER = (
    "| task | agent | seeds | final return | normalised score | "
    "env steps to {thr} | wall time to {thr} |\n"
    "|---|---|---|---|---|---|---|"
)
BEGIN, END = "<!-- results-table: ", "<!-- results-table: end -->"
DIAG_BEGIN, DIAG_END = "<!-- diagnostics-table: ", "<!-- diagnostics-table: end -->"
MILE_BEGIN, MILE_END = "<!-- milestones-table: ", "<!-- milestones-table: end -->"
DIAG_HEADER = (
    "| task | agent | seeds | KL (nats) | reconstruction terms | return loss | policy entropy |\n"
    "|---|---|---|---|---|---|---|"
)


def _num(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _pm(mean: str, std: str, digits: int, seeds: int = 2) -> str:
    """The mean ± std, or the mean alone for one seed (whose std says nothing)."""
    m, s = _num(mean), _num(std)
    if m is None:
        return "—"
    if seeds == 1:
        return f"{m:.{digits}f}"
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
    """The rows of the summary.csv files ``paths``; ``FILE@AGENT,AGENT`` keeps those agents'."""
    rows = []
    for p in paths:
        agents = None
        if "@" in p and not Path(p).exists():
            p, _, names = p.rpartition("@")
            agents = set(names.split(","))
        with open(p, newline="", encoding="utf-8") as f:
            kept = [r for r in csv.DictReader(f) if agents is None or r["agent"] in agents]
        if agents is not None and not agents <= {r["agent"] for r in kept}:
            missing = sorted(agents - {r["agent"] for r in kept})
            raise ValueError(f"{p} has no rows of agent {', '.join(missing)}")
        rows.extend(kept)
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
            seeds = int(_num(r.get("seeds")) or 0)
            lines.append(
                "| {task} | {agent} | {seeds} | {final} | {score} | {steps} | {wall} |".format(
                    task=task.removeprefix("merlin_rl/"),
                    agent=r["agent"],
                    seeds=r["seeds"],
                    final=_pm(r["final_return_mean"], r["final_return_std"], 3, seeds),
                    score=_pm(r.get("normalised_mean", ""), r.get("normalised_std", ""), 2, seeds),
                    steps=_reach(r, "steps_to_threshold_mean", ""),
                    wall=_reach(r, "wall_to_threshold_mean", " s"),
                )
            )
    return "\n".join(lines) + "\n"


def _tail_mean(rows: list[dict[str, str]], column: str) -> float | None:
    """Mean of ``column`` over the last 10% of ``rows`` (at least one), blanks skipped."""
    values = [_num(r.get(column)) for r in rows[-max(1, len(rows) // 10) :]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _seed_mean(values: list[float | None], digits: int) -> str:
    values = [v for v in values if v is not None]
    return f"{sum(values) / len(values):.{digits}f}" if values else "—"


def diagnostics(grid_dir: str) -> str:
    """The markdown table of the losses at the end of the finished runs under ``grid_dir`` (run
    directories with config.json, metrics.csv and final.pt or finished.json), tasks and agents
    in the order of the directory's summary.csv (where there is one), then by name."""
    runs = _runs(grid_dir)
    lines = [DIAG_HEADER]
    for (env, agent), seeds in runs.items():
        recon = [c for c in seeds[0][0] if c.startswith("loss/recon_")]
        terms = ", ".join(
            f"{c.removeprefix('loss/recon_').split(':')[0]} "
            + _seed_mean([_tail_mean(rows, c) for rows in seeds], 3)
            for c in recon
        )
        lines.append(
            f"| {env.removeprefix('merlin_rl/')} | {agent} | {len(seeds)} | "
            f"{_seed_mean([_tail_mean(rows, 'loss/kl') for rows in seeds], 2)} | "
            f"{terms or '—'} | "
            f"{_seed_mean([_tail_mean(rows, 'loss/return') for rows in seeds], 3)} | "
            f"{_seed_mean([_tail_mean(rows, 'loss/entropy') for rows in seeds], 2)} |"
        )
    return "\n".join(lines) + "\n"


def _runs(grid_dir: str, finished_only: bool = True) -> dict[tuple[str, str], list]:
    """(env, agent) -> the log rows of each run under ``grid_dir``, tasks and agents in the order
    of the directory's summary.csv (where there is one), then by name."""
    from merlin_rl.experiment import is_finished

    runs: dict[tuple[str, str], list[list[dict[str, str]]]] = {}
    for d in sorted(Path(grid_dir).iterdir()):
        if not (d.is_dir() and (d / "metrics.csv").exists() and (d / "config.json").exists()):
            continue
        if finished_only and not is_finished(d):
            continue
        config = json.loads((d / "config.json").read_text())
        with open(d / "metrics.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if rows:
            runs.setdefault((config["env"], config["agent"]), []).append(rows)
    summary = Path(grid_dir) / "summary.csv"
    order = [(r["env"], r["agent"]) for r in read_rows([str(summary)])] if summary.exists() else []
    cells = [c for c in order if c in runs] + sorted(c for c in runs if c not in order)
    tasks = list(dict.fromkeys(env for env, _ in cells))
    cells.sort(key=lambda c: tasks.index(c[0]))  # stable: each task's agents stay in order
    return {c: runs[c] for c in cells}


def milestones(grid_dir: str, steps: list[int]) -> str:
    """The markdown table of each task and agent's normalised score (and return) at the env
    steps ``steps``, from the runs under ``grid_dir`` (see the module docstring)."""
    summary = Path(grid_dir) / "summary.csv"
    if not summary.exists():
        raise ValueError(f"{summary} is missing (run `merlin-rl experiment GRID --summarise`)")
    refs = {
        r["env"]: (_num(r.get("random_return")), _num(r.get("max_return")))
        for r in read_rows([str(summary)])
    }
    lines = [
        "| task | agent | seeds | " + " | ".join(f"at {m:,}" for m in steps) + " |",
        "|---|---|---|" + "---|" * len(steps),
    ]
    for (env, agent), seeds in _runs(grid_dir, finished_only=False).items():
        if env not in refs:  # no run of this task has finished: not summarised yet
            continue
        low, high = refs[env]
        if low is None or high is None or high == low:
            raise ValueError(f"{summary} gives no random and maximum return for {env}")
        cells = []
        for m in steps:
            finals = []
            for rows in seeds:
                at = [int(float(r["env_steps"])) for r in rows]
                upto = next((i + 1 for i, s in enumerate(at) if s >= m), None)
                if upto is not None:
                    finals.append(_tail_mean(rows[:upto], "episode_return"))
            finals = [f for f in finals if f is not None]
            if not finals:
                cells.append("—")
                continue
            scores = [(f - low) / (high - low) for f in finals]
            spread = f" ± {statistics.stdev(scores):.2f}" if len(scores) > 1 else ""
            mean_s, mean_r = statistics.mean(scores), statistics.mean(finals)
            some = f"; {len(finals)} of {len(seeds)} runs" if len(finals) < len(seeds) else ""
            cells.append(f"{mean_s:.2f}{spread} ({mean_r:.2f}{some})")
        lines.append(
            f"| {env.removeprefix('merlin_rl/')} | {agent} | {len(seeds)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def blocks_in(
    doc: str, begin: str = BEGIN, end: str = END
) -> list[tuple[list[str], str, int, int]]:
    """Every block between ``begin`` ARGS --> and ``end`` in ``doc``: (ARGS, the table, the
    offset of its begin marker, the offset of its end marker)."""
    out, pos = [], 0
    while (start := doc.find(begin, pos)) >= 0:
        line_end = doc.index("-->", start)
        args = doc[start + len(begin) : line_end].split()
        stop = doc.index(end, line_end)
        out.append((args, doc[doc.index("\n", line_end) + 1 : stop], start, stop))
        pos = stop + len(end)
    return out


def block_in(doc: str, begin: str = BEGIN, end: str = END) -> tuple[list[str], str]:
    """(ARGS, the table) of the first block between ``begin`` ARGS --> and ``end`` in ``doc``."""
    blocks = blocks_in(doc, begin, end)
    if not blocks:
        raise ValueError(f"no {begin!r} block")
    return blocks[0][0], blocks[0][1]


def _fail(message: str) -> None:
    """Bad input: one line on stderr, exit status 2."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "summaries", nargs="+", help="summary.csv files (with --diagnostics: one grid directory)"
    )
    p.add_argument(
        "--diagnostics",
        action="store_true",
        help="the losses at the end of the runs of a grid directory instead of the results",
    )
    p.add_argument(
        "--update",
        metavar="DOC",
        help="replace the results-table block of this markdown file instead of printing",
    )
    p.add_argument(
        "--milestones",
        metavar="STEPS",
        help="comma-separated env steps: each agent's score there, from one grid directory",
    )
    a = p.parse_args()
    if (a.diagnostics or a.milestones) and len(a.summaries) != 1:
        _fail(
            f"results_table: --diagnostics/--milestones take one grid directory, not {a.summaries}"
        )
    args = list(a.summaries)
    try:
        if a.milestones:
            parts = a.milestones.split(",")
            steps = [int(x) for x in parts if x.strip().isdigit()]
            if len(steps) != len(parts) or min(steps) < 1:
                raise ValueError(f"--milestones must be positive env steps, got {a.milestones!r}")
            begin, end, args = MILE_BEGIN, MILE_END, [*args, ",".join(map(str, steps))]
            text = milestones(a.summaries[0], steps)
        elif a.diagnostics:
            begin, end, text = DIAG_BEGIN, DIAG_END, diagnostics(a.summaries[0])
        else:
            begin, end, text = BEGIN, END, table(a.summaries)
    except (OSError, KeyError, ValueError) as e:
        _fail(f"results_table: cannot make the table of {a.summaries}: {e}")
    if not a.update:
        sys.stdout.write(text)
        return
    doc = Path(a.update).read_text()
    try:
        blocks = blocks_in(doc, begin, end)
    except ValueError:
        blocks = []  # a begin marker without its end
    mine = [b for b in blocks if b[0][:1] == a.summaries[:1]]
    if not mine:
        _fail(
            f"results_table: {a.update!r} has no '{begin}{a.summaries[0]} ... -->' ... '{end}' "
            f"block (its blocks: {[' '.join(b[0]) for b in blocks]})"
        )
    _, _, start, stop = mine[0]
    head = f"{begin}{' '.join(args)} -->\n"
    Path(a.update).write_text(doc[:start] + head + text + doc[stop:])
    print(f"results_table: updated {a.update}")


if __name__ == "__main__":
    main()
