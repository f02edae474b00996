"""Why does MERLIN fall back on RepeatFirstMedium? Probe trained checkpoints (session 46).

For each checkpoint, play EPISODES episodes (seeds 0..EPISODES-1 of the probe, not training seeds)
and record, per step t of the episode:
  * correct: the reward was positive (the agent named the first card's suit);
  * alive: a memory row still holds the step-0 write (written and write_step == 0), i.e. the
    first card's row has not been reallocated;
  * pol_w: the policy's read weight on that row (mean over its keys; 0 once it is gone);
  * mbp_w: the MBP's largest read weight on that row over its keys.
Intervention: each episode is played again with step FORCE_AT's action replaced by another suit;
the share of the next FOLLOW steps that repeat the forced action (the agent copies its own previous
action) or return to its answer (it recalls the card) is reported.
Prints one JSON line per checkpoint with accuracy over steps 0-63 / 64-415, the share of episodes
whose first row survives to the end, the accuracy split by alive / gone, and the mean read weights.

  python docs/runs/learning/session46/fallback_probe.py CKPT [CKPT ...]
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

EPISODES = 24


def _answers(meta: list[dict]) -> dict[str, list[int]]:
    """First observation (as text) -> the answers the agent gave in those episodes."""
    out: dict[str, list[int]] = {}
    for m in meta:
        out.setdefault(json.dumps(m["first_obs"]), []).append(m["answer"])
    return dict(sorted(out.items()))


FORCE_AT = 100  # the intervention: this step's action is replaced (see _episode)
FOLLOW = 50  # steps after it that are compared


def _episode(agent, cfg, k: int, force: int | None = None):
    """Play probe episode k; with ``force``, step FORCE_AT takes action ``force``."""
    torch.manual_seed(k)
    env = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    loop = EnvLoop(env, agent, torch.device("cpu"), 10_000 + k)
    state = agent.initial_state(1, loop.device)
    rows, acts, first_obs, n_rows = [], [], None, 0
    while True:
        state = state.reset(loop.episode_start)
        forced = None
        if force is not None and len(rows) == FORCE_AT:
            forced = torch.tensor([force])
        out, state = agent.step(loop.obs, state, action=forced)
        mem = state.memory
        n_rows = mem.M.shape[1]
        first = (mem.written & (mem.write_step == 0))[0]
        alive = bool(first.any())
        pol = float(out.policy_weights.detach()[0].mean(0)[first].sum()) if alive else 0.0
        mbp = float(out.mbp_weights[0][:, first].sum(-1).max()) if alive else 0.0
        r, done, _, valid = loop.step(out.action)
        state.prev_reward = (r * agent.reward_scale())[:, None]
        if not bool(valid[0]):
            continue
        rows.append((float(r[0]) > 0, alive, pol, mbp))
        acts.append(int(out.action[0]))
        if first_obs is None:
            first_obs = {key: v[0].tolist() for key, v in out.obs.items()}
        if bool(done[0]):
            break
    env.close()
    return np.array(rows, dtype=float), np.array(acts), first_obs, n_rows


@torch.no_grad()
def probe(path: str) -> dict:
    args = argparse.Namespace(checkpoint=path, env_import="popgym", seed=0)
    agent, cfg, _ = _load_agent(args, torch.device("cpu"))
    eps, meta, follows = [], [], []
    for k in range(EPISODES):
        rows, acts, first_obs, n_rows = _episode(agent, cfg, k)
        answer = int(np.bincount(acts).argmax())
        eps.append(rows)
        meta.append({"first_obs": first_obs, "answer": answer})
        # intervention: one off-answer action at FORCE_AT; does the agent then repeat it?
        forced = (answer + 1) % agent.num_actions
        _, acts2, _, _ = _episode(agent, cfg, k, force=forced)
        after = acts2[FORCE_AT + 1 : FORCE_AT + 1 + FOLLOW]
        follows.append((float((after == forced).mean()), float((after == answer).mean())))
    a = np.concatenate(eps)
    t = np.concatenate([np.arange(len(e)) for e in eps])
    late = t >= 64
    alive_late = late & (a[:, 1] > 0)
    gone_late = late & (a[:, 1] == 0)
    mean = lambda m, c: round(float(a[m, c].mean()), 3) if m.any() else None  # noqa: E731
    return {
        "checkpoint": path,
        "episodes": EPISODES,
        "acc_t<64": mean(~late, 0),
        "acc_t>=64": mean(late, 0),
        "first_row_survives_episode": round(float(np.mean([e[-1, 1] for e in eps])), 3),
        "acc_late_alive": mean(alive_late, 0),
        "acc_late_gone": mean(gone_late, 0),
        "share_late_alive": round(float(alive_late.sum() / late.sum()), 3),
        "pol_w_first_late_alive": mean(alive_late, 2),
        "mbp_w_first_late_alive": mean(alive_late, 3),
        "rows_N": n_rows,
        "after_forced_action_repeats_it": round(float(np.mean([f[0] for f in follows])), 3),
        "after_forced_action_keeps_answer": round(float(np.mean([f[1] for f in follows])), 3),
        "answer_by_first_obs": _answers(meta),
        "per_episode": [
            {
                "acc": round(float(e[:, 0].mean()), 3),
                "step0_right": bool(e[0, 0]),
                "first_row_gone_at": int(np.argmin(e[:, 1])) if (e[:, 1] == 0).any() else None,
                "acc_after_gone": round(float(e[e[:, 1] == 0, 0].mean()), 3)
                if (e[:, 1] == 0).any()
                else None,
                **m,
            }
            for e, m in zip(eps, meta)
        ],
    }


if __name__ == "__main__":
    for p in sys.argv[1:]:
        print(json.dumps(probe(p)), flush=True)
