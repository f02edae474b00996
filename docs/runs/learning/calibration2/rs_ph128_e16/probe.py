"""Re-run a run from a checkpoint and print the latent's statistics per update (the divergence
diagnosis of docs/learning.md). CPU runs are exact, so this replays the run that diverged.

    python probe.py RUN_DIR CHECKPOINT UNTIL_ENV_STEPS
"""

import dataclasses
import json
import sys

import torch

from merlin_rl.config import Config
from merlin_rl.train import Trainer

run, ckpt, until = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = Config(**json.load(open(f"{run}/config.json")))
cfg = dataclasses.replace(cfg, run_dir="/tmp/diag/run")
tr = Trainer(cfg, "/tmp/diag/run", progress=False)
print("exact", tr.load(ckpt), tr.env_steps)
while tr.env_steps < until:
    seg = tr.rollout()
    o = seg.outputs
    stat = {
        k: torch.stack([x.dist[k] for x in o]) for k in ("mu_q", "mu_p", "logsig_q", "logsig_p")
    }
    z = torch.stack([x.z for x in o])
    M = tr.state.memory.M
    logs = tr.update(seg)
    ls_q, ls_p = stat["logsig_q"], stat["logsig_p"]
    print(
        tr.env_steps,
        f"|mu_q| {stat['mu_q'].abs().max():.1f} |mu_p| {stat['mu_p'].abs().max():.1f} "
        f"lsq [{ls_q.min():.1f},{ls_q.max():.1f}] lsp [{ls_p.min():.1f},{ls_p.max():.1f}] "
        f"|z| {z.abs().max():.1f} |M| {M.abs().max():.1f} |m| {tr.state.m.abs().max():.1f} "
        f"kl {logs['loss/kl']:.2f} rr {logs['loss/recon_reward']:.3f} "
        f"gn {logs['grad_norm/mbp']:.1f} scale {tr.agent.reward_scale():.2f}",
        flush=True,
    )
