"""Why are MERLIN's logged training returns on RepeatFirstMedium above `merlin-rl eval` of its
checkpoints? (forty-sixth session)

From one checkpoint, the trainer's own acting path (Trainer.rollout: its noise, env loop and
reward scale) plays WAVES waves of episodes (all num_envs episodes run in step, 415 steps each,
about 21 updates of 20 steps), twice from the same state and random streams:
  * frozen: rollouts only, no update (what eval measures, through the training code);
  * learning: rollout then update, as in training (what the log measures).
Prints each wave's mean return in both modes, `evaluate` of the checkpoint (128 episodes), and
`evaluate` of the policy as it stands after the learning waves (does what it learned within the
episodes hold for fresh ones?).
frozen == eval: no acting mismatch. learning > frozen within the same wave: the updates made
during an episode raise that episode's own return (the policy adapts within the episode), so the
logged return overstates what the checkpoint's policy does.

    python docs/runs/learning/session46/acting_vs_eval.py RUN_DIR CHECKPOINT
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import popgym  # noqa: F401  registers the env
import torch

from merlin_rl.checkpoint import load_checkpoint
from merlin_rl.train import Trainer, evaluate

WAVES = 3
LENGTH = 415


def waves(run_dir: str, checkpoint: str, learn: bool) -> tuple[list[float], dict]:
    cfg = load_checkpoint(Path(checkpoint))["config_obj"]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "tb"))
        trainer = Trainer(cfg, run_dir=copy, progress=False)
        trainer.load(checkpoint)
        torch.manual_seed(0)
        returns: list[float] = []
        for _ in range(WAVES * LENGTH // cfg.tau + 1):
            if learn:
                trainer.update(trainer.rollout())
            else:
                with torch.no_grad():
                    trainer.rollout()
            eps = trainer.loop.episodes.pop_episodes()
            returns += [r for r, n in eps if n == LENGTH]
        torch.manual_seed(0)  # the policy as it stands after the waves (frozen: the checkpoint's)
        with torch.no_grad():
            ev = evaluate(trainer.agent.eval(), cfg, 128, seed=12345)
    b = cfg.num_envs
    per_wave = [round(float(np.mean(returns[i : i + b])), 3) for i in range(0, len(returns), b)]
    return per_wave, ev


def main(run_dir: str, checkpoint: str) -> None:
    frozen, ev = waves(run_dir, checkpoint, learn=False)
    learning, ev_after = waves(run_dir, checkpoint, learn=True)
    print(
        json.dumps(
            {
                "checkpoint": checkpoint,
                "frozen_per_wave": frozen,
                "learning_per_wave": learning,
                "eval_mean_return": round(ev["mean_return"], 3),
                "eval_episodes": ev["episodes"],
                "eval_after_the_learning_waves": round(ev_after["mean_return"], 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
