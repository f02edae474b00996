"""How much of what the policy takes in (mu_q, policy_input mean) is the current symbol? For each
RepeatSymbol checkpoint: 10 segments of 32 envs with sampled actions; prints mu_q's total
variance (summed over units), the share of it that the current symbol explains (between-class
over total), and the share that the previous action explains (the MBP also reconstructs a_{t-1}).

python docs/runs/learning/session35/mu_share.py RUN/checkpoints/final.pt ...
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import torch

from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.train import Trainer

torch.set_num_threads(1)


def explained(x: torch.Tensor, y: torch.Tensor) -> float:
    """Between-class variance of x (S, Z) over labels y (S,), over its total, summed over units."""
    total = x.var(0, unbiased=False).sum()
    between = sum(
        (y == k).float().mean() * ((x[y == k].mean(0) - x.mean(0)) ** 2).sum() for k in y.unique()
    )
    return float(between / total)


for path in sys.argv[1:]:
    ck = load_checkpoint(Path(path))
    cfg = dataclasses.replace(ck["config_obj"], num_envs=32)
    torch.manual_seed(0)
    tr = Trainer(cfg, run_dir=Path(tempfile.mkdtemp()), progress=False)
    load_model_state(tr.agent, ck["model"], path)
    mus, ys, prev = [], [], []
    with torch.no_grad():
        for _ in range(10):
            for o in tr.rollout().outputs:
                mus.append(o.dist["mu_q"])
                ys.append(o.obs["symbol"].argmax(-1))
                prev.append(o.prev_action.argmax(-1))
    tr.env.close()
    mu, y, a = torch.cat(mus), torch.cat(ys), torch.cat(prev)
    std = (mu - mu.mean(0)) / mu.std(0).clamp(min=1e-6)
    print(
        f"{path}: weight {ck['config_obj'].discrete_weight:g} var {float(mu.var(0).sum()):.2f} "
        f"symbol {explained(mu, y):.3f} prev-action {explained(mu, a):.3f} "
        f"per-unit standardised: symbol {explained(std, y):.3f} prev-action {explained(std, a):.3f}",
        flush=True,
    )
