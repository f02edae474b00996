"""Gradient norms of the ELBO + return loss and of the hindsight read term (cost 1) on the MBP's
first read key and LSTM, over 3 segments of a checkpoint (how --read-target-cost 10 was chosen).

    python docs/runs/learning/session40/grad_scale.py RUN/checkpoints/final.pt
"""

import sys
import dataclasses
import tempfile
import torch
from pathlib import Path
from merlin_rl.checkpoint import load_checkpoint
from merlin_rl.train import Trainer
from merlin_rl.learner import replay, hindsight_read

torch.set_num_threads(1)
ck = load_checkpoint(Path(sys.argv[1]))
cfg = dataclasses.replace(ck["config_obj"], read_target_cost=1.0, num_envs=32)
tr = Trainer(cfg, run_dir=Path(tempfile.mkdtemp()) / "x", progress=False)
tr.agent.load_state_dict(ck["model"], strict=False)
for _ in range(3):
    seg = tr.rollout()
for i in range(3):
    seg = tr.rollout()
    outs = seg.outputs if seg.with_graph else replay(tr.agent, seg)[0]
    with torch.no_grad():
        values = tr.agent.evaluate(seg.outputs).value
    adv, targets = tr.learner.targets(seg, values)
    mbp_loss, _, logs = tr.learner.losses(outs, seg, adv, targets)
    term, top = hindsight_read(outs, seg.valid, seg.starts)
    w = tr.agent.mbp.interface.weight
    blk = tr.agent.mbp.width + 1
    lstm = list(tr.agent.mbp.lstm.parameters())
    ga = torch.autograd.grad(mbp_loss - term, [w] + lstm, retain_graph=True)
    gb = torch.autograd.grad(term, [w] + lstm)

    def n(gs):
        return float(torch.sqrt(sum((g**2).sum() for g in gs)))

    print(
        f"elbo+return: head0 {n([ga[0][:blk]]):.3g} heads {n([ga[0]]):.3g} lstm {n(ga[1:]):.3g} | read term {term.item():.3f} top {top:.3f}: head0 {n([gb[0][:blk]]):.3g} lstm {n(gb[1:]):.3g} | mbp total {mbp_loss.item():.0f}"
    )
