"""Which colours does a trained MERLIN confuse on ColourMatch? The choice against the cue.

    python experiments/choice_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 512]

Runs one episode of ``--episodes`` copies of the checkpoint's ColourMatch (sampled actions, as
in training) and prints one JSON line: the share of right choices, the confusion matrix (row: the
cue colour; column: the colour chosen; rows sum to 1), and the mean |mu_q| over the episode, the
scale of what the policy reads (``policy_input`` mean). Twentieth session: runs that stall near
0.7 either never choose one colour or mix two up (docs/learning.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from merlin_rl.agent import Agent

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import _Stepper, load_probe_args, merlin_on  # noqa: E402  (experiments/ is not a package)

TASK = "merlin_rl/ColourMatch-v0"


@torch.no_grad()
def probe(agent: Agent, env, seed: int) -> dict:
    stepper = _Stepper(agent, env, seed)
    core = env.unwrapped.core
    k = int(env.single_action_space.n)
    counts = np.zeros((k, k))
    scale = []
    for t in range(core.length):
        _, out = stepper.act()
        scale.append(float(out.dist["mu_q"].abs().mean()))
        if t == core.length - 1:  # the choice step: every copy is there at once
            np.add.at(counts, (core.colour, out.action.numpy()), 1)
        stepper.advance(out)
    confusion = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    return {
        "right": round(float(np.trace(counts) / counts.sum()), 3),
        "confusion": np.round(confusion, 3).tolist(),
        "mu_q_abs_mean": round(float(np.mean(scale)), 3),
    }


def main() -> None:
    a, agent, env = load_probe_args(__doc__.splitlines()[0], merlin_on(TASK))
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **probe(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
