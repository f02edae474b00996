"""Which colours does a trained MERLIN confuse on ColourMatch? The choice against the cue.

    python experiments/choice_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 512]

Runs one episode of ``--episodes`` copies of the checkpoint's ColourMatch (sampled actions, as
in training) and prints one JSON line: the share of right choices, the confusion matrix (row: the
cue colour; column: the colour chosen; rows sum to 1), the mean |mu_q| over the episode, the
scale of what the policy reads (``policy_input`` mean), and where a wrong choice comes from (see
:func:`probe`). Twentieth session: runs that stall near 0.7 either never choose one colour or
mix two up (docs/learning.md).
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


def centroid_accuracy(x: np.ndarray, label: np.ndarray) -> float:
    """How well x (B, D) tells the labels (B,) apart: fit one centroid per label on the even
    rows, classify the odd rows by the nearest centroid; the share right (chance 1 / #labels)."""
    fit, test = np.arange(0, len(x), 2), np.arange(1, len(x), 2)
    labels = np.unique(label[fit])
    centroids = np.stack([x[fit][label[fit] == c].mean(0) for c in labels])
    d = ((x[test, None, :] - centroids[None]) ** 2).sum(-1)
    return float((labels[d.argmin(1)] == label[test]).mean())


def _by_cue(values: np.ndarray, cue: np.ndarray, k: int) -> list:
    """Per cue colour, the mean of values (B, ...) over the copies cued with it."""
    return [np.round(values[cue == c].mean(0), 3).tolist() for c in range(k)]


@torch.no_grad()
def probe(agent: Agent, env, seed: int) -> dict:
    """The choice against the cue, and where a wrong one comes from: whether the cue step's
    latent (mu_q, and the sample z written to memory row 0) tells the colours apart, what the
    choice step's policy puts on each action (a dead action: ~0 for every cue), and how much of
    the policy's read weight falls on row 0 (the cue's row: free rows are filled in order; with
    several keys, the key that puts the most there)."""
    stepper = _Stepper(agent, env, seed)
    core = env.unwrapped.core
    k = int(env.single_action_space.n)
    counts = np.zeros((k, k))
    scale = []
    for t in range(core.length):
        _, out = stepper.act()
        scale.append(float(out.dist["mu_q"].abs().mean()))
        if t == 0:
            cue = core.colour.copy()
            mu0, z0 = out.dist["mu_q"].numpy(), out.z.numpy()
        if t == core.length - 1:  # the choice step: every copy is there at once
            np.add.at(counts, (cue, out.action.numpy()), 1)
            probs = torch.softmax(out.logits, -1).numpy()
            # the most weight any of the policy's keys puts on row 0
            read0 = (
                None if out.policy_weights is None else out.policy_weights[:, :, 0].amax(1).numpy()
            )
        stepper.advance(out)
    confusion = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    result = {
        "right": round(float(np.trace(counts) / counts.sum()), 3),
        "confusion": np.round(confusion, 3).tolist(),
        "mu_q_abs_mean": round(float(np.mean(scale)), 3),
        "choice_probs": _by_cue(probs, cue, k),
        "cue_mu_q_separable": round(centroid_accuracy(mu0, cue), 3),
        "cue_z_separable": round(centroid_accuracy(z0, cue), 3),
    }
    if read0 is not None:
        result["policy_read_row0"] = _by_cue(read0, cue, k)
    return result


def main() -> None:
    a, agent, env = load_probe_args(__doc__.splitlines()[0], merlin_on(TASK))
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **probe(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
