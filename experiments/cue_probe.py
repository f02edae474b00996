"""Where the memory chain breaks on a memory task: is the cue seen, drawn, read, used?

ActiveVisualMatch shows a coloured square in the first room (only if the agent walks to where it
comes into view) and asks for its colour 60 steps later. A trained MERLIN can fail at any link of
the chain, and this script measures each one on B episodes of a checkpoint (env copies 0..B-1,
one episode each, sampled actions as in training):

* seen: the share of episodes in which the square came into the agent's 5 x 5 view in phase 1;
* drawn: on the steps where it is in view, the share in which the MBP's reconstruction from z_t
  paints the square's pixels nearest to the right colour of the 8-colour palette (chance 1/8);
* read: at the first step of the final phase, the read weight the policy (and each MBP head) puts
  on the rows written while the square was in view, against the share of such rows among the
  rows written so far (what a uniform read would give);
* used: of the episodes that saw the square and ended on a square, the share that picked the
  matching one (chance 1/4), against the same share for the episodes that did not see it;
* the final room's squares: on every final-phase step, of the squares in view, the share that
  the reconstruction paints nearest to their own colour (``drawn_final``: can z tell them apart?);
* held at the choice (``cue_in_*_choice``): on the episodes that saw it, the held-out balanced
  accuracy of a softmax probe for the square's colour from z_t, the policy's h~_{t-1}, its read
  and the MBP's reads m_{t-1} at the first step of the final phase (chance 1 / colours seen).

On KeyToDoor the cue is the key: "seen" is the key in view in phase 1, "drawn" the share of
those steps on which the reconstruction from z_t paints the key's pixels nearer to the key's
yellow than to the first room's floor (a blank floor is what a z without the key would draw),
"read" the weight on the rows written while it was in view, and in place of "used" it counts the
episodes that fetched the key and that opened the door (5 points; the door needs the key, not a
memory of it: what memory adds there is the credit for fetching it). Beside them it measures
whether the return head knows the key (V's gap between the two groups of episodes at each
phase's start, against their returns' and V's lambda-targets' gaps), where "fetched" can be read
(linear probes on z, m_{t-1} and both LSTMs' h at the door), and whether a ridge regression on
what V could take in (z_t, m_{t-1}; with "fetched" itself as an oracle) fits the key-dependent
part of V's door-phase targets on held-out episodes, with the targets over the whole episode and
cut into training segments of tau steps ("cut_" keys).

On InstructedGoal the cue is the instruction, shown at step 0 only: "drawn" is how well the MBP's
text decoder gives it back from z_0 (its negative log-likelihood in nats, against ln 6 + ln 3 =
2.89 for the colour and shape tokens guessed, and the share of colour and shape tokens right,
chance 1/6 and 1/3), "read" the policy's (and each MBP head's) mean weight on row 0 over the later
steps, against a uniform read's, and "used" the share of episodes that reach the named object
(the random policy 0.26).

On WaterMaze the platform is hidden and stays put for the episode, so the question is behavioural:
the steps searched per find before the first find (a search) against those after it (from each
new random start back to the remembered platform: the oracle's 11.6 steps). Both are finds per
step searched, cut off at the episode's end (for a searcher without memory they agree, whatever
the cut); later finds that come faster than the first say that the platform is recalled.

On MemoryGame the question is behavioural too: of the second flips of a turn (a card is up),
how many match when the up card's twin has been seen in the episode (a perfect memory: all of
them; ``match_twin_seen_by_chance``: a random pick among the face-down cards) and when it has
not (chance); of the first flips, the share on cards already seen and on a seen pair (a
memory player flips a seen pair, or an unseen card). ``experiments/memory_ceilings.py`` plays a
perfect memory and the view alone for comparison. Softmax probes then ask what knows the
cursor's cell, the face under the cursor (when it shows) and, in an open turn whose twin has
been seen, the twin's cell (the view's pixels, z_t, both LSTMs, the MBP's and the policy's
reads), and whether a row that shows the twin is fetched (the top row) by z_t itself as a cosine
read key, by the policy's own read (and its weight on such rows), and by a linear key fitted
from z_t on half the episodes (held out on the others; against a constant key fitted the same
way, the content-free control: what a fixed preference among rows fetches); and, after the player
turns up a card it has seen, whether the MBP's read that the prior of the next step uses fetches
a row that showed that card (and its weight on them), against a linear key fitted from the MBP's
h_t and the constant key; and how old the rows the reads fetch are (from step
``LOCATE_FROM`` on: the median steps since each read's top row was written, and the share
written in the last two steps).

It prints one JSON line. `merlin-rl memory` draws one episode's read map; this counts.

    python experiments/cue_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 64] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from merlin_rl import losses
from merlin_rl.agent import Agent
from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.envs import make_vector_env
from merlin_rl.envs.gridworld import COLOUR0, FLOOR_TINTS, KEY, KEY_RGB, PALETTE

TASK = "merlin_rl/ActiveVisualMatch-v0"
LOCATE_FROM = 10  # MemoryGame: the position probes start at this step (time to localise)
TASKS = (
    TASK,
    "merlin_rl/KeyToDoor-v0",
    "merlin_rl/InstructedGoal-v0",
    "merlin_rl/WaterMaze-v0",
    "merlin_rl/MemoryGame-v0",
)


def painted_colour(
    obs: np.ndarray, rec: np.ndarray, rgb: np.ndarray, candidates: np.ndarray = PALETTE / 255
) -> int | None:
    """The index of the colour in ``candidates`` ([K, 3] in [0, 1]; the 8-colour palette unless
    given) nearest to the mean reconstructed colour of the pixels that show ``rgb`` in ``obs``
    (both [H, W, 3] in [0, 1]), or None where no pixel shows it."""
    mask = np.abs(obs - rgb).max(-1) < 1e-3
    if not mask.any():
        return None
    painted = rec[mask].mean(0)
    return int(np.argmin(((candidates - painted) ** 2).sum(-1)))


class _Stepper:
    """Steps one episode of every env copy as training acts (sampled actions, the reward scale
    in r_{t-1}): ``act`` gives the memory the step read (M_{t-1}) and the step's output, then
    ``advance`` applies its action and gives (r, done, valid) as NumPy arrays."""

    def __init__(self, agent: Agent, env, seed: int) -> None:
        from merlin_rl.acting import EnvLoop

        self.agent, self.loop = agent, EnvLoop(env, agent, torch.device("cpu"), seed)
        self.state = agent.initial_state(env.num_envs)

    def act(self):
        self.state = self.state.reset(self.loop.episode_start)
        memory = self.state.memory
        out, self.state = self.agent.step(self.loop.obs, self.state)
        return memory, out

    def advance(self, out) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r, done, _, valid = self.loop.step(out.action)
        self.state.prev_reward = (r * self.agent.reward_scale())[:, None]
        return r.numpy(), done.numpy(), valid.numpy()


def policy_readout(out, memory) -> torch.Tensor:
    """What the policy's keys read at this step, m~_t = sum_j w~[j] M_{t-1}[j]: (B, K~, W), from
    the step's read weights and the memory it read."""
    return torch.einsum("bkn,bnw->bkw", out.policy_weights, memory.M)


def _drawing(agent: Agent, out, image: str) -> tuple[np.ndarray, np.ndarray]:
    """The step's true view and the MBP's reconstruction of it from z_t, [B, H, W, 3] in [0, 1]."""
    obs = out.obs[image].permute(0, 2, 3, 1).numpy()
    z_image = agent.mbp.decoder_input(out.z, image)
    rec = agent.mbp.codec.modality(image).reconstruct(z_image).permute(0, 2, 3, 1).numpy()
    return obs, rec


def _heads(out) -> dict[str, torch.Tensor]:
    """Each read head's weights over the memory rows (B, N): the policy's (its first key
    "policy", any more "policy2", ...) and the MBP's."""
    heads = {"policy": out.policy_weights[:, 0]}
    for k in range(1, out.policy_weights.shape[1]):
        heads[f"policy{k + 1}"] = out.policy_weights[:, k]
    for k in range(out.mbp_weights.shape[1]):
        heads[f"mbp{k + 1}"] = out.mbp_weights[:, k]
    return heads


def _read_shares(reads: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    """Per head, the mean weight on the cue's rows and what a uniform read would put there."""
    out = {}
    for name, pairs in sorted(reads.items()):
        w, share = np.array(pairs).T
        out[f"read_{name}"] = round(float(w.mean()), 3)
        out[f"read_uniform_{name}"] = round(float(share.mean()), 3)
    return out


@torch.no_grad()
def probe(agent: Agent, env, seed: int) -> dict:
    """Counts of each link of the chain over one episode of every env copy."""
    core, b = env.core, env.num_envs
    stepper = _Stepper(agent, env, seed)
    image = next(n for n, m in agent.mbp.codec.items() if m.kind == "image")
    avm = hasattr(core, "target")  # else KeyToDoor, whose cue is the key
    drawing = bool(agent.mbp.decoders)  # RL-MEM and RL-LSTM draw nothing
    reading = agent.use_memory  # RL-LSTM reads nothing
    if avm:  # the square's colour, told from the palette's other 7
        colour = PALETTE[core.target.astype(int) - COLOUR0].astype(np.float32) / 255  # [B, 3]
        candidates, right = PALETTE / 255, core.target.astype(int) - COLOUR0
    else:  # the key's colour, told from the first room's floor (what the agent sees without it)
        colour = np.broadcast_to(np.array(KEY_RGB, np.float32) / 255, (b, 3))
        candidates = np.stack([np.array(KEY_RGB), FLOOR_TINTS[0]]) / 255
        right = np.zeros(b, int)
    fetched = np.zeros(b, bool)
    seen_rows = np.zeros((b, core.episode_length + 1), bool)  # step t: the square was in view
    drawn, in_view = 0, 0
    reads: dict[str, list[tuple[float, float]]] = {}
    done_at = np.full(b, -1)
    read_done = np.zeros(b, bool)
    final_reward = np.zeros(b)
    steps = core.episode_length + 1
    values, rewards, phases = np.zeros((b, steps)), np.zeros((b, steps)), np.full((b, steps), -1)
    door_z, door_z_set = np.zeros((b, agent.cfg.z_dim), np.float32), np.zeros(b, bool)
    door_x: dict[str, np.ndarray] = {}  # the MBP's reads and both LSTMs' h at the same step
    door_steps: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []
    tvt_in: list[tuple[torch.Tensor, ...]] = []  # what value transport would act on, per step
    tvt_pol: list[tuple[torch.Tensor, ...]] = []  # the same for the policy's reads
    choice_x: dict[str, np.ndarray] = {}  # ActiveVisualMatch: what each part holds at the choice
    choice_set, cue = np.zeros(b, bool), np.zeros(b, int)
    final_drawn: list[bool] = []  # ActiveVisualMatch: each final-room square in view drawn right
    for t in range(steps):
        live = done_at < 0
        if not live.any():
            break
        phase = core.phase.copy()
        target = core.target.astype(int) if avm else np.full(b, KEY)
        view = (core._window() == target[:, None]).any(1) & (phase == 0) & live
        before = stepper.state  # what step t reads: m_{t-1} and both LSTMs' h_{t-1}
        memory, out = stepper.act()
        if not avm and drawing:  # V_t in the env's reward units
            values[:, t] = agent.evaluate([out]).value[0].numpy() / agent.reward_scale()
            phases[:, t] = np.where(live, phase, -1)
            first_door = live & (phase == 2) & ~door_z_set
            door_z[first_door] = out.z.numpy()[first_door]
            for name, x in (
                ("reads", before.m),
                ("mbp_h", before.mbp_h),
                ("policy_h", agent.policy.own_state(before.pol_h)),
            ):
                door_x.setdefault(name, np.zeros((b, x[0].numel()), np.float32))
                door_x[name][first_door] = x.flatten(1).numpy()[first_door]
            door_z_set |= first_door
            at_door = live & (phase == 2)
            if at_door.any():  # every door-phase step: what a value regression could take in
                door_steps.append((np.nonzero(at_door)[0], t, out.z.numpy(), before.m.numpy()))
            if reading:  # the MBP's reads of M_{t-1}: weights, strengths, the rows' ages
                strength = _mbp_strengths(agent, before, out)
                ages, over = memory.ages(), torch.from_numpy(~live)
                tvt_in.append((out.mbp_weights, strength, ages, over))
                pol_strength = _policy_strengths(agent, before, out, memory)
                tvt_pol.append((out.policy_weights, pol_strength, ages, over))
        squares = live & (phase == 2) if avm and drawing else np.zeros(b, bool)
        if drawing and (view.any() or squares.any()):  # the true view and its reconstruction
            obs, rec = _drawing(agent, out, image)
        if drawing and view.any():  # the square's pixels in both
            for i in np.nonzero(view)[0]:  # a probe, not a hot path
                nearest = painted_colour(obs[i], rec[i], colour[i], candidates)
                if nearest is not None:
                    drawn += int(nearest == right[i])
                    in_view += 1
        if squares.any():  # the final room's squares in view, each painted by the reconstruction
            window = core._window()
            for i in np.nonzero(squares)[0]:  # a probe, not a hot path
                for code in np.unique(window[i][window[i] >= COLOUR0]):
                    k = int(code) - COLOUR0
                    nearest = painted_colour(obs[i], rec[i], PALETTE[k] / 255)
                    if nearest is not None:
                        final_drawn.append(nearest == k)
        seen_rows[view, t] = True
        first_choice = live & (phase == 2) & ~choice_set if avm else np.zeros(b, bool)
        if first_choice.any():  # z_t, the MBP's reads m_{t-1}, the policy's h~_{t-1} and read
            parts = {"z": out.z, "policy_h": agent.policy.own_state(before.pol_h).flatten(1)}
            if reading:
                parts["mbp_reads"] = before.m
                parts["policy_read"] = policy_readout(out, memory)
            for name, x in parts.items():
                choice_x.setdefault(name, np.zeros((b, x[0].numel()), np.float32))
                choice_x[name][first_choice] = x.flatten(1).numpy()[first_choice]
            cue[first_choice] = core.target.astype(int)[first_choice] - COLOUR0
            choice_set |= first_choice
        first_final = live & (phase == 2) & ~read_done & reading
        read_done |= first_final
        heads = {name: w.numpy() for name, w in _heads(out).items()} if first_final.any() else {}
        for i in np.nonzero(first_final)[0]:  # the rows the reads saw: M_{t-1}, before the write
            held = memory.written[i].numpy()
            steps = memory.write_step[i].numpy()
            rows = held & seen_rows[i, np.clip(steps, 0, t)]
            if not rows.any():
                continue
            for name, w in heads.items():
                reads.setdefault(name, []).append(
                    (float(w[i][rows].sum()), rows.sum() / held.sum())
                )
        r, done, valid = stepper.advance(out)
        rewards[:, t] = np.where(live, r, 0.0)
        final_reward = np.where(live & (phase == 2), final_reward + r, final_reward)
        done_at = np.where(live & done & valid, t, done_at)
        if not avm:
            fetched |= live & core.has_key
    seen = seen_rows.any(1)
    ended_on_square = (done_at >= 0) & (done_at < core.episode_length - 1)
    right = final_reward >= core.final_reward
    out: dict = {"episodes": b, "seen": round(float(seen.mean()), 3)}
    out["return"] = round(float(rewards.sum(1).mean()), 3)
    out["apples"] = round(float((rewards.sum(1) - final_reward).mean() / core.apple_reward), 3)
    if avm:  # episodes that ended on a square, whichever its colour
        out["chose"] = round(float(ended_on_square.mean()), 3)
    if drawing:
        out.update(drawn=round(drawn / in_view, 3) if in_view else None, in_view_steps=in_view)
    if not avm:
        out.update(
            fetched=round(float(fetched.mean()), 3),
            opened=round(float(right.mean()), 3),
            fetched_when_seen=round(float(fetched[seen].mean()), 3) if seen.any() else None,
        )
        if drawing:
            out.update(key_gaps(values, rewards, phases, fetched, agent.cfg.gamma, agent.cfg.lam))
            out.update(door_fit(door_steps, values, rewards, phases, fetched, agent.cfg))
            for name, x in (("z", door_z), *door_x.items()):
                acc = linear_probe(x[door_z_set], fetched[door_z_set])
                out[f"key_in_{name}_start2"] = None if acc is None else round(acc, 3)
            if tvt_in:
                out.update(transport_gaps(tvt_in, values, phases, fetched, agent.cfg))
                pol = transport_gaps(tvt_pol, values, phases, fetched, agent.cfg)
                out.update({k.replace("tvt_", "tvt_policy_", 1): v for k, v in pol.items()})
    out.update(_read_shares(reads))
    for name, group in (("seen", seen), ("unseen", ~seen)) if avm else ():
        chose = group & ended_on_square
        out[f"match_{name}"] = round(float(right[chose].mean()), 3) if chose.any() else None
        out[f"chose_{name}"] = int(chose.sum())
    if final_drawn:
        out["drawn_final"] = round(float(np.mean(final_drawn)), 3)
        out["final_square_views"] = len(final_drawn)
    for name, x in choice_x.items():  # the cue's colour, of the palette's, on seen episodes
        acc = class_probe(x[choice_set & seen], cue[choice_set & seen])
        out[f"cue_in_{name}_choice"] = None if acc is None else round(acc, 3)
    return out


@torch.no_grad()
def instruction_probe(agent: Agent, env, seed: int) -> dict:
    """InstructedGoal's chain over one episode of every env copy (see the module docstring)."""
    b = env.num_envs
    stepper = _Stepper(agent, env, seed)
    out: dict = {"episodes": b}
    reads: dict[str, list[tuple[float, float]]] = {}
    done_at, success = np.full(b, -1), np.zeros(b, bool)
    for t in range(env.episode_length + 1):
        live = done_at < 0
        if not live.any():
            break
        memory, step = stepper.act()
        if t == 0 and agent.mbp.decoders:
            text = agent.mbp.codec.modality("text")
            target = step.obs["text"]
            z_text = agent.mbp.decoder_input(step.z, "text")
            guess = text.decoder(z_text).view(b, text.length, text.vocab).argmax(-1)
            out["drawn_nll"] = round(float(text.recon_loss(z_text, target).mean()), 3)
            out["drawn_colour"] = round(float((guess[:, 3] == target[:, 3]).float().mean()), 3)
            out["drawn_shape"] = round(float((guess[:, 4] == target[:, 4]).float().mean()), 3)
        if t > 0 and agent.use_memory:
            held = memory.written.numpy() & live[:, None]
            first = held & (memory.write_step.numpy() == 0)  # the row written at step 0
            heads = {name: w.numpy() for name, w in _heads(step).items()}
            for i in np.nonzero(first.any(1))[0]:
                for name, w in heads.items():
                    reads.setdefault(name, []).append(
                        (float(w[i][first[i]].sum()), 1 / held[i].sum())
                    )
        r, done, valid = stepper.advance(step)
        success |= live & (r > 0)
        done_at = np.where(live & done & valid, t, done_at)
    out.update(_read_shares(reads))
    out["used"] = round(float(success.mean()), 3)
    return out


def _mbp_strengths(agent: Agent, before, out) -> torch.Tensor:
    """The read strengths beta (B, K^r) of the MBP's reads at this step: recorded when the
    checkpoint trained with --tvt-alpha, else recomputed from the MBP LSTM's input as Agent.step
    built it."""
    if out.mbp_strengths is not None:
        return out.mbp_strengths
    a = F.one_hot(out.action, agent.num_actions).to(out.z.dtype)
    h_cat, _, _ = agent.mbp.lstm(torch.cat([out.z, a, before.m], -1), before.mbp_h, before.mbp_c)
    return agent.mbp.read_interface(h_cat)[1]


def _policy_strengths(agent: Agent, before, out, memory) -> torch.Tensor:
    """The read strengths beta (B, K~) of the policy's reads at this step, recomputed from its
    LSTM's input as Agent.step built it."""
    z_pol, _ = agent.policy_inputs(out.z, out.dist, out.reads, memory, None)
    h_cat, _, _ = agent.policy.core(z_pol, before.pol_h, before.pol_c)
    return agent.policy.read_interface(agent.policy.own_output(h_cat))[1]


def transport_gaps(
    tvt_in: list[tuple[torch.Tensor, ...]],
    values: np.ndarray,
    phases: np.ndarray,
    fetched: np.ndarray,
    cfg,
) -> dict:
    """KeyToDoor: the value that Temporal Value Transport (merlin_rl.tvt, alpha 0.9 unless the
    run set one, the run's threshold and gamma) would send into the key phase, summed over its
    steps, in episodes that fetched the key and in those that did not (env reward units: V_t as
    the probe computes it), and the part of it sent by door-phase reads. ``tvt_in``: per step
    the MBP's read weights (B, K, N), strengths (B, K), the rows' ages (B, N), and whether the
    env copy's episode is over (B,)."""
    from merlin_rl import tvt

    weights, strengths, ages, over = (torch.stack(x) for x in zip(*tvt_in))
    T = weights.shape[0]
    v = torch.from_numpy(values[:, :T].T.astype(np.float32))
    alpha = cfg.tvt_alpha or 0.9
    period = tvt.no_transport_period(cfg.gamma)
    args = (weights, strengths, ages)
    sent = tvt.transport(*args, v, over, alpha, cfg.tvt_threshold, period).numpy().T  # (B, T)
    door_v = torch.where(torch.from_numpy(phases[:, :T].T == 2), v, 0.0)
    from_door = tvt.transport(*args, door_v, over, alpha, cfg.tvt_threshold, period).numpy().T
    key = phases[:, :T] == 0
    into_key, door_key = (sent * key).sum(1), (from_door * key).sum(1)
    out = {}
    for name, group in (("fetched", fetched), ("unfetched", ~fetched)):
        if group.any():
            out[f"tvt_key_{name}"] = round(float(into_key[group].mean()), 3)
            out[f"tvt_key_from_door_{name}"] = round(float(door_key[group].mean()), 3)
    return out


def key_gaps(
    values: np.ndarray,
    rewards: np.ndarray,
    phases: np.ndarray,
    fetched: np.ndarray,
    gamma: float,
    lam: float | None = None,
) -> dict:
    """KeyToDoor: does the return head know that the key was fetched? At the last step of the
    key's phase and the first step of each later phase, the mean V_t of the episodes that fetched
    the key minus that of those that did not, against the same gap in the discounted return
    G_t = sum_k gamma^k r_{t+k} that the episodes went on to get, and (with ``lam``) in the
    lambda-return G^lam_t = r_t + gamma ((1 - lam) V_{t+1} + lam G^lam_{t+1}) built on these V
    (what V is regressed on, over the whole episode: no segment cut). ``values``, ``rewards``
    (float [B, T], rewards zero after the episode's end) and ``phases`` (int [B, T], -1 after
    it) per step."""
    returns, lam_returns = episode_returns(values, rewards, phases, gamma, lam)
    series = [("value", values), ("return", returns)]
    out = {}
    if lam is not None:
        series.append(("target", lam_returns))
        for phase in range(int(phases.max()) + 1):  # how well V follows its targets, by phase
            at = phases == phase
            if at.sum() > 2:
                out[f"value_target_corr_phase{phase}"] = round(
                    float(np.corrcoef(values[at], lam_returns[at])[0, 1]), 3
                )
                out[f"value_sd_phase{phase}"] = round(float(values[at].std()), 3)
                out[f"target_sd_phase{phase}"] = round(float(lam_returns[at].std()), 3)
    for name, phase, last in (("end0", 0, True), ("start1", 1, False), ("start2", 2, False)):
        at = phases == phase
        idx = np.where(
            at.any(1), (at.shape[1] - 1 - at[:, ::-1].argmax(1)) if last else at.argmax(1), -1
        )
        ok = idx >= 0
        if not (ok & fetched).any() or not (ok & ~fetched).any():
            continue
        rows = np.arange(len(idx))
        for what, x in series:
            v = x[rows, idx]
            out[f"{what}_gap_{name}"] = round(
                float(v[ok & fetched].mean() - v[ok & ~fetched].mean()), 3
            )
    return out


def episode_returns(
    values: np.ndarray,
    rewards: np.ndarray,
    phases: np.ndarray,
    gamma: float,
    lam: float | None,
    starts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The discounted return G_t and (with ``lam``, else zeros) the lambda-return G^lam_t =
    r_t + gamma ((1 - lam) V_{t+1} + lam G^lam_{t+1}) of every step, over the whole episode
    (float [B, T]; ``phases`` -1 after the episode's end, where V counts as 0), or with
    ``starts`` (bool [B, T]: a training segment starts at t) cut as the learner cuts it: at the
    last step of a segment G^lam_t = r_t + gamma V_{t+1}. Both from the learner's
    :func:`merlin_rl.losses.gae` (G^lam = Adv + V; G = the advantage with lam 1 and V = 0)."""
    ended = np.concatenate([phases[:, 1:] < 0, np.ones((len(phases), 1), bool)], 1)
    v = np.where(phases >= 0, values, 0.0)
    # time-major (T, B) tensors for losses.gae; after an episode's end r = V = 0
    r_t, v_t, end_t = (torch.from_numpy(np.ascontiguousarray(x.T)) for x in (rewards, v, ended))
    zero = torch.zeros(len(rewards), dtype=r_t.dtype)
    returns = losses.gae(r_t, torch.zeros_like(v_t), zero, end_t, end_t, gamma, 1.0).T.numpy()
    lam_returns = np.zeros_like(rewards)
    if lam is not None:
        cut = None
        if starts is not None:  # a segment's last step: the next step starts a segment
            cut = torch.from_numpy(np.concatenate([starts[:, 1:], ended[:, -1:]], 1).T.copy())
        adv = losses.gae(r_t, v_t, zero, end_t, end_t, gamma, lam, cut=cut)
        lam_returns = (adv + v_t).T.numpy()
    return returns, lam_returns


def ridge_fit(x: np.ndarray, y: np.ndarray, train: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """Predictions for every row of ``x`` (float [n, d]) of a ridge regression to ``y`` ([n])
    fitted on the rows where ``train`` (bool [n]) holds, on features standardised by those rows:
    w = (X'X + ridge I)^-1 X'(y - mean y)."""
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    xs = (x - mu) / sd
    xt, yt = xs[train], y[train] - y[train].mean()
    w = np.linalg.solve(xt.T @ xt + ridge * np.eye(x.shape[1]), xt.T @ yt)
    return xs @ w + y[train].mean()


def value_fit(
    features: dict[str, np.ndarray],
    target: np.ndarray,
    value: np.ndarray,
    fetched: np.ndarray,
    first: np.ndarray,
    train: np.ndarray,
) -> dict:
    """Could a regression on what V takes in fit the key-dependent part of V's targets? Over
    KeyToDoor's door-phase steps (rows), per feature set: a ridge regression fitted to the
    lambda-return ``target`` on the ``train`` rows (the first half of the episodes), then on the
    held-out rows its R^2 and, at each episode's first door step (``first``), the gap of its
    prediction between the episodes that ``fetched`` the key and the others; the same two for
    V itself (``value``), which was trained on every episode of its training run."""

    def scores(pred: np.ndarray) -> tuple[float, float | None]:
        test = ~train
        resid = ((target[test] - pred[test]) ** 2).mean()
        r2 = 1 - resid / target[test].var()
        at = test & first
        if not (at & fetched).any() or not (at & ~fetched).any():
            return round(float(r2), 3), None
        gap = pred[at & fetched].mean() - pred[at & ~fetched].mean()
        return round(float(r2), 3), round(float(gap), 3)

    out = {}
    r2, gap = scores(value)
    out.update(fit_r2_value=r2, fit_gap_value=gap)
    _, target_gap = scores(target)
    out["fit_gap_target"] = target_gap
    for name, x in features.items():
        r2, gap = scores(ridge_fit(x, target, train))
        out[f"fit_r2_{name}"], out[f"fit_gap_{name}"] = r2, gap
    return out


def door_fit(
    door_steps: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]],
    values: np.ndarray,
    rewards: np.ndarray,
    phases: np.ndarray,
    fetched: np.ndarray,
    cfg,
) -> dict:
    """:func:`value_fit` on the door-phase steps that :func:`probe` collected (per step: the
    episodes at the door, t, z_t and m_{t-1} of every episode), on z, on [z, m_{t-1}] and, as an
    oracle, on [z, m_{t-1}, fetched]."""
    if not door_steps:
        return {}
    _, lam_returns = episode_returns(values, rewards, phases, cfg.gamma, cfg.lam)
    ep = np.concatenate([e for e, *_ in door_steps])
    t = np.concatenate([np.full(len(e), s) for e, s, *_ in door_steps])
    z = np.concatenate([zz[e] for e, _, zz, _ in door_steps])
    reads = np.concatenate([m[e] for e, _, _, m in door_steps])
    first_t = np.full(len(values), values.shape[1])
    np.minimum.at(first_t, ep, t)
    first = t == first_t[ep]
    got = fetched[ep]
    features = {
        "z": z,
        "z_reads": np.concatenate([z, reads], 1),
        "z_reads_fetched": np.concatenate([z, reads, got[:, None]], 1),
    }
    train = ep < len(values) // 2
    out = value_fit(features, lam_returns[ep, t], values[ep, t], got, first, train)
    # the targets as training cuts them: segments of tau steps, the episode's offset in its
    # segment drawn at random (an episode of L steps starts L mod tau later in the next one)
    b, n = values.shape
    offset = np.random.default_rng(0).integers(0, cfg.tau, size=b)
    starts = (np.arange(n)[None, :] + offset[:, None]) % cfg.tau == 0
    _, cut_returns = episode_returns(values, rewards, phases, cfg.gamma, cfg.lam, starts)
    cut = value_fit(features, cut_returns[ep, t], values[ep, t], got, first, train)
    out.update({f"cut_{k}": v for k, v in cut.items() if k != "fit_gap_value"})
    return out


def linear_probe(x: np.ndarray, y: np.ndarray, steps: int = 300) -> float | None:
    """Held-out balanced accuracy of a logistic regression from ``x`` (float [n, d]) to ``y``
    (bool [n]): fitted on the first half, scored on the second (0.5 = y is not linearly in x).
    None where either half lacks one of the classes."""
    half = len(y) // 2
    if min(y[:half].sum(), (~y[:half]).sum(), y[half:].sum(), (~y[half:]).sum()) == 0:
        return None
    xt = torch.as_tensor(x, dtype=torch.float32)
    xt = (xt - xt[:half].mean(0)) / (xt[:half].std(0) + 1e-6)
    yt = torch.as_tensor(y, dtype=torch.float32)
    w = torch.zeros(x.shape[1] + 1, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    pos = yt[:half].mean()
    weight = torch.where(yt[:half] > 0, 0.5 / pos, 0.5 / (1 - pos))  # balanced classes
    with torch.enable_grad():
        for _ in range(steps):
            logit = xt[:half] @ w[:-1] + w[-1]
            loss = (
                weight * F.binary_cross_entropy_with_logits(logit, yt[:half], reduction="none")
            ).mean()
            opt.zero_grad()
            (loss + 1e-3 * w[:-1].pow(2).sum()).backward()
            opt.step()
    guess = (xt[half:] @ w[:-1] + w[-1]).detach() > 0
    truth = yt[half:] > 0
    return float(((guess[truth]).float().mean() + (~guess[~truth]).float().mean()) / 2)


def class_probe(x: np.ndarray, y: np.ndarray, steps: int = 300) -> float | None:
    """Held-out balanced accuracy (the mean recall over classes) of a softmax regression from
    ``x`` (float [n, d]) to ``y`` (int [n], any number of classes): fitted on the first half,
    scored on the second (1 / classes = y is not linearly in x). None where a class of the second
    half is missing from the first, or fewer than two classes are seen."""
    half = len(y) // 2
    classes = np.unique(y[:half])
    if len(classes) < 2 or not np.isin(y[half:], classes).all():
        return None
    label = torch.as_tensor(np.searchsorted(classes, y))
    xt = torch.as_tensor(x, dtype=torch.float32)
    xt = (xt - xt[:half].mean(0)) / (xt[:half].std(0) + 1e-6)
    counts = torch.bincount(label[:half], minlength=len(classes)).float()
    w = torch.zeros(x.shape[1] + 1, len(classes), requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.05)
    with torch.enable_grad():
        for _ in range(steps):
            logits = xt[:half] @ w[:-1] + w[-1]
            loss = F.cross_entropy(logits, label[:half], weight=1 / counts)  # balanced classes
            opt.zero_grad()
            (loss + 1e-3 * w[:-1].pow(2).sum()).backward()
            opt.step()
    guess = (xt[half:] @ w[:-1] + w[-1]).argmax(-1)
    truth = label[half:]
    recalls = [(guess[truth == k] == k).float().mean() for k in truth.unique()]
    return float(torch.stack(recalls).mean())


def key_fit(
    x: np.ndarray,
    rows: np.ndarray,
    written: np.ndarray,
    target: np.ndarray,
    episode: np.ndarray,
    steps: int = 300,
) -> tuple[float, float] | None:
    """A linear read key k = W x + c (with a learned strength beta) fitted on the reads of the
    first half of the episodes by the likelihood of the target rows under the read's softmax over
    the written rows, softmax_j(beta cos(k, rows_j)) as :func:`merlin_rl.memory.read_weights`;
    scored on the other episodes by argmax_j cos(k, rows_j). ``x`` float [n, d], ``rows`` float
    [n, N, W], ``written`` and ``target`` bool [n, N], ``episode`` int [n]. Returns (the share of
    held-out reads whose top row is a target, the share of target rows among the written ones on
    those reads): what a learned key could fetch from these rows. Reads without a written target
    row are left out; None where either half has no read. A constant ``x`` is the content-free
    control: what a fixed preference among rows (their age, say: a row's later-z half grows with
    it) fetches."""
    keep = (target & written).any(1)
    x, rows, written, hit = x[keep], rows[keep], written[keep], (target & written)[keep]
    episodes = np.unique(episode[keep])
    first = np.isin(episode[keep], episodes[: len(episodes) // 2])
    order = np.argsort(~first, kind="stable")  # the fitting episodes' reads first
    x, rows, written, hit = x[order], rows[order], written[order], hit[order]
    half = int(first.sum())
    if half == 0 or half == len(x):
        return None
    xt = torch.as_tensor(x, dtype=torch.float32)
    xt = (xt - xt[:half].mean(0)) / (xt[:half].std(0) + 1e-6)
    mt = torch.as_tensor(rows, dtype=torch.float32)
    unit = mt * torch.rsqrt(mt.pow(2).sum(-1, keepdim=True) + 1e-8)
    live, goal = torch.as_tensor(written), torch.as_tensor(hit)
    g = torch.Generator().manual_seed(0)
    w = (0.1 * torch.randn(xt.shape[1], mt.shape[-1], generator=g)).requires_grad_()
    c = torch.zeros(mt.shape[-1], requires_grad=True)
    log_beta = torch.tensor(1.0, requires_grad=True)

    def cosines(sl: slice) -> torch.Tensor:
        k = xt[sl] @ w + c
        k = k * torch.rsqrt(k.pow(2).sum(-1, keepdim=True) + 1e-8)
        return torch.einsum("nw,njw->nj", k, unit[sl]).masked_fill(~live[sl], -2.0)

    opt = torch.optim.Adam([w, c, log_beta], lr=0.05)
    fit = slice(0, half)
    with torch.enable_grad():
        for _ in range(steps):
            logits = (log_beta.exp() * cosines(fit)).masked_fill(~live[fit], -1e9)
            nll = torch.logsumexp(logits, 1) - torch.logsumexp(
                logits.masked_fill(~goal[fit], -1e9), 1
            )
            opt.zero_grad()
            (nll.mean() + 1e-3 * w.pow(2).sum()).backward()
            opt.step()
    with torch.no_grad():
        top = cosines(slice(half, None)).argmax(1)
    share = (hit[half:].sum(1) / written[half:].sum(1)).mean()
    return float(goal[half:].gather(1, top[:, None]).float().mean()), float(share)


def find_rates(finds: np.ndarray) -> tuple[float, float]:
    """Finds per step searched before the first find and after it, from ``finds`` (bool [B, T]:
    a find at step t of episode b), each cut off at the episode's end: the exponential model's
    estimate (finds / steps searched), which is unbiased for a searcher without memory whatever
    the cut. NaN where no step was searched."""
    n = finds.shape[1]
    found = finds.any(1)
    first_at = np.where(found, finds.argmax(1) + 1, n)  # steps searched for the first find
    later_steps = (n - first_at)[found].sum()
    later = (finds.sum(1) - found).sum() / later_steps if later_steps else float("nan")
    return float(found.sum() / first_at.sum()), float(later)


@torch.no_grad()
def platform_probe(agent: Agent, env, seed: int) -> dict:
    """WaterMaze: the steps searched per find before the first find and after it, over one
    episode of every env copy (see the module docstring)."""
    b = env.num_envs
    stepper = _Stepper(agent, env, seed)
    finds = np.zeros((b, env.episode_length), bool)
    for t in range(env.episode_length):
        finds[:, t] = stepper.advance(stepper.act()[1])[0] > 0
    first_rate, later_rate = find_rates(finds)
    found = finds.any(1)
    return {
        "episodes": b,
        "finds_per_episode": round(float(finds.sum(1).mean()), 2),
        "episodes_with_a_find": round(float(found.mean()), 3),
        "steps_per_first_find": round(float(1 / first_rate), 1) if first_rate else None,
        "steps_per_later_find": round(float(1 / later_rate), 1) if later_rate > 0 else None,
    }


def turn_state(core, seen: np.ndarray) -> tuple[np.ndarray, ...]:
    """MemoryGame, before an action: the face-up card of an open turn (bool [B, cells]; a shown
    mismatch turns face down first), the face-down cards, the cursor's cell [B], whether the up
    card's twin is among the ``seen`` cards [B], and that twin's cell [B] (0 where none)."""
    from merlin_rl.envs.memory_game import FACE_DOWN, FACE_UP

    ar = np.arange(core.num_envs)
    up = core.status == FACE_UP
    shown = up & (up.sum(1) == 2)[:, None]
    up, down = up & ~shown, (core.status == FACE_DOWN) | shown
    first = np.argmax(up, axis=1)
    twin = down & seen & (core.face == core.face[ar, first][:, None])
    known = up.any(1) & twin.any(1)
    return up, down, core.row * core.cols + core.col, known, np.argmax(twin, axis=1)


class CardCounter:
    """MemoryGame: counts how a player's flips use what it has seen, one episode per env copy
    (see the module docstring). Call ``before(core, actions)`` with the actions about to be
    taken, then ``after(core, reward, done)`` once they are."""

    def __init__(self, core) -> None:
        b = core.num_envs
        self.seen = np.zeros((b, core.cells), bool)  # cards whose face has been in view
        self.live = np.ones(b, bool)
        self.pairs = np.zeros(b)
        self.n = dict.fromkeys(
            ("flips", "noop", "known", "known_hit", "known_chance", "unknown", "unknown_hit"),
            0.0,
        )
        self.n.update(first=0.0, first_seen=0.0, first_pair=0.0)

    def before(self, core, actions: np.ndarray) -> None:
        from merlin_rl.envs.memory_game import FLIP

        ar, seen, n = np.arange(core.num_envs), self.seen, self.n
        up, down, here, known, _ = turn_state(core, seen)
        flip = self.live & (actions == FLIP)
        real = flip & down[ar, here]
        second, opening = real & up.any(1), real & ~up.any(1)
        n["flips"] += real.sum()
        n["noop"] += (flip & ~real).sum()
        self.second = {"known": second & known, "unknown": second & ~known}
        for name, group in self.second.items():
            n[name] += group.sum()
        choices = np.maximum(down.sum(1), 1)  # the face-down cards a second flip chooses among
        n["known_chance"] += (1 / choices)[second & known].sum()
        n["first"] += opening.sum()
        n["first_seen"] += (opening & seen[ar, here]).sum()
        pair = (seen & down & (core.face == core.face[ar, here][:, None])).sum(1) == 2
        n["first_pair"] += (opening & pair).sum()

    def after(self, core, reward: np.ndarray, done: np.ndarray) -> None:
        from merlin_rl.envs.memory_game import FACE_DOWN

        self.seen |= core.in_view() & (core.status != FACE_DOWN) & self.live[:, None]
        for name, group in self.second.items():
            self.n[f"{name}_hit"] += (group & (reward > 0)).sum()
        self.pairs += np.where(self.live, reward, 0)
        self.live &= ~done

    def summary(self) -> dict:
        n, b = self.n, len(self.live)

        def share(num: str, den: str) -> float | None:
            return round(float(n[num] / n[den]), 3) if n[den] else None

        return {
            "episodes": b,
            "pairs_per_episode": round(float(self.pairs.mean()), 3),
            "flips_per_episode": round(float(n["flips"] / b), 2),
            "noop_flips_per_episode": round(float(n["noop"] / b), 2),
            "second_flips_twin_seen": int(n["known"]),
            "match_twin_seen": share("known_hit", "known"),
            "match_twin_seen_by_chance": share("known_chance", "known"),
            "second_flips_twin_unseen": int(n["unknown"]),
            "match_twin_unseen": share("unknown_hit", "unknown"),
            "first_flips_on_seen_cards": share("first_seen", "first"),
            "first_flips_on_a_seen_pair": share("first_pair", "first"),
        }


def _fitted_keys(name: str, data: list[tuple[np.ndarray, ...]]) -> dict[str, float | None]:
    """:func:`key_fit` on the collected reads (x, rows, written, target, env copy), held out by
    episode, and its content-free control (a constant x)."""
    x, rows, written, target, episode = (np.concatenate(parts) for parts in zip(*data))
    fit = key_fit(x, rows, written, target, episode)
    control = key_fit(np.zeros_like(x[:, :1]), rows, written, target, episode)
    return {
        f"{name}_row_by_fitted_key": None if fit is None else round(fit[0], 3),
        f"{name}_row_by_constant_key": None if control is None else round(control[0], 3),
        f"{name}_rows_share_held_out": None if fit is None else round(fit[1], 3),
    }


def rows_showing(memory, shown: np.ndarray, t: int, cell: np.ndarray) -> np.ndarray:
    """bool [B, N]: the memory's rows written at a step whose view showed ``cell`` [B] face up
    (``shown`` [B, T + 1, cells]: what obs_s, and so the row written at step s, shows)."""
    step_of = memory.write_step.clamp(0, t).numpy()  # [B, N]
    shows = np.take_along_axis(shown, step_of[..., None], axis=1)  # [B, N, cells]
    return np.take_along_axis(shows, cell[:, None, None], axis=2)[..., 0]


def _hindsight_tops(
    key: torch.Tensor, rows: np.ndarray, written: np.ndarray, target: np.ndarray, live: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For the envs where ``live``: whether the row of ``rows`` (B, N, 2|z|) whose z half is
    nearest ``key`` (B, |z|) in cosine, among the ``written`` ones, is a ``target`` row. Returns
    (the envs, their hits)."""
    zd = key.shape[-1]
    sim = F.cosine_similarity(torch.as_tensor(rows[..., :zd]), key[:, None], dim=-1)
    top = sim.masked_fill(~torch.as_tensor(written), -2.0).argmax(1).numpy()
    envs = np.nonzero(live)[0]
    return envs, target[envs, top[envs]]


@torch.no_grad()
def cards_probe(agent: Agent, env, seed: int) -> dict:
    """MemoryGame: :class:`CardCounter` over one episode of every env copy of ``agent``, and
    where the cursor is, told apart (held-out balanced accuracy over the cells, chance 1 /
    cells) from the view itself, z_t, the MBP's reads m_{t-1} and both LSTMs' h_{t-1}, on the
    steps from ``LOCATE_FROM`` on; and, on the steps of an open turn whose card's twin has been
    seen, that twin's cell, told apart from the same parts and the policy's read m~_t: what
    knows where to go; whether z_t itself, as a cosine read key over the rows' z, would find a
    row written while the twin was face up in view (against the share of such rows); and the
    face of the card under the cursor when it shows (face up or matched), from the view and from
    z_t (chance 1 / the faces seen); and, at the step after the player turned up a card it had
    seen before, that face from the prior's mean mu_p, the MBP's reads m_{t-1} and h_{t-1}
    (what the memory could have predicted), from the view before the flip (a card back) and
    from z_t (which sees it)."""
    from merlin_rl.envs.memory_game import FACE_DOWN, FLIP

    core, b = env.core, env.num_envs
    stepper = _Stepper(agent, env, seed)
    counter = CardCounter(core)
    parts: dict[str, list[np.ndarray]] = {}
    cells: list[np.ndarray] = []
    twin_parts: dict[str, list[np.ndarray]] = {}
    face_parts: dict[str, list[np.ndarray]] = {}
    shown = np.zeros((b, core.episode_length + 1, core.cells), bool)
    by_z: list[bool] = []
    uniform: list[float] = []
    key_data: list[tuple[np.ndarray, ...]] = []  # (z_t, rows, written, rows showing the twin)
    by_policy: list[bool] = []  # the policy's own read: its top row shows the twin
    weight_policy: list[float] = []  # and the read's weight on the rows that show it
    weight_mbp: list[float] = []
    by_mbp: list[bool] = []  # after a re-flip, the MBP's read for the prior: its top row shows it
    reflip_share: list[float] = []
    reflip_keys: list[tuple[np.ndarray, ...]] = []  # (h_t, rows, written, rows showing the card)
    # hindsight: would the posterior mean as a cosine key over the rows' z halves find the card's
    # rows? mu_q,t (now: the card face down) and mu_q,t+1 (next: its face shows); a self-supervised
    # target a read could be trained towards, needing nothing the agent does not see
    by_hindsight: dict[str, list[bool]] = {"z": [], "next_z": []}
    pending: tuple[np.ndarray, ...] | None = None  # (M_{t-1}, written, card's rows, re-flipped)
    ages: dict[str, list[np.ndarray]] = {}  # steps since each read's top row was written
    faces: list[np.ndarray] = []
    twin_cells: list[np.ndarray] = []
    reflip_parts: dict[str, list[np.ndarray]] = {}
    reflip_faces: list[np.ndarray] = []
    reflip = np.zeros(b, bool)  # at t-1 the player turned up a card it had seen before
    view_before = torch.zeros(0)  # the view at t-1 (set at the end of each step)
    image = next(n for n, m in agent.mbp.codec.items() if m.kind == "image")
    for t in range(core.episode_length):
        before, cell = stepper.state, core.row * core.cols + core.col
        view = stepper.loop.obs[image].flatten(1).float()
        memory, out = stepper.act()
        shown[:, t] = core.in_view() & (core.status != FACE_DOWN)  # what obs_t, so row t, shows
        face_up = counter.live & (core.status[np.arange(b), cell] != FACE_DOWN)
        if face_up.any():  # the face under the cursor, in view: is it in z_t?
            for name, v in (("view", view), ("z", out.z)):
                face_parts.setdefault(name, []).append(v.flatten(1).numpy()[face_up])
            faces.append(core.face[np.arange(b), cell][face_up])
        if pending is not None:  # mu_q,t+1 against M_{t-1}, the rows the read at t chose from
            rows, written, target, live = pending  # an episode that ended at t has no t+1
            live = live & counter.live
            by_hindsight["next_z"].extend(
                _hindsight_tops(out.dist["mu_q"], rows, written, target, live)[1]
            )
            pending = None
        if reflip.any():  # a seen card turned up again at t-1: was its face predicted?
            x = {"view_before": view_before, "z": out.z}  # z_t sees it: the ceiling
            if agent.mbp.decoders:
                x.update(mu_p=out.dist["mu_p"], mbp_h=before.mbp_h)
            if agent.use_memory and agent.mbp.decoders:
                x["mbp_reads"] = before.m
            for name, v in x.items():
                reflip_parts.setdefault(name, []).append(v.flatten(1).numpy()[reflip])
            reflip_faces.append(core.face[np.arange(b), cell][reflip])
        _, _, _, known, twin = turn_state(core, counter.seen)
        known &= counter.live
        if known.any():  # an open turn whose twin was seen: where to go next
            x = {"view": view, "z": out.z, "policy_h": agent.policy.own_state(before.pol_h)}
            if agent.mbp.decoders:
                x["mbp_h"] = before.mbp_h
            if agent.use_memory:
                x["policy_read"] = policy_readout(out, memory)
            if agent.use_memory and agent.mbp.decoders:
                x["mbp_reads"] = before.m
            for name, v in x.items():
                twin_parts.setdefault(name, []).append(v.flatten(1).numpy()[known])
            twin_cells.append(twin[known])
            if agent.use_memory:  # would z_t as a read key find a row that shows the twin?
                zd = out.z.shape[-1]
                sim = F.cosine_similarity(memory.M[..., :zd], out.z[:, None], dim=-1)
                sim = sim.masked_fill(~memory.written, -2.0)
                shows_twin = rows_showing(memory, shown, t, twin)
                top = sim.argmax(1).numpy()
                pol_top = out.policy_weights.sum(1).argmax(1).numpy()
                written = memory.written.numpy()
                on_twin = (out.policy_weights.mean(1).numpy() * shows_twin).sum(1)
                for i in np.nonzero(known)[0]:  # a probe, not a hot path
                    by_z.append(shows_twin[i, top[i]])
                    by_policy.append(shows_twin[i, pol_top[i]])
                    weight_policy.append(on_twin[i])
                    uniform.append(shows_twin[i][written[i]].mean())
                key_data.append(
                    (out.z.flatten(1).numpy()[known], memory.M.numpy()[known], written[known])
                    + (shows_twin[known], np.nonzero(known)[0])
                )
        if t >= LOCATE_FROM and agent.use_memory:
            heads = {"policy": out.policy_weights}
            if agent.mbp.decoders:
                heads["mbp"] = out.mbp_weights
            for name, w in heads.items():
                age = t - torch.gather(memory.write_step, 1, w.argmax(-1)).numpy()  # [B, K]
                ages.setdefault(name, []).append(age[counter.live].reshape(-1))
        if t >= LOCATE_FROM:
            x = {"view": view, "z": out.z, "policy_h": agent.policy.own_state(before.pol_h)}
            if agent.mbp.decoders:
                x["mbp_h"] = before.mbp_h
            if agent.use_memory:
                x["mbp_reads"] = before.m
            for name, v in x.items():
                parts.setdefault(name, []).append(v.flatten(1).numpy())
            cells.append(np.where(counter.live, cell, -1))
        action = out.action.numpy().reshape(b)
        down = turn_state(core, counter.seen)[1]
        reflip = counter.live & (action == FLIP) & down[np.arange(b), cell]
        reflip &= counter.seen[np.arange(b), cell]
        if reflip.any() and agent.use_memory and agent.mbp.decoders:
            # m_t, which the prior of z_{t+1} (the face turned up) reads, came from this step's
            # MBP read of M_{t-1} with keys from h_t: did it fetch a row that showed this card?
            shows_card = rows_showing(memory, shown, t, cell)
            written = memory.written.numpy()
            mbp_top = out.mbp_weights.sum(1).argmax(1).numpy()
            on_card = (out.mbp_weights.mean(1).numpy() * shows_card).sum(1)
            for i in np.nonzero(reflip & (shows_card & written).any(1))[0]:
                by_mbp.append(shows_card[i, mbp_top[i]])
                weight_mbp.append(on_card[i])
                reflip_share.append(shows_card[i][written[i]].mean())
            live = reflip & (shows_card & written).any(1)
            pending = (memory.M.numpy(), written, shows_card, live)
            by_hindsight["z"].extend(_hindsight_tops(out.dist["mu_q"], *pending)[1])
            h_t = stepper.state.mbp_h.flatten(1).numpy()
            reflip_keys.append(
                (h_t[reflip], memory.M.numpy()[reflip], written[reflip], shows_card[reflip])
                + (np.nonzero(reflip)[0],)
            )
        view_before = view
        counter.before(core, action)
        r, done, _ = stepper.advance(out)
        counter.after(core, r, done)
        if not counter.live.any():
            break
    res = counter.summary()
    if cells:  # env-major rows, so the probes fit on the first half of the episodes
        y = np.stack(cells, 1).reshape(-1)
        keep = y >= 0
        for name, rows in parts.items():
            x = np.stack(rows, 1).reshape(len(y), -1)
            acc = class_probe(x[keep], y[keep])
            res[f"cell_in_{name}"] = None if acc is None else round(acc, 3)
    if faces:  # in time order, so the probes fit on the earlier steps
        y = np.concatenate(faces)
        for name, rows in face_parts.items():
            acc = class_probe(np.concatenate(rows), y)
            res[f"face_in_{name}"] = None if acc is None else round(acc, 3)
    if reflip_faces:  # in time order, so the probes fit on the earlier steps
        y = np.concatenate(reflip_faces)
        for name, rows in reflip_parts.items():
            acc = class_probe(np.concatenate(rows), y)
            res[f"reflipped_face_in_{name}"] = None if acc is None else round(acc, 3)
    if by_z:
        res["twin_row_by_z_key"] = round(float(np.mean(by_z)), 3)
        res["twin_rows_share"] = round(float(np.mean(uniform)), 3)
        res["twin_row_by_policy_read"] = round(float(np.mean(by_policy)), 3)
        res["twin_rows_weight_by_policy_read"] = round(float(np.mean(weight_policy)), 3)
        res.update(_fitted_keys("twin", key_data))
    for name, age in ages.items():  # a recency read fetches the last rows
        age = np.concatenate(age)
        res[f"{name}_read_age_median"] = float(np.median(age))
        res[f"{name}_read_last_two_steps"] = round(float((age <= 2).mean()), 3)
    if by_mbp:
        res["reflipped_row_by_mbp_read"] = round(float(np.mean(by_mbp)), 3)
        res["reflipped_rows_share"] = round(float(np.mean(reflip_share)), 3)
        res["reflipped_rows_weight_by_mbp_read"] = round(float(np.mean(weight_mbp)), 3)
        res.update(_fitted_keys("reflipped", reflip_keys))
        for name, hits in by_hindsight.items():
            res[f"reflipped_row_by_{name}_key"] = round(float(np.mean(hits)), 3) if hits else None
    if twin_cells:  # in time order, so the probes fit on the earlier steps
        y = np.concatenate(twin_cells)
        for name, rows in twin_parts.items():
            acc = class_probe(np.concatenate(rows), y)
            res[f"twin_cell_in_{name}"] = None if acc is None else round(acc, 3)
    return res


def merlin_on(task: str):
    """A ``check`` for :func:`load_probe_args`: the checkpoint must be MERLIN's on ``task``."""

    def check(cfg) -> str | None:
        if cfg.env == task and cfg.agent == "merlin":
            return None
        return f"{cfg.agent} on {cfg.env}; allowed: merlin on {task}"

    return check


def load_probe_args(description: str, check) -> tuple[argparse.Namespace, Agent, object]:
    """The probes' command line (--checkpoint, --episodes, --seed), then the trained agent (in
    eval mode, the torch seed set) and ``--episodes`` copies of its env. ``check(cfg)`` returns
    why the checkpoint does not suit the probe (printed as one line; exit code 2), or None."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--episodes", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    ckpt = load_checkpoint(Path(a.checkpoint))
    cfg = ckpt["config_obj"]
    if (why := check(cfg)) is not None:
        print(f"{p.prog}: {a.checkpoint}: {why}", file=sys.stderr)
        raise SystemExit(2)
    env = make_vector_env(cfg.env, a.episodes, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    load_model_state(agent, ckpt["model"], a.checkpoint)
    agent.eval()
    torch.manual_seed(a.seed)
    return a, agent, env


def main() -> None:
    a, agent, env = load_probe_args(
        __doc__.splitlines()[0],
        lambda cfg: None if cfg.env in TASKS else f"trained on {cfg.env}, not one of {TASKS}",
    )
    cfg = agent.cfg
    run = {TASKS[2]: instruction_probe, TASKS[3]: platform_probe, TASKS[4]: cards_probe}.get(
        cfg.env, probe
    )
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **run(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
