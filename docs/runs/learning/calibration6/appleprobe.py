"""One-off probe (sixth session): how well a KeyToDoor checkpoint's image decoder draws the view.

python appleprobe.py CHECKPOINT: 150 steps of 8 envs; per-pixel squared error on apple pixels and
elsewhere, apple pixels drawn in apple colours, and sigmoid'(logit) at apple pixels."""

import argparse
import sys

import torch

from merlin_rl.cli import _load_agent
from merlin_rl.envs import make_vector_env

agent, cfg, _ = _load_agent(
    argparse.Namespace(checkpoint=sys.argv[1], env_import=""), torch.device("cpu"), batch=8
)
env = make_vector_env(cfg.env, 8, cfg.env_kwargs)
obs, _ = env.reset(seed=5)
codec = agent.mbp.codec
mod = next(iter(codec.modalities.values()))
state = agent.initial_state(8)
sums = dict(apple_err=0.0, apple_n=0, other_err=0.0, other_n=0, drawn=0, slope=0.0)
with torch.no_grad():
    for _ in range(150):
        o = codec.to_tensors(obs, torch.device("cpu"))
        out, state = agent.step(o, state)
        img = o["image"]
        logit = mod.decoder(out.dist["mu_q"])
        rec = torch.sigmoid(logit)
        apple = (img[:, 0] > 0.98) & (img[:, 1] > 0.4) & (img[:, 1] < 0.47)  # (255, 110, 120)
        err = (rec - img).pow(2).sum(1)
        drawn = (rec[:, 0] > 0.7) & (rec[:, 1] > 0.25) & (rec[:, 1] < 0.65) & (rec[:, 2] > 0.25)
        sums["apple_err"] += float(err[apple].sum())
        sums["apple_n"] += int(apple.sum())
        sums["other_err"] += float(err[~apple].sum())
        sums["other_n"] += int((~apple).sum())
        sums["drawn"] += int((drawn & apple).sum())
        sums["slope"] += float((rec * (1 - rec)).permute(0, 2, 3, 1)[apple].sum() / 3)
        obs, r, term, trunc, _ = env.step(agent.env_action(out.action))
        state.prev_reward = torch.as_tensor(r, dtype=torch.float32)[:, None] * agent.reward_scale()
        state = state.reset(torch.as_tensor(term | trunc))
n = max(sums["apple_n"], 1)
print(
    f"apple px {sums['apple_n']}: mean sq err {sums['apple_err'] / n:.3f}, drawn as apple "
    f"{sums['drawn']}, sigmoid' {sums['slope'] / n:.3f}; other px mean sq err "
    f"{sums['other_err'] / sums['other_n']:.4f}"
)
