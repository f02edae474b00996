"""Copy the light files of a `merlin-rl experiment` grid's finished runs (config.json,
metrics.csv, finished.json) and its summary and curves to a folder that is committed (e.g.
docs/runs/paper_suite), leaving the checkpoints and TensorBoard logs behind. Copying that folder
back to the grid's ``out`` in a fresh checkout lets the grid resume: the runner skips every run
with a finished.json.

    python experiments/keep_light.py runs/paper_suite docs/runs/paper_suite
    mkdir -p runs/paper_suite && cp -r docs/runs/paper_suite/. runs/paper_suite/   # fresh checkout
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

LIGHT = ("config.json", "metrics.csv", "finished.json")
SUMMARY = ("summary.csv", "summary.md", "curves.png")


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python experiments/keep_light.py GRID_OUT DEST")
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    if not src.is_dir():
        sys.exit(f"keep_light: {str(src)!r} is not a folder")
    if src.resolve() == dst.resolve():
        sys.exit("keep_light: the source and destination are the same folder")
    kept = 0
    for run in sorted(p for p in src.iterdir() if p.is_dir() and "__s" in p.name):
        done = (run / "checkpoints" / "final.pt").exists()
        if done and not (run / "finished.json").exists() and (run / "config.json").is_file():
            cfg = json.loads((run / "config.json").read_text())  # finished before the marker
            marker = {k: cfg.get(k) for k in ("agent", "env", "seed")}
            (run / "finished.json").write_text(json.dumps(marker) + "\n")
        if not (run / "finished.json").exists():
            continue  # unfinished runs stay behind (their checkpoints are what resumes them)
        missing = [n for n in LIGHT if not (run / n).is_file()]
        if missing:
            print(f"keep_light: skip {run.name}: no {', '.join(missing)}", file=sys.stderr)
            continue
        (dst / run.name).mkdir(parents=True, exist_ok=True)
        for name in LIGHT:
            shutil.copy2(run / name, dst / run.name / name)
        kept += 1
    for name in SUMMARY:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    if (src / "curves").is_dir():
        shutil.copytree(src / "curves", dst / "curves", dirs_exist_ok=True)
    print(json.dumps({"kept_runs": kept, "to": str(dst)}))


if __name__ == "__main__":
    main()
