"""How much of the posterior the MBP's prior predicts, against predicting no change.

MERLIN's memory is meant to be shaped by prediction: the prior p(z_t | h_{t-1}, m_{t-1}) is
trained (by the KL term) to foresee the posterior's mean mu_q,t before o_t is seen. This script
runs one episode of every env copy of a trained MERLIN (sampled actions, as in training) and
prints one JSON line with, over all steps after the first of each episode:

* ``prior_r2``: 1 - E|mu_q,t - mu_p,t|^2 / E|mu_q,t - mean(mu_q)|^2, the share of mu_q's
  variance the prior's mean explains;
* ``persistence_r2``: the same for mu_q,t-1 as the guess (nothing changes from one step to the
  next), a prior that has learned nothing but to carry z;
* ``linear_r2_held_out``: a ridge regression from the prior's own inputs [h_{t-1}, m_{t-1}]
  to mu_q,t, fitted on the first half of the env copies and scored on the rest (beside
  ``prior_r2_held_out``, the prior on the same rows): what a linear prior could predict;
* ``mean_r2``: 0 by construction (the overall mean as the guess), for reference;
* ``mu_q_rms`` / ``mu_q_spread``: the posterior mean's root mean square and its mean standard
  deviation over steps per unit (where z lies, and how much of it varies);
* ``logsig_p`` / ``logsig_q``: the mean log sigma of the prior and the posterior (soft-clamped
  to (-5, 1)), and the share of the prior's units above 0.9, at the clamp's top: a prior that
  widens its sigma there pays little KL for a wrong mean.

    python experiments/prior_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 64] [--seed 0]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import _Stepper, load_probe_args  # noqa: E402  (experiments/ is not a package)


def r2(target: np.ndarray, guess: np.ndarray) -> float:
    """1 - the guess's squared error over the target's variance (rows are samples)."""
    total = ((target - target.mean(0)) ** 2).sum()
    return float(1.0 - ((target - guess) ** 2).sum() / total) if total > 0 else float("nan")


@torch.no_grad()
def prior_fit(agent, env, seed: int) -> dict:
    """``prior_r2`` and ``persistence_r2`` over one episode of every env copy."""
    stepper = _Stepper(agent, env, seed)
    b = env.num_envs
    live, prev = np.ones(b, bool), None
    q, p, last, sig_p, sig_q, inputs = [], [], [], [], [], []
    for _ in range(env.episode_length):
        before = stepper.state  # h_{t-1}, m_{t-1}: what the prior reads
        _, out = stepper.act()
        mu_q, mu_p = out.dist["mu_q"].numpy(), out.dist["mu_p"].numpy()
        if prev is not None and live.any():  # live now: live at the step before too
            q.append(mu_q[live])
            p.append(mu_p[live])
            last.append(prev[live])
            sig_p.append(out.dist["logsig_p"].numpy()[live])
            sig_q.append(out.dist["logsig_q"].numpy()[live])
            x = torch.cat([before.mbp_h.flatten(1), before.m.flatten(1)], -1).numpy()
            inputs.append(np.concatenate([x, np.arange(b)[:, None]], 1)[live])
        prev = mu_q
        _, done, _ = stepper.advance(out)
        live &= ~done
        if not live.any():
            break
    q, p, last, sig_p, sig_q, x = (np.concatenate(v) for v in (q, p, last, sig_p, sig_q, inputs))
    train = x[:, -1] < b // 2  # fit on the first half of the env copies, score on the rest
    x = np.concatenate([x[:, :-1], np.ones((len(x), 1))], 1)
    w = np.linalg.solve(x[train].T @ x[train] + np.eye(x.shape[1]), x[train].T @ q[train])
    return {
        "linear_r2_held_out": round(r2(q[~train], x[~train] @ w), 3),
        "prior_r2_held_out": round(r2(q[~train], p[~train]), 3),
        "steps": len(q),
        "prior_r2": round(r2(q, p), 3),
        "persistence_r2": round(r2(q, last), 3),
        "mean_r2": 0.0,
        "mu_q_rms": round(float(np.sqrt((q**2).mean())), 3),
        "mu_q_spread": round(float(q.std(0).mean()), 3),
        "logsig_p": round(float(sig_p.mean()), 3),
        "logsig_q": round(float(sig_q.mean()), 3),
        "prior_units_near_the_bound": round(float((sig_p > 0.9).mean()), 3),
    }


def main() -> None:
    a, agent, env = load_probe_args(
        __doc__.splitlines()[0],
        lambda cfg: None if cfg.agent == "merlin" else f"{cfg.agent} has no prior; allowed: merlin",
    )
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **prior_fit(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
