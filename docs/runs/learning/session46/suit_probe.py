"""Does what MERLIN's policy sees tell the four suits apart, where its answer does not? (session 46)

RepeatFirstMedium: fallback_probe.py found each checkpoint answering one or two of the four
suits wrong for the whole episode. Here B episodes run side by side up to step T_MAX, and at steps
STEPS the inputs of the policy's head are kept, split into its parts: z_t as the policy takes it,
h~_t (the policy LSTM's output) and the policy's read of the memory; and the MBP's reads m_{t-1}.
Each part is scored by a leave-one-out nearest-centroid classifier of the first card's suit
(features standardised; chance 0.25), beside the agent's own answer at that step.
If a part separates the suits the answer gets wrong, the failure is the head's mapping (how the
policy is trained), not what is remembered.

  python docs/runs/learning/session46/suit_probe.py CKPT [CKPT ...]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from merlin_rl.acting import EnvLoop
from merlin_rl.cli import _load_agent
from merlin_rl.envs import make_vector_env

B = 128  # episodes side by side
STEPS = (1, 5, 50, 100, 300)
T_MAX = max(STEPS)


def nearest_centroid_loo(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out accuracy of the nearest class centroid (Euclidean, standardised x)."""
    x = (x - x.mean(0)) / (x.std(0) + 1e-6)
    classes = np.unique(y)
    sums = {c: x[y == c].sum(0) for c in classes}
    counts = {c: int((y == c).sum()) for c in classes}
    right = 0
    for i in range(len(y)):
        best, best_d = None, np.inf
        for c in classes:
            n = counts[c] - (y[i] == c)
            if n == 0:
                continue
            mu = (sums[c] - (x[i] if y[i] == c else 0)) / n
            d = float(((x[i] - mu) ** 2).sum())
            if d < best_d:
                best, best_d = c, d
        right += best == y[i]
    return right / len(y)


@torch.no_grad()
def probe(path: str, seed: int = 20_000) -> dict:
    agent, cfg, _ = _load_agent(
        argparse.Namespace(checkpoint=path, env_import="popgym", seed=0), torch.device("cpu")
    )
    torch.manual_seed(seed)
    env = make_vector_env(cfg.env, B, cfg.env_kwargs)
    loop = EnvLoop(env, agent, torch.device("cpu"), seed)
    state = agent.initial_state(B, loop.device)
    captured: dict[str, torch.Tensor] = {}
    hook = agent.policy.head.register_forward_hook(
        lambda mod, inp, out: captured.__setitem__("feats", inp[0].detach().clone())
    )
    h_dim = agent.policy.lstm.out_dim  # the head sees the policy LSTM's output, not the critic's
    read_dim = agent.policy.mem_width * cfg.policy_reads
    suit = None
    kept: dict[int, dict[str, np.ndarray]] = {}
    for t in range(T_MAX + 1):
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        if suit is None:
            suit = out.obs["obs"].argmax(-1).numpy()
        if t in STEPS:
            f = captured["feats"]
            z_dim = f.shape[1] - h_dim - read_dim
            kept[t] = {
                "policy z": f[:, :z_dim].numpy(),
                "policy h": f[:, z_dim : z_dim + h_dim].numpy(),
                "policy read": f[:, z_dim + h_dim :].numpy(),
                "mbp reads": out.reads.numpy(),
                "answer": out.action.numpy(),
            }
        r, done, _, valid = loop.step(out.action)
        state.prev_reward = (r * agent.reward_scale())[:, None]
        assert bool(valid.all()) and not bool(done.any()), "episodes are 415 steps"
    hook.remove()
    env.close()
    res: dict = {
        "checkpoint": path,
        "episodes": B,
        "suit_counts": np.bincount(suit, minlength=4).tolist(),
    }
    for t, parts in kept.items():
        row = {"answer_right": round(float((parts["answer"] == suit).mean()), 3)}
        row["answer_right_by_suit"] = [
            round(float((parts["answer"][suit == s] == s).mean()), 2) for s in range(4)
        ]
        for name in ("policy z", "policy h", "policy read", "mbp reads"):
            if parts[name].shape[1]:
                row[name] = round(nearest_centroid_loo(parts[name], suit), 3)
        res[f"t={t}"] = row
    return res


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(probe(p)), flush=True)
