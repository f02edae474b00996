"""RepeatFirstMedium with the envs out of step (forty-sixth session; a screen, not a library change).

Every vector copy's FIRST episode is truncated at a random step k in [1, 415) (drawn from the
copy's own seeded generator); every later episode is the task unchanged. So the copies, which
otherwise run their 415-step episodes in step, stay spread over the episode's phases, and each
update sees early and late steps together.

Pre-registered before its runs (the default's runs on seeds 100 and 101 are lr_policy_screen's):

    OMP_NUM_THREADS=1 merlin-rl train --agent merlin --env session46/RepeatFirstMediumDesync-v0 \\
      --env-import popgym,desync_env --seed S --total-steps 500000 \\
      --run-dir runs/session46/desync_sS --no-progress        # S = 100 and 101, side by side
    python docs/runs/learning/session46/desync_env.py runs/session46/desync_sS/checkpoints/final.pt

(with docs/runs/learning/session46 on PYTHONPATH). The frozen eval is `evaluate` as in `merlin-rl
eval` (128 episodes, seed 12345) but on the base task: on the wrapped id each copy's first
eval episode would be cut short and counted (amended after the runs started and before any
result, when this was noticed). Reading, fixed now, on the frozen eval's
normalised score ((R + 0.501) / 1.501) of seeds 100 and 101, against the default's (0.354 and
0.775, lr_policy_screen/eval_final.jsonl and s101_eval_final.jsonl): out-of-step envs "help" if
their mean is ahead by >= 0.15 and ahead on both seeds; otherwise "no help". The logged final is
reported beside it. Helping leads to building it into the library (reset_mask at the start) and
a suite check, not to a default change on this alone.
"""

from __future__ import annotations

import gymnasium as gym

BASE = "popgym-RepeatFirstMedium-v0"
ID = "session46/RepeatFirstMediumDesync-v0"
LENGTH = 415


class FirstEpisodeCut(gym.Wrapper):
    """Truncates the first episode at a random step in [1, LENGTH)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.cut: int | None = None
        self.t = 0
        self.first = True

    def reset(self, *, seed=None, options=None):
        obs, info = self.env.reset(seed=seed, options=options)
        if self.cut is None:
            self.cut = int(self.env.unwrapped.np_random.integers(1, LENGTH))
        else:
            self.first = False
        self.t = 0
        return obs, info

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        self.t += 1
        if self.first and self.t >= self.cut and not term:
            trunc = True
        return obs, r, term, trunc, info


def _make(**kwargs) -> gym.Env:
    return FirstEpisodeCut(gym.make(BASE, **kwargs))


if ID not in gym.registry:
    gym.register(id=ID, entry_point=_make)


def frozen_eval(checkpoint: str) -> dict:
    """`merlin-rl eval`'s numbers (128 episodes, seed 12345) for a checkpoint, on the base task."""
    import argparse
    import dataclasses

    import torch

    from merlin_rl.cli import _load_agent
    from merlin_rl.train import evaluate

    args = argparse.Namespace(checkpoint=checkpoint, env_import="popgym,desync_env", seed=12345)
    agent, cfg, _ = _load_agent(args, torch.device("cpu"), batch=128)
    torch.manual_seed(12345)
    with torch.no_grad():
        res = evaluate(agent, dataclasses.replace(cfg, env=BASE), 128, seed=12345)
    return {"checkpoint": checkpoint, "env": BASE, **res}


if __name__ == "__main__":
    import json
    import sys

    for path in sys.argv[1:]:
        print(json.dumps(frozen_eval(path)), flush=True)
