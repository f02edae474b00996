"""RepeatSymbol score of session34's rules: the mean of the last three logged rows' raw return,
and the first row >= 0.9 (env steps), of each run directory given.

python docs/runs/learning/session34/score_rs.py RUN_DIR ...
"""

import csv
import sys

for d in sys.argv[1:]:
    rows = [r for r in csv.DictReader(open(d + "/metrics.csv")) if r["episode_return"]]
    r = [float(x["episode_return"]) for x in rows]
    first = next((x["env_steps"] for x in rows if float(x["episode_return"]) >= 0.9), "-")
    print(
        f"{d:48s} steps {rows[-1]['env_steps']:>7s} last3 {sum(r[-3:]) / 3:.3f} first>=0.9 {first}"
    )
