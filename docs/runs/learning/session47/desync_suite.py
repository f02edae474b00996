"""Envs out of step on the suite: the check that decides `--desync cut` as a default.
Pre-registered before its runs (forty-seventh session).

Why: the forty-sixth session's screen (session46/desync_env.py) found that cutting each env
copy's first episode at a random step, so that the 32 copies stop running their fixed-length
episodes in step, lifted MERLIN's frozen eval on POPGym RepeatFirstMedium from 0.354 / 0.775 /
0.485 to 0.929 / 0.897 / 0.958 (seeds 100-102). The library now does this with `--desync cut`
(each copy's SECOND episode is cut at a random step in [1, L), L the length of the copy's
first episode: no episode length need be declared). One task decides no default, so:

    OMP_NUM_THREADS=1 merlin-rl experiment docs/runs/learning/session47/desync_suite_step.yaml --jobs 2
    OMP_NUM_THREADS=1 merlin-rl experiment docs/runs/learning/session47/desync_suite_cut.yaml --jobs 2
    OMP_NUM_THREADS=1 merlin-rl train --agent merlin --env popgym-RepeatFirstMedium-v0 \\
      --env-import popgym --seed 100 --total-steps 500000 --desync cut \\
      --run-dir runs/session47/rfm_cut_s100 --no-progress
    python docs/runs/learning/session47/desync_suite.py eval   # frozen evals of every final.pt
    python docs/runs/learning/session47/desync_suite.py read

MERLIN alone, calibration seed 100 (outside every grid), the grid's seven built-in tasks and
budgets (MiniGrid left out: 2,800 s a run here). The two arms differ in `--desync` alone.

Frozen eval: `merlin-rl eval --episodes 128 --seed 12345` of each final checkpoint, normalised
(R - R_random) / (R_max - R_random) with the task's declared references. Logged: the grid
summary's normalised final (the last 10% of log rows).

Reading, fixed now. `--desync cut` becomes the default if all of:
  (a) frozen: the mean over the seven tasks of (cut - step) is >= 0, and no task's cut score is
      below its step score by more than 0.15;
  (b) logged: the mean over the seven tasks of (cut - step) is >= -0.05;
  (c) the library reproduces the screen: RepeatFirstMedium seed 100 under `--desync cut` scores
      >= 0.7 frozen (the screen's wrapper gave 0.929; in step it was 0.354).
Otherwise the default stays "off" and the flag is documented as an option. Until all three are
read, nothing changes. Since it is an acting change, a new default makes every grid cell
(all agents) stale. Reported whichever way it reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from merlin_rl.experiment import env_references, read_grid, run_dir_for, summarise

HERE = Path(__file__).parent
ARMS = ("step", "cut")
EVALS = HERE / "desync_suite" / "evals.jsonl"
RFM = "runs/session47/rfm_cut_s100/checkpoints/final.pt"
RFM_REFS = (-0.501, 1.0)
FROZEN_DROP, LOGGED_DROP, RFM_BAR = 0.15, -0.05, 0.7


def _grids() -> dict[str, object]:
    return {arm: read_grid(HERE / f"desync_suite_{arm}.yaml") for arm in ARMS}


def _checkpoints() -> list[tuple[str, str, str]]:
    """(arm, env, final.pt) of every finished cell, then the RepeatFirstMedium run."""
    out = []
    for arm, g in _grids().items():
        for env in g.envs:
            ckpt = run_dir_for(g, "merlin", env, 100) / "checkpoints" / "final.pt"
            if ckpt.exists():
                out.append((arm, env, str(ckpt)))
    if Path(RFM).exists():
        out.append(("cut", "popgym-RepeatFirstMedium-v0", RFM))
    return out


def evaluate_all() -> None:
    done = set()
    if EVALS.exists():
        done = {json.loads(line)["checkpoint"] for line in EVALS.open()}
    EVALS.parent.mkdir(parents=True, exist_ok=True)
    for arm, env, ckpt in _checkpoints():
        if ckpt in done:
            continue
        cmd = ["merlin-rl", "eval", "--checkpoint", ckpt, "--episodes", "128", "--seed", "12345"]
        if env.startswith("popgym"):
            cmd += ["--env-import", "popgym"]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        with EVALS.open("a") as f:
            f.write(json.dumps({"arm": arm, **res}) + "\n")
        print(arm, env, res["mean_return"], flush=True)


def read() -> None:
    grids = _grids()
    frozen: dict[tuple[str, str], float] = {}
    if EVALS.exists():
        for line in EVALS.open():
            d = json.loads(line)
            refs = RFM_REFS if d["env"].startswith("popgym") else env_references(grids["step"], d["env"])
            frozen[(d["arm"], d["env"])] = (d["mean_return"] - refs[0]) / (refs[1] - refs[0])
    logged = {(arm, r["env"]): r["normalised_mean"] for arm, g in grids.items() for r in summarise(g)}
    envs = grids["step"].envs
    fd, ld = [], []
    print(f"{'task':40s} {'frozen step':>11s} {'frozen cut':>10s} {'logged step':>11s} {'logged cut':>10s}")
    for env in envs:
        f = [frozen.get((a, env)) for a in ARMS]
        lg = [logged.get((a, env)) for a in ARMS]
        cells = [f"{x:.3f}" if isinstance(x, float) else "-" for x in f + lg]
        print(f"{env:40s} {cells[0]:>11s} {cells[1]:>10s} {cells[2]:>11s} {cells[3]:>10s}")
        if None not in f:
            fd.append(f[1] - f[0])
        if all(isinstance(x, float) for x in lg):
            ld.append(lg[1] - lg[0])
    rfm = frozen.get(("cut", "popgym-RepeatFirstMedium-v0"))
    print(f"RepeatFirstMedium seed 100, cut, frozen: {rfm if rfm is None else round(rfm, 3)}")
    if len(fd) < len(envs) or len(ld) < len(envs) or rfm is None:
        print(f"not read yet: {len(fd)}/{len(envs)} frozen pairs, {len(ld)}/{len(envs)} logged pairs, "
              f"RepeatFirstMedium {'done' if rfm is not None else 'missing'}")
        return
    a = sum(fd) / len(fd) >= 0 and min(fd) >= -FROZEN_DROP
    b = sum(ld) / len(ld) >= LOGGED_DROP
    c = rfm >= RFM_BAR
    print(f"(a) frozen mean {sum(fd) / len(fd):+.3f}, worst {min(fd):+.3f}: {'holds' if a else 'fails'}")
    print(f"(b) logged mean {sum(ld) / len(ld):+.3f}: {'holds' if b else 'fails'}")
    print(f"(c) RepeatFirstMedium {rfm:.3f}: {'holds' if c else 'fails'}")
    print("verdict:", "--desync cut becomes the default" if a and b and c else "the default stays off")


if __name__ == "__main__":
    {"eval": evaluate_all, "read": read}[sys.argv[1] if len(sys.argv) > 1 else "read"]()
