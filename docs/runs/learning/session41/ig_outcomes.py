"""InstructedGoal: how a checkpoint's episodes end (on the named object, on another object, or at
the 20-step timeout) and the policy's entropy at each of the first 12 steps (over the episodes
still running), then a uniformly random policy in the first checkpoint's envs; 512 episodes each,
seed 0, actions sampled as in training (an episode that ends on another object at the last step
counts as a timeout). Forty-first session, on the grid's finished runs:

    python docs/runs/learning/session41/ig_outcomes.py runs/paper_suite/<run>/checkpoints/final.pt ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from merlin_rl.agent import Agent
from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.envs import make_vector_env

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "experiments"))
from cue_probe import _Stepper  # noqa: E402  (experiments/ is not a package)


@torch.no_grad()
def outcomes(path: str, episodes: int = 512, seed: int = 0, random_policy: bool = False) -> dict:
    """Shares of episodes ending on the goal / another object / the timeout, and the entropy."""
    ckpt = load_checkpoint(Path(path))
    cfg = ckpt["config_obj"]
    env = make_vector_env(cfg.env, episodes, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    load_model_state(agent, ckpt["model"], path)
    agent.eval()
    torch.manual_seed(seed)
    stepper, core = _Stepper(agent, env, seed), env.unwrapped.core
    done_at, ret, entropy = np.full(episodes, -1), np.zeros(episodes), []
    gen = torch.Generator().manual_seed(seed)
    for t in range(core.episode_length):
        _, out = stepper.act()
        log_pi = torch.log_softmax(out.logits, -1)
        if random_policy:
            out.action = torch.randint(0, log_pi.shape[-1], (episodes,), generator=gen)
            log_pi = torch.full_like(log_pi, -float(np.log(log_pi.shape[-1])))
        h = -(log_pi.exp() * log_pi).sum(-1).numpy()
        live = done_at < 0
        entropy.append(round(float(h[live].mean()), 2) if live.any() else None)
        r, done, _ = stepper.advance(out)
        ret += r * live
        done_at[live & done.astype(bool)] = t + 1
        if (done_at >= 0).all():
            break
    goal = ret > 0.5
    other = ~goal & (done_at > 0) & (done_at < core.episode_length)
    return {
        "run": "random policy" if random_policy else path,
        "goal": round(float(goal.mean()), 3),
        "other_object": round(float(other.mean()), 3),
        "timeout": round(float((~goal & ~other).mean()), 3),
        "entropy_by_step": entropy[:12],
    }


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(outcomes(p)))
    print(json.dumps(outcomes(sys.argv[1], random_policy=True)))
