"""Copy the light files of a `merlin-rl experiment` grid's finished runs (config.json,
metrics.csv, finished.json) and its summary and curves to a folder that is committed (e.g.
docs/runs/paper_suite), leaving the checkpoints and TensorBoard logs behind. A grid file with
``keep`` does this itself as its runs finish, and brings kept runs back into a fresh checkout's
``out``; this script is for a grid without it. Copying that folder back to the grid's ``out`` in a
fresh checkout lets the grid resume: the runner skips every run with a finished.json.

    python experiments/keep_light.py runs/paper_suite docs/runs/paper_suite
    mkdir -p runs/paper_suite && cp -r docs/runs/paper_suite/. runs/paper_suite/   # fresh checkout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from merlin_rl.experiment import keep_light


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: python experiments/keep_light.py GRID_OUT DEST")
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    if not src.is_dir():
        sys.exit(f"keep_light: {str(src)!r} is not a folder")
    if src.resolve() == dst.resolve():
        sys.exit("keep_light: the source and destination are the same folder")
    kept = keep_light(src, dst)
    print(json.dumps({"kept_runs": len(kept), "to": str(dst)}))


if __name__ == "__main__":
    main()
