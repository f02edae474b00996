"""Where MiniGrid-Memory's chain breaks: is the cue seen, is it held at the split, is it used?

MiniGrid's MemoryS7 (and its larger sizes) put a key or a ball in the start room's corner, behind
the agent unless it starts in the room's first column, and a key and a ball at the two ends of a
split; walking to the end of the cue's kind pays, the other end ends the episode with nothing.
For B episodes of a checkpoint (env copies 0..B-1, one episode each, sampled actions as in
training) this counts:

* seen: the share of episodes in which the cue cell came into the agent's view (MiniGrid's own
  ``agent_sees``, walls occlude);
* drawn: at the first step with the cue in view, the share in which the MBP's reconstruction
  from z_t puts the right object id (key or ball) in the cue's cell, and how well the kind can be
  read linearly from z_t (the same measure as below);
* held: at the first step on the split's column, in the episodes that saw the cue, how well the
  cue's kind can be read linearly (held-out balanced accuracy of a logistic regression, 0.5 = not
  at all) from z_t, from the policy LSTM's h~_{t-1}, from the policy's memory readout m~_t and
  from the MBP's reads m_{t-1};
* used: the share of episodes that reached an end and chose the right one, among those that saw
  the cue and those that did not (chance 0.5), and how often the upper end was chosen (a fixed
  side also gives 0.5);
* the share of episodes that timed out before choosing.

    python experiments/minigrid_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 256]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import minigrid  # noqa: F401  (registers the MiniGrid ids; this probe is for them alone)
import numpy as np
import torch
from minigrid.core.constants import OBJECT_TO_IDX

from merlin_rl.agent import Agent

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import (  # noqa: E402  (not a package)
    _Stepper,
    linear_probe,
    load_probe_args,
    policy_readout,
)


@torch.no_grad()
def probe(agent: Agent, env, seed: int) -> dict:
    """The chain's counts over one episode of every env copy (see the module docstring)."""
    b = env.num_envs
    stepper = _Stepper(agent, env, seed)
    games = [e.unwrapped for e in env.envs]
    mid = games[0].height // 2
    # the split's column (hallway_end + 1; the MemoryS* ids have no random length)
    split = games[0].width - 2
    cue_is_key = np.array([g.grid.get(1, mid - 1).type == "key" for g in games])
    cue_id = np.where(cue_is_key, OBJECT_TO_IDX["key"], OBJECT_TO_IDX["ball"])
    image = agent.mbp.codec.modality("image")
    seen, at_split = np.zeros(b, bool), np.zeros(b, bool)
    z_seen = np.zeros((b, agent.mbp.z_dim), np.float32)  # z_t at the first step the cue is in view
    drawn: list[bool] = []
    feats: dict[str, np.ndarray] = {}
    done_at, chose_up = np.full(b, -1), np.zeros(b, bool)
    right, chose = np.zeros(b, bool), np.zeros(b, bool)
    for t in range(games[0].max_steps + 1):
        live = done_at < 0
        if not live.any():
            break
        sees = live & np.array([g.agent_sees(1, mid - 1) for g in games])
        before = stepper.state
        memory, out = stepper.act()
        fresh = sees & ~seen
        z_seen[fresh] = out.z.numpy()[fresh]
        if fresh.any() and agent.mbp.decoders:  # the object id drawn in the cue's cell
            ids = image.reconstruct(agent.mbp.decoder_input(out.z, "image")) * image.scale
            for i in np.nonzero(fresh)[0]:
                vx, vy = games[i].relative_coords(1, mid - 1)
                drawn.append(int(round(float(ids[i, 0, vx, vy]))) == cue_id[i])
        seen |= sees
        first = live & ~at_split & np.array([g.agent_pos[0] == split for g in games])
        if first.any():
            parts = {"z": out.z, "policy_h": agent.policy.own_state(before.pol_h).flatten(1)}
            if out.policy_weights is not None:
                parts["policy_read"] = policy_readout(out, memory)
                parts["mbp_reads"] = before.m
            for name, x in parts.items():
                feats.setdefault(name, np.zeros((b, x[0].numel()), np.float32))
                feats[name][first] = x.flatten(1).numpy()[first]
            at_split |= first
        r, done, valid = stepper.advance(out)
        ends = live & done & valid
        pos_y = np.array([g.agent_pos[1] for g in games])
        reached = ends & (pos_y != mid)  # on an end's cell, not timed out in the hallway
        chose |= reached
        right |= reached & (r > 0)
        chose_up |= reached & (pos_y < mid)
        done_at = np.where(ends, t, done_at)
    out: dict = {"episodes": b, "seen": round(float(seen.mean()), 3)}
    out["at_split"] = round(float(at_split.mean()), 3)
    out["chose"] = round(float(chose.mean()), 3)
    out["timed_out"] = round(float((~chose).mean()), 3)  # every end reached is a choice
    for name, group in (("seen", seen), ("unseen", ~seen)):
        c = group & chose
        out[f"right_{name}"] = round(float(right[c].mean()), 3) if c.any() else None
        out[f"chose_{name}"] = int(c.sum())
    out["chose_up"] = round(float(chose_up[chose].mean()), 3) if chose.any() else None
    out["drawn"] = round(float(np.mean(drawn)), 3) if drawn else None
    acc = linear_probe(z_seen[seen], cue_is_key[seen])
    out["cue_in_z_when_seen"] = None if acc is None else round(acc, 3)
    for name, x in feats.items():
        acc = linear_probe(x[at_split & seen], cue_is_key[at_split & seen])
        out[f"cue_in_{name}"] = None if acc is None else round(acc, 3)
    return out


def main() -> None:
    a, agent, env = load_probe_args(
        __doc__.splitlines()[0],
        lambda cfg: (
            None
            if cfg.env.startswith("MiniGrid-Memory")
            else f"trained on {cfg.env}, not a MiniGrid-Memory env"
        ),
    )
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **probe(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
