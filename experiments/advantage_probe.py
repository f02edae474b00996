"""How noisy are the policy's advantages, and why? One JSON line per checkpoint.

Acts ``--segments`` segments with a trained checkpoint (its own config: env, envs, tau) and
reports, over the valid steps (variances of tensors in the env's reward units after the reward
scale, as the learner sees them):

- ``var_reward``: Var(r_t);
- ``var_delta_mbp``: Var(delta_t) of the one-step TD errors on the MBP's V (the default baseline);
- ``var_adv_mbp_0.9`` / ``var_adv_mbp_0.5``: Var of the GAE advantages on the MBP's V at lambda
  0.9 and 0.5;
- with a policy value head (``--baseline policy`` or ``critic``): ``var_delta_policy`` and
  ``var_adv_policy_0.9`` / ``_0.5`` on V~, and ``var_adv_mbp_0.9`` is on the same steps;
- ``entropy``: the policy's mean entropy (nats);
- on tasks whose wrong actions are punished (a negative reward, e.g. RepeatSymbol):
  ``wrong`` (the share of rewarded steps with a negative reward) and ``wrong_argmax`` (the share
  of those where the acted action was the policy's most likely one: confident errors, which a
  control variate on the later actions cannot take out; docs/learning.md, twenty-eighth session).

    python experiments/advantage_probe.py --checkpoint RUN/checkpoints/final.pt [--segments 6]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from merlin_rl import losses
from merlin_rl.checkpoint import CheckpointError, load_checkpoint
from merlin_rl.train import Trainer


def _var(parts: list[torch.Tensor]) -> float:
    return round(float(torch.cat(parts).var()), 5)


def probe(trainer: Trainer, segments: int) -> dict:
    """The statistics above over ``segments`` acted segments of ``trainer``."""
    cfg = trainer.cfg
    stats: dict[str, list[torch.Tensor]] = {}

    def add(key: str, x: torch.Tensor) -> None:
        stats.setdefault(key, []).append(x)

    for _ in range(segments):
        seg = trainer.rollout()
        m = seg.valid.bool()
        never = torch.zeros_like(seg.dones)
        with torch.no_grad():
            values = trainer.agent.values(seg.outputs, mean=cfg.value_input == "mean")

        def gae(v: torch.Tensor, boot: torch.Tensor, lam: float, dones=seg.dones) -> torch.Tensor:
            return losses.gae(seg.rewards, v, boot, dones, seg.terminals, cfg.gamma, lam)[m]

        add("var_reward", seg.rewards[m])
        add("var_delta_mbp", gae(values, seg.bootstrap, 0.0, never))
        add("var_adv_mbp_0.9", gae(values, seg.bootstrap, 0.9))
        add("var_adv_mbp_0.5", gae(values, seg.bootstrap, 0.5))
        if seg.policy_bootstrap is not None:
            pv = torch.stack([o.policy_value for o in seg.outputs])
            add("var_delta_policy", gae(pv, seg.policy_bootstrap, 0.0, never))
            add("var_adv_policy_0.9", gae(pv, seg.policy_bootstrap, 0.9))
            add("var_adv_policy_0.5", gae(pv, seg.policy_bootstrap, 0.5))
        log_pi = torch.log_softmax(torch.stack([o.logits for o in seg.outputs]), -1)
        add("entropy", -(log_pi.exp() * log_pi).sum(-1)[m])
        rewarded = m & (seg.rewards != 0)
        wrong = rewarded & (seg.rewards < 0)
        argmax = log_pi.argmax(-1) == seg.actions
        add("rewarded", rewarded[m].float())
        add("wrong", wrong[m].float())
        add("wrong_argmax", (wrong & argmax)[m].float())
    out = {k: _var(v) for k, v in stats.items() if k.startswith("var_")}
    out["entropy"] = round(float(torch.cat(stats["entropy"]).mean()), 4)
    n_rewarded = float(torch.cat(stats["rewarded"]).sum())
    n_wrong = float(torch.cat(stats["wrong"]).sum())
    if n_wrong > 0:
        out["wrong"] = round(n_wrong / n_rewarded, 4)
        out["wrong_argmax"] = round(float(torch.cat(stats["wrong_argmax"]).sum()) / n_wrong, 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--segments", type=int, default=6)
    a = p.parse_args()
    if a.segments < 1:
        print(f"advantage_probe.py: --segments must be >= 1, got {a.segments}", file=sys.stderr)
        sys.exit(2)
    path = Path(a.checkpoint)
    try:
        cfg = load_checkpoint(path)["config_obj"]
    except CheckpointError as e:
        print(f"advantage_probe.py: {e}", file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=Path(tmp) / "probe", progress=False)
        trainer.load(path)
        out = probe(trainer, a.segments)
        trainer.env.close()
    print(json.dumps({"checkpoint": str(path), "segments": a.segments, **out}))


if __name__ == "__main__":
    main()
