"""Is ActiveVisualMatch's choice learnable from what the policy takes in? A supervised check.

The choice asks the agent to walk to the square whose colour matches the one it saw in the first
room: a match between a remembered colour and the squares in view. For B episodes of a checkpoint
(env copies 0..B-1, one episode each, sampled actions as in training) this records, at every
final-phase step of the episodes that saw the cue square with the matching square in the agent's
5 x 5 view (elsewhere the view cannot say where it is), what the policy can take in and the
oracle's action there (the first step of a shortest path to the matching square, around the
others). A small MLP (one hidden layer of the policy head's width) is fitted by supervision on
the first half of the episodes and scored on the second half, from four inputs:

* view: z_t alone (mu_q for MERLIN), which can find a square but not say which one;
* view+memory: z_t, the MBP's reads m_{t-1}, the policy's h~_{t-1} and its own read m~_t
  (those the agent has);
* view+cue: z_t and the cue's colour itself, one-hot: what a perfect memory could add;
* view+row: z_t and the z-half of the memory rows written while the cue square was in view
  (their mean): what a read that found those rows would give (MERLIN and RL-MEM).

Beside them: the share of held-out steps on which walking to the nearest square of any colour is
the oracle's action (what a policy that ignores the cue gets right), and on which the agent's own
sampled action is. If view+memory is well above view, the match is in the policy's inputs in a
form that a network of its size learns from this many episodes when told the answer, and what
fails is the reinforcement signal; if not, the inputs do not carry it in a learnable form.

    python experiments/match_fit.py --checkpoint RUN/checkpoints/final.pt [--episodes 4096]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from merlin_rl.agent import Agent
from merlin_rl.envs.gridworld import COLOUR0, PALETTE, WALL
from merlin_rl.nn_utils import mlp

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import TASK, _Stepper, load_probe_args, policy_readout  # noqa: E402


def fit_accuracy(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, hidden: int, classes: int, steps: int = 400
) -> float:
    """Held-out accuracy of an MLP (one tanh hidden layer of ``hidden`` units) fitted by
    cross-entropy on the rows ``train`` (bool [n]) of ``x`` (float [n, d]) to ``y`` (int [n] in
    [0, classes)), scored on the other rows."""
    torch.manual_seed(0)
    xt = torch.as_tensor(x, dtype=torch.float32)
    xt = (xt - xt[train].mean(0)) / (xt[train].std(0) + 1e-6)
    yt = torch.as_tensor(y)
    net = mlp(x.shape[1], hidden, classes)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    with torch.enable_grad():
        for _ in range(steps):
            loss = F.cross_entropy(net(xt[train]), yt[train])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        guess = net(xt[~train]).argmax(-1)
    return float((guess == yt[~train]).float().mean())


def cue_rows_z(memory, seen_at: np.ndarray, t: int) -> np.ndarray:
    """The mean z-half of the rows of ``memory`` (M_{t-1}, B x N rows of [z, retroactive z])
    written at a step s <= t with ``seen_at[b, s]`` (the cue in view): (B, W / 2); zeros where
    no such row is held."""
    steps = memory.write_step.clamp(0, t).numpy()
    rows = memory.written.numpy() & np.take_along_axis(seen_at, steps, 1)  # (B, N)
    half = memory.M[..., : memory.M.shape[-1] // 2].numpy()  # the z_t each row holds
    return (rows[..., None] * half).sum(1) / np.maximum(rows.sum(1, keepdims=True), 1)


@torch.no_grad()
def collect(agent: Agent, env, seed: int) -> dict[str, np.ndarray]:
    """Per final-phase step of the episodes that saw the cue square, with the matching square in
    view: the inputs ("view", "memory", "cue", and "row" for an agent with memory), the oracle's
    action, the nearest-square action, the agent's action and the episode's index; and
    "in_view_share", the share of those episodes' final-phase steps that had the matching square
    in view."""
    core, b = env.core, env.num_envs
    stepper = _Stepper(agent, env, seed)
    seen, done_at = np.zeros(b, bool), np.full(b, -1)
    seen_at = np.zeros((b, core.episode_length + 1), bool)  # step t: the square was in view
    in_view_steps = [0, 0]  # final-phase steps of seen episodes: with the square in view, all
    rows: dict[str, list[np.ndarray]] = {}
    rows_seen: list[np.ndarray] = []  # the cue rows' z (view+row)
    for t in range(core.episode_length + 1):
        live = done_at < 0
        if not live.any():
            break
        phase = core.phase.copy()
        in_view = (core._window() == core.target[:, None]).any(1)  # acting leaves the env as is
        sees = in_view & (phase == 0) & live
        seen |= sees
        seen_at[sees, t] = True
        oracle = core.oracle()
        room = core._current()
        nearest = core._path_actions(room >= COLOUR0, (room != WALL) & (room < COLOUR0))
        before = stepper.state
        memory, out = stepper.act()
        final = live & (phase == 2) & seen
        in_view_steps[0] += int((final & in_view).sum())
        in_view_steps[1] += int(final.sum())
        at = np.nonzero(final & in_view)[0]
        if len(at):
            view = out.dist["mu_q"] if agent.is_merlin else out.z
            parts = [view, agent.policy.own_state(before.pol_h).flatten(1)]
            if memory is not None:  # the MBP's reads and the policy's own read
                parts += [before.m, policy_readout(out, memory).flatten(1)]
                rows_seen.append(cue_rows_z(memory, seen_at, t)[at])
            for name, x in (
                ("view", view.numpy()),
                ("memory", torch.cat(parts, -1).numpy()),
                ("cue", np.eye(len(PALETTE), dtype=np.float32)[core.target - COLOUR0]),
                ("oracle", oracle),
                ("nearest", nearest),
                ("action", out.action.numpy()),
                ("episode", np.arange(b)),
            ):
                rows.setdefault(name, []).append(x[at])
        _, done, valid = stepper.advance(out)
        done_at = np.where(live & done & valid, 0, done_at)
    out = {k: np.concatenate(v) for k, v in rows.items()}
    if rows_seen:
        out["row"] = np.concatenate(rows_seen)
    out["in_view_share"] = np.array(in_view_steps[0] / max(in_view_steps[1], 1))
    return out


def match_fit(agent: Agent, env, seed: int) -> dict:
    """The four fits' held-out accuracies and the two reference shares (module docstring)."""
    data = collect(agent, env, seed)
    if "view" not in data:
        return {"episodes": env.num_envs, "steps_train": 0, "steps_test": 0}
    train = data["episode"] < env.num_envs // 2
    test = ~train
    hidden, classes = agent.cfg.mlp_hidden, agent.num_actions
    oracle = data["oracle"]
    view_cue = np.concatenate([data["view"], data["cue"]], 1)
    return {
        "episodes": env.num_envs,
        "steps_train": int(train.sum()),
        "steps_test": int(test.sum()),
        "in_view_share": round(float(data["in_view_share"]), 3),
        "fit_view": round(fit_accuracy(data["view"], oracle, train, hidden, classes), 3),
        "fit_view_memory": round(fit_accuracy(data["memory"], oracle, train, hidden, classes), 3),
        "fit_view_cue": round(fit_accuracy(view_cue, oracle, train, hidden, classes), 3),
        "fit_view_row": None
        if "row" not in data
        else round(
            fit_accuracy(
                np.concatenate([data["view"], data["row"]], 1), oracle, train, hidden, classes
            ),
            3,
        ),
        "nearest_square": round(float((data["nearest"][test] == oracle[test]).mean()), 3),
        "agent": round(float((data["action"][test] == oracle[test]).mean()), 3),
    }


def main() -> None:
    def check(cfg) -> str | None:
        return None if cfg.env == TASK else f"trained on {cfg.env}; allowed: {TASK}"

    a, agent, env = load_probe_args(__doc__.splitlines()[0], check)
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **match_fit(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
