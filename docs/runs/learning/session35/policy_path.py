"""Which path carries RepeatSymbol's recall in a trained MERLIN: the policy's own read of the
memory, or its LSTM? And does the noise of the written sample cost answers? For each checkpoint,
20 segments of 32 envs with sampled actions under four conditions; prints the share of rewarded
steps answered right (chance 0.25):
  acted       as trained;
  swapped     the policy reads another environment's memory (rolled over the batch), the MBP
              and everything else unchanged;
  mean-write  memory is written with mu_q instead of the sample z_t (the MBP's state unchanged);
  no-lstm     the policy's LSTM state is reset to zero before every step (it keeps its read).

python docs/runs/learning/session35/policy_path.py RUN/checkpoints/final.pt ...
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import torch

from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.train import Trainer

torch.set_num_threads(1)


def accuracy(tr: Trainer, segments: int = 20) -> float:
    right = total = 0
    with torch.no_grad():
        for _ in range(segments):
            seg = tr.rollout()
            rewarded = (seg.rewards != 0) & (seg.valid > 0)
            right += int(((seg.rewards > 0) & rewarded).sum())
            total += int(rewarded.sum())
    return right / max(total, 1)


for path in sys.argv[1:]:
    ck = load_checkpoint(Path(path))
    cfg = dataclasses.replace(ck["config_obj"], num_envs=32)
    results = {}
    for condition in ("acted", "swapped", "mean-write", "no-lstm"):
        torch.manual_seed(0)
        tr = Trainer(cfg, run_dir=Path(tempfile.mkdtemp()), progress=False)
        load_model_state(tr.agent, ck["model"], path)
        agent = tr.agent
        if condition == "swapped":
            inputs = agent.policy_inputs

            def swapped(z, dist, reads, memory, view=None, _inputs=inputs):
                zp, mem = _inputs(z, dist, reads, memory, view)
                return zp, mem.map(lambda x: torch.roll(x, 1, 0))

            agent.policy_inputs = swapped
        elif condition == "mean-write":
            latent, advance = agent.mbp.latent, agent.advance_memory
            stash = {}

            def latent_stash(*a, _latent=latent, **k):
                z, dist = _latent(*a, **k)
                stash["mu"] = dist["mu_q"]
                return z, dist

            def advance_mean(memory, weights, z, _advance=advance):
                return _advance(memory, weights, stash["mu"])

            agent.mbp.latent = latent_stash
            agent.advance_memory = advance_mean
        elif condition == "no-lstm":
            policy = agent.policy

            class Reset(torch.nn.Module):
                def forward(self, z, h, c, mem):
                    return policy(z, torch.zeros_like(h), torch.zeros_like(c), mem)

            agent.policy = Reset()
        results[condition] = accuracy(tr)
        tr.env.close()
    print(path, " ".join(f"{k} {v:.3f}" for k, v in results.items()), flush=True)
