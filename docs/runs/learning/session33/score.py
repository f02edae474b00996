"""Score of popgym_check.sh: the normalised mean return of the last five log rows of each run.

python docs/runs/learning/session33/score.py docs/runs/learning/session33
"""

import csv
import sys
import glob
import os

ref = {"RepeatFirst": -0.494, "RepeatPrevious": -0.493}
for d in sorted(glob.glob(sys.argv[1] + "/*_s?")):
    name = os.path.basename(d)
    rows = list(csv.DictReader(open(d + "/metrics.csv")))
    r = [float(x["episode_return"]) for x in rows if x["episode_return"]]
    task = name.split("_")[1]
    last5 = sum(r[-5:]) / 5
    n = (last5 - ref[task]) / (1 - ref[task])
    print(f"{name:28s} steps {rows[-1]['env_steps']:>7s} last5 {last5:.3f} norm {n:.3f}")
