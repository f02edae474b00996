"""Learning (DESIGN.md §2): the losses of an acted segment and the optimiser steps.

Two updates share one loss:

* single graph (``epochs`` = 1, ``minibatches`` = 1, the paper's A2C update): the segment was
  acted with autograd on, and one backward pass goes through it;
* replay: the segment was acted without autograd; for each of K epochs and each minibatch of
  environments it is re-run from its start state (:func:`replay`: encoders batched over T x B,
  the MBP's recurrent core stepped, then the policy over the whole segment with a fused LSTM),
  and the MBP loss and PPO's clipped policy term are recomputed.
  With ``target_kl`` > 0 the epochs stop early once the policy's approximate KL to the acting
  policy exceeds 1.5 x ``target_kl`` (as SB3's PPO does).

After either update, ``policy_epochs`` more epochs step the policy alone (:func:`replay_policy`):
only the policy LSTM is re-run, on the z_t and memory it acted on, so these policy gradient steps
cost a fraction of a joint epoch (no encoders, decoders or MBP core). They are left out when a
joint step of the segment was skipped as non-finite or the KL early stop ended the epochs.

Advantages and lambda-return targets come from the acting pass's values, once per segment.
"""

from __future__ import annotations

import math
import sys
from dataclasses import fields
from typing import Any, Iterator

import numpy as np
import torch
from torch import Tensor

from merlin_rl import losses, tvt
from merlin_rl.acting import Segment
from merlin_rl.agent import (
    Agent,
    AgentState,
    PolicyView,
    StepNoise,
    StepOutput,
    action_log_prob_entropy,
)
from merlin_rl.config import Config
from merlin_rl.distributed import all_sum, average_gradients
from merlin_rl.memory import MemoryState


class TrainingDiverged(RuntimeError):
    """Too many non-finite updates in a row."""


def replay(
    agent: Agent,
    seg: Segment,
    index: Tensor | None = None,
    memories: list[MemoryState] | None = None,
) -> tuple[list[StepOutput], AgentState]:
    """Re-run the acted segment (of environments ``index``, all if None) with autograd.

    From the stored start state, with the stored episode starts, rewards r_{t-1}, noise eps and
    actions, every step is recomputed; the encoders run once over all T x B observations, the MBP
    is stepped through T, and the policy (which does not feed the MBP's recurrence when the
    actions are given) runs afterwards over the whole segment (``Policy.sequence``). With
    unchanged parameters this reproduces the acting pass (z, logits, memory). With
    ``replay_view`` "acted" the policy reads ``memories`` (:func:`acted_memories`, rebuilt if
    None). Returns the steps' outputs and the state after the segment."""
    pick = (lambda x: x) if index is None else (lambda x: x[index])  # noqa: E731
    state = seg.start_state if index is None else seg.start_state.select(index)
    T = len(seg.outputs)
    obs_names = list(seg.outputs[0].obs)
    obs = {k: torch.cat([pick(o.obs[k]) for o in seg.outputs], 0) for k in obs_names}
    codes = agent.mbp.codec.encode(obs).chunk(T, 0)  # (T * B', enc) -> T x (B', enc)
    acted_view = agent.is_merlin and agent.cfg.replay_view == "acted"
    if acted_view and memories is None:
        memories = acted_memories(agent, seg)  # what the policy acted on
    pol_h, pol_c = state.pol_h, state.pol_c
    outs, z_pol, mem_pol = [], [], []
    for t, acted in enumerate(seg.outputs):
        starts = pick(seg.starts[t])
        state = state.reset(starts)
        state.prev_reward = pick(acted.prev_reward)
        noise = StepNoise(eps=pick(seg.noise[t].eps), uniform=pick(seg.noise[t].uniform))
        memory = state.memory  # M_{t-1}, what step t reads
        out, state = agent.step(
            {k: pick(acted.obs[k]) for k in obs_names},
            state,
            noise=noise,
            action=pick(seg.actions[t]),
            obs_code=codes[t],
            with_policy=False,
        )
        view = None
        if acted_view:
            acted_memory = None
            if memories is not None:
                acted_memory = memories[t] if index is None else memories[t].select(index)
            view = PolicyView(pick(agent.policy_z(acted.z, acted.dist, acted.reads)), acted_memory)
        z, m = agent.policy_inputs(out.z, out.dist, out.reads, memory, view)
        outs.append(out)
        z_pol.append(z)
        mem_pol.append(m)
    # the policy over the whole segment (it does not feed the MBP's recurrence: the actions are
    # the acted ones): one fused LSTM call per stretch between episode starts
    starts = seg.starts if index is None else seg.starts[:, index]
    logits, pol_h, pol_c, weights, values = agent.policy.sequence(
        torch.stack(z_pol), pol_h, pol_c, starts, stacked_memories(mem_pol)
    )
    log_pi = torch.log_softmax(logits, -1)
    actions = seg.actions if index is None else seg.actions[:, index]
    log_probs, entropies = action_log_prob_entropy(log_pi, actions)
    for t, out in enumerate(outs):
        out.logits, out.log_prob, out.entropy = logits[t], log_probs[t], entropies[t]
        out.policy_weights = None if weights is None else weights[t]
        out.policy_value = None if values is None else values[t]
    state.pol_h, state.pol_c = pol_h, pol_c
    return outs, state


def hindsight_read(
    outputs: list[StepOutput], valid: Tensor, starts: Tensor, surprise: Tensor | None = None
) -> tuple[Tensor, float]:
    """The hindsight read term of a segment (losses.hindsight_read_loss): the MBP's first read at
    step t against the posterior's mean at t+1, averaged over the steps t whose t+1 is a valid
    step of the same episode in the segment (the last step has none) and whose memory holds at
    least two rows (with one the read has no choice). ``valid`` and ``starts`` (T, B). With
    ``surprise`` (T, B), e.g. KL(q_t || p_t), step t's loss is weighed by surprise_{t+1} over its
    mean on those steps (no gradient through it).
    Returns (the mean loss, with graph; the share of those reads whose top row is the target)."""
    written = torch.stack([o.read_memory.written for o in outputs[:-1]])  # (T-1, B, N)
    loss, hit = losses.hindsight_read_loss(
        torch.stack([o.read_key for o in outputs[:-1]]),
        torch.stack([o.read_strength for o in outputs[:-1]]),
        torch.stack([o.read_memory.M for o in outputs[:-1]]),
        written,
        torch.stack([o.dist["mu_q"] for o in outputs[1:]]),
    )
    ok = valid.bool()
    mask = (ok[:-1] & ok[1:] & ~starts[1:] & (written.sum(-1) >= 2)).float()
    top = float(losses.masked_mean(hit.float(), mask))
    if surprise is not None:
        s = surprise[1:].detach()
        loss = loss * s / losses.masked_mean(s, mask).clamp(min=1e-8)
    return losses.masked_mean(loss, mask), top


def acted_memories(agent: Agent, seg: Segment) -> list[MemoryState] | None:
    """The memory M_{t-1} that the policy read at each step of the acted segment (after that
    step's episode resets), rebuilt once from the acted writes (no parameters: the acted z_t and
    MBP read weights); None for an agent without memory."""
    memory = seg.start_state.memory
    if memory is None:
        return None
    out = []
    with torch.no_grad():
        for t, acted in enumerate(seg.outputs):
            if bool(seg.starts[t].any()):
                memory = memory.reset(seg.starts[t])
            out.append(memory)
            memory = agent.advance_memory(memory, acted.mbp_weights.detach(), acted.z.detach())
    return out


def stacked_memories(memories: list[MemoryState | None] | None) -> MemoryState | None:
    """The T memories of :func:`acted_memories` as one state whose fields are (T, B, ...); None
    for an agent without memory (None, or a list of None)."""
    if memories is None or memories[0] is None:
        return None
    return MemoryState(
        **{f.name: torch.stack([getattr(m, f.name) for m in memories]) for f in fields(MemoryState)}
    )


def replay_policy(
    agent: Agent,
    seg: Segment,
    index: Tensor | None = None,
    memories: MemoryState | None = None,
    bonus: str = "entropy",
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Re-run the policy alone over the acted segment (of environments ``index``), with autograd.

    h~_t = LSTM(z_t, h~_{t-1}), pi_t = MLP([z_t, h~_t, read(M_{t-1})]) (DESIGN §1 step 5) on what
    the policy read when acting: stopgrad(z_t) (MERLIN's ``policy_input``; the other agents' z_t,
    detached) and the acted memory (``memories``, :func:`stacked_memories` of
    :func:`acted_memories`; rebuilt if None). Only the LSTM is recurrent (one fused call per layer
    and stretch between episode starts, ``DeepLSTM.sequence``); the reads and the head take all
    T x B' steps as one batch. With unchanged parameters this reproduces the
    acting pass's logits. Returns log pi(a_t) and the regulariser ``bonus``
    (:func:`losses.policy_bonus`; the entropy by default), (T, B') each, and the policy's value
    head V~_t (T, B') or None without one."""
    pick = (lambda x: x) if index is None else (lambda x: x[index])  # noqa: E731
    state = seg.start_state if index is None else seg.start_state.select(index)
    if memories is None:
        memories = stacked_memories(acted_memories(agent, seg))
    zs = torch.stack(
        [pick(agent.policy_z(acted.z, acted.dist, acted.reads).detach()) for acted in seg.outputs]
    )  # (T, B', Z)
    starts = seg.starts if index is None else seg.starts[:, index]
    if memories is not None and index is not None:  # (T, B, ...) -> (T, B', ...)
        memories = memories.map(lambda x: x[:, index])
    logits, _, _, _, values = agent.policy.sequence(zs, state.pol_h, state.pol_c, starts, memories)
    actions = seg.actions if index is None else seg.actions[:, index]  # (T, B')
    log_pi = torch.log_softmax(logits, -1)
    log_prob = log_pi.gather(-1, actions[..., None]).squeeze(-1)
    return log_prob, losses.policy_bonus(log_pi, bonus), values


def acted_value(values: Tensor, actions: Tensor) -> Tensor:
    """The policy value head's output at the acted actions (T, B): V~_t as it is, or Q~_t(a_t)
    from Q~ (T, B, A) (``future_cv`` policy-q)."""
    if values.dim() == actions.dim():
        return values
    return values.gather(-1, actions[..., None]).squeeze(-1)


def policy_q_control_variate(outputs: list[StepOutput]) -> Tensor:
    """c_t = Q~_t(a_t) - sum_a pi_t(a) Q~_t(a) (T, B), without gradient, from the acted steps'
    policy Q~ heads and logits (``future_cv`` policy-q; zero mean under the acting pi_t)."""
    with torch.no_grad():
        q = torch.stack([o.policy_value for o in outputs])  # (T, B, A)
        pi = torch.softmax(torch.stack([o.logits for o in outputs]), -1)
        a = torch.stack([o.action for o in outputs])
        return acted_value(q, a) - (pi * q).sum(-1)


class Learner:
    """Two Adam optimisers (MBP, policy) and the update rule (DESIGN.md §2)."""

    def __init__(self, agent: Agent, cfg: Config, dist: Any, device: torch.device) -> None:
        self.agent, self.cfg, self.dist, self.device = agent, cfg, dist, device
        # an ablation's MBP is trained by the RL losses alone: at lr_policy if ablation_mbp_lr says
        ablation_rate = cfg.agent != "merlin" and cfg.ablation_mbp_lr == "policy"
        self.lr_mbp = cfg.lr_policy if ablation_rate else cfg.lr_mbp
        # fused Adam: one kernel over all parameters instead of a Python loop (CPU and CUDA)
        self.opt_mbp = torch.optim.Adam(
            agent.mbp_parameters(), lr=self.lr_mbp, eps=cfg.adam_eps, fused=True
        )
        self.opt_policy = torch.optim.Adam(
            agent.policy_parameters(), lr=cfg.lr_policy, eps=cfg.adam_eps, fused=True
        )
        # how the MBP's gradient is clipped (config.mbp_clip): parameter groups, each clipped by
        # its own norm; an ablation's "MBP" (encoders and return head, no ELBO) is one group
        mbp = agent.mbp_parameters()
        mode = cfg.mbp_clip if cfg.agent == "merlin" else "global"
        self.mbp_clip_groups = agent.mbp.clip_groups() if mode == "kind" else [mbp]
        self.mbp_clip = math.inf if mode == "off" else cfg.grad_clip
        self.skipped_updates = 0
        self.nonfinite_streak = 0
        self.agent_envs = cfg.num_envs // max(dist.world_size, 1)  # this rank's environments
        self.segment_logs: dict[str, float] = {}  # the last segment's transport (tvt/...), cv/...

    @property
    def single_graph(self) -> bool:
        """Whether acting keeps the graph for one backward pass (K = 1, one minibatch)."""
        return self.cfg.epochs == 1 and min(self.cfg.minibatches, self.agent_envs) == 1

    # ------------------------------------------------------------------------------------ losses
    def baseline(self, seg: Segment) -> Tensor:
        """V_t (T, B) for the advantages and targets, without gradient: on the acted sample z_t
        (the paper's) or on mu_q (``value_input`` mean)."""
        with torch.no_grad():
            return self.agent.values(seg.outputs, mean=self.cfg.value_input == "mean")

    def policy_targets(self, seg: Segment, rewards: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``baseline`` policy: GAE advantages with ``lam`` on the policy's own value head V~_t
        (as acted, bootstrapped with V~ after the segment) and its lambda-return targets
        Adv_t + V~_t, from ``rewards`` (:meth:`policy_rewards`; default the env's); (T, B)
        each, no gradient."""
        rewards = seg.rewards if rewards is None else rewards
        with torch.no_grad():
            values = torch.stack([o.policy_value for o in seg.outputs])
            adv = losses.gae(
                rewards,
                values,
                seg.policy_bootstrap,
                seg.dones,
                seg.terminals,
                self.cfg.gamma,
                self.cfg.lam,
            )
            targets = adv + values
            if self._shaped:
                adv = self._shaped_advantages(seg, values, seg.policy_bootstrap, rewards)
        return adv, targets

    def targets(
        self, seg: Segment, values: Tensor, with_policy: bool = True
    ) -> tuple[Tensor, Tensor | None]:
        """GAE advantages with ``lam`` for the policy, and lambda-return targets
        R_t = Adv_t + V_t with ``lam_value`` (0 = ``lam``) for the return heads; (T, B) each, no
        gradient."""
        cfg = self.cfg

        def adv_with(lam: float, rewards: Tensor = seg.rewards) -> Tensor:
            return losses.gae(
                rewards, values, seg.bootstrap, seg.dones, seg.terminals, cfg.gamma, lam
            )

        lam_value = cfg.lam_value or cfg.lam
        adv_value = adv_with(lam_value)
        if not with_policy:
            return None, adv_value + values.detach()
        rewards = self.policy_rewards(seg, values)
        adv = adv_value if lam_value == cfg.lam and rewards is seg.rewards else None
        if self._shaped:
            adv = self._shaped_advantages(seg, values, seg.bootstrap, rewards)
        elif adv is None:
            adv = adv_with(cfg.lam, rewards)
        return adv, adv_value + values.detach()

    def policy_rewards(self, seg: Segment, values: Tensor) -> Tensor:
        """The rewards the policy's advantages are computed from (T, B): the env's, plus with
        ``tvt_alpha`` > 0 the value transported to them (tvt.transport, on V_t ``values``)."""
        cfg = self.cfg
        if cfg.tvt_alpha <= 0:
            return seg.rewards
        out = seg.outputs
        sent = tvt.transport(
            torch.stack([o.mbp_weights for o in out]).detach(),
            torch.stack([o.mbp_strengths for o in out]),
            torch.stack([o.mbp_ages for o in out]),
            values,
            seg.starts,
            cfg.tvt_alpha,
            cfg.tvt_threshold,
            tvt.no_transport_period(cfg.gamma),
        )
        self.segment_logs["tvt/reward"] = float(losses.masked_mean(sent, seg.valid))
        self.segment_logs["tvt/steps"] = float(losses.masked_mean((sent != 0).float(), seg.valid))
        return seg.rewards + sent

    @property
    def _shaped(self) -> bool:
        """Whether the policy's GAE differs from the plain one (``credit_cut``, ``future_cv``)."""
        return self.cfg.credit_cut != "off" or self.cfg.future_cv != "off"

    def _shaped_advantages(
        self, seg: Segment, values: Tensor, bootstrap: Tensor, rewards: Tensor | None = None
    ) -> Tensor:
        """The policy's GAE (on ``rewards``, default the env's) with ``credit_cut`` reward (the
        trace stopped at every step whose env reward is not zero: losses.gae's ``cut``) and
        ``future_cv``: with c_t the acted action's centred advantage (a-head: the MBP's A head,
        :meth:`Agent.action_control_variate`; policy-q: the policy's Q~ head,
        :func:`policy_q_control_variate`),
        Adv_t = delta_t + sum_{k >= 1} (gamma lam)^k (delta_{t+k} - c_{t+k}),
        computed as GAE on r - c, plus c_t."""
        cfg = self.cfg
        rewards = seg.rewards if rewards is None else rewards
        cv: Tensor | float = 0.0
        if cfg.future_cv != "off":
            if cfg.future_cv == "policy-q":
                cv = policy_q_control_variate(seg.outputs)
            else:
                cv = self.agent.action_control_variate(seg.outputs, cfg.value_input == "mean")
            self.segment_logs["cv/explained"] = self._explained(seg, values, bootstrap, cv)
        cut = seg.rewards != 0 if cfg.credit_cut != "off" else None
        adv = losses.gae(
            rewards - cv, values, bootstrap, seg.dones, seg.terminals, cfg.gamma, cfg.lam, cut=cut
        )
        return adv + cv

    def _explained(self, seg: Segment, values: Tensor, bootstrap: Tensor, cv: Tensor) -> float:
        """1 - Var(delta - c) / Var(delta) over the segment's valid steps: the share of the TD
        errors' variance that the control variate c accounts for (``future_cv``)."""
        zero = torch.zeros_like(seg.dones)
        deltas = losses.gae(seg.rewards, values, bootstrap, zero, seg.terminals, self.cfg.gamma, 0)
        m = seg.valid.float()
        n = m.sum().clamp(min=1.0)

        def var(x: Tensor) -> Tensor:
            mean = (x * m).sum() / n
            return ((x - mean).square() * m).sum() / n

        return float(1.0 - var(deltas - cv) / var(deltas).clamp(min=1e-12))

    def losses(
        self,
        outputs: list[StepOutput],
        seg: Segment,
        adv: Tensor,
        targets: Tensor,
        index: Tensor | None = None,
        policy_targets: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, dict[str, float]]:
        """MBP loss (ELBO + return loss) and policy loss, averaged over valid transitions.

        Policy term: -min(rho Adv, clip(rho, 1 - eps, 1 + eps) Adv) - c H with
        rho = pi(a_t) / pi_old(a_t); at rho = 1 (K = 1) its gradient is A2C's. With
        ``policy_targets`` (``baseline`` policy) the policy loss adds the value head's squared
        error, weighted ``policy_value_cost``."""
        cfg = self.cfg
        pick = (lambda x: x) if index is None else (lambda x: x[:, index])  # noqa: E731
        pred = self.agent.evaluate(outputs)
        mask = pick(seg.valid)
        mean = lambda x: losses.masked_mean(x, mask)  # noqa: E731
        adv, targets = pick(adv), pick(targets)
        log_probs = torch.stack([o.log_prob for o in outputs])
        entropy = torch.stack([o.entropy for o in outputs])
        bonus = entropy  # (T, B') the policy's regulariser: the entropy, or (losses.policy_bonus)
        if cfg.policy_bonus != "entropy":
            log_pi = torch.log_softmax(torch.stack([o.logits for o in outputs]), -1)
            bonus = losses.policy_bonus(log_pi, cfg.policy_bonus)
        terms: dict[str, Tensor] = {}
        terms["return"] = mean(losses.return_loss(pred.value, pred.advantage, targets))
        mbp_loss = cfg.return_weight * terms["return"]
        if pred.kl is not None:
            terms["kl"] = mean(pred.kl)
            mbp_loss = mbp_loss + cfg.kl_weight * mean(pred.kl_objective)
        if pred.logsig_excess is not None:
            terms["logsig_excess"] = mean(pred.logsig_excess)
            if cfg.logsig_bound_cost > 0:
                mbp_loss = mbp_loss + cfg.logsig_bound_cost * terms["logsig_excess"]
        for key, value in pred.recon.items():
            terms["recon_" + key] = mean(value)
            mbp_loss = mbp_loss + self._recon_weight(key) * terms["recon_" + key]
        hit = None
        if outputs[0].read_key is not None:  # --read-target-cost > 0
            surprise = pred.kl if cfg.read_target_weighting == "surprise" else None
            read, hit = hindsight_read(outputs, pick(seg.valid), pick(seg.starts), surprise)
            terms["read_target"] = read
            mbp_loss = mbp_loss + cfg.read_target_cost * read
        if cfg.advantage_norm == "batch":
            adv = self._normalise(adv, mask)
        ratio = torch.exp(log_probs - pick(seg.log_probs))
        terms["policy"] = mean(
            losses.clipped_policy_loss(ratio, adv, bonus, cfg.entropy_cost, cfg.ppo_clip)
        )
        terms["entropy"] = mean(entropy)
        policy_loss = terms["policy"]
        if policy_targets is not None:  # the policy's value head (baseline policy, policy-q)
            values = acted_value(torch.stack([o.policy_value for o in outputs]), pick(seg.actions))
            terms["policy_value"] = mean((values - pick(policy_targets)).square())
            policy_loss = policy_loss + cfg.policy_value_cost * terms["policy_value"]
        logs = {f"loss/{k}": float(v.detach()) for k, v in terms.items()}
        logs["loss/mbp"] = float(mbp_loss.detach())
        logs["value/mean"] = float(mean(pred.value.detach()))
        logs["policy/clip_fraction"] = float(mean(((ratio - 1.0).abs() > cfg.ppo_clip).float()))
        logs["policy/approx_kl"] = float(mean(losses.approx_kl(log_probs - pick(seg.log_probs))))
        if hit is not None:
            logs["read/target_top"] = hit
        return mbp_loss, policy_loss, logs

    def _normalise(self, adv: Tensor, mask: Tensor) -> Tensor:
        """(Adv - mean) / std over the valid entries of the minibatch on every rank."""
        a = adv.detach().double()
        m = mask.double()
        total, sq, n = all_sum(
            [float((a * m).sum()), float((a.square() * m).sum()), float(m.sum())],
            self.dist,
            self.device,
        )
        n = max(n, 1.0)
        mu = total / n
        std = max(sq / n - mu * mu, 0.0) ** 0.5
        return (adv - mu) / (std + 1e-8)

    def _recon_weight(self, key: str) -> float:
        kind = key.split(":")[0]
        return float(getattr(self.cfg, f"{kind}_weight"))

    def advantages(self, seg: Segment) -> tuple[Tensor, Tensor, Tensor | None]:
        """Once per segment, without gradient: the policy's advantages (on the MBP's V, or with
        ``baseline`` policy on the policy's value head), the return heads' targets, and the
        policy value head's targets (None without one)."""
        self.segment_logs = {}
        values = self.baseline(seg)
        if self.cfg.baseline == "mbp":
            adv, targets = self.targets(seg, values)
            if self.cfg.future_cv != "policy-q":
                return adv, targets, None
            # the policy's Q~ head learns the one-step targets r_t + gamma V_{t+1} at a_t
            cfg = self.cfg
            one_step = losses.gae(
                seg.rewards, values, seg.bootstrap, seg.dones, seg.terminals, cfg.gamma, 0.0
            )
            return adv, targets, one_step + values
        _, targets = self.targets(seg, values, with_policy=False)
        adv, policy_targets = self.policy_targets(seg, self.policy_rewards(seg, values))
        return adv, targets, policy_targets

    def acted_losses(
        self, seg: Segment
    ) -> tuple[Tensor, Tensor, dict[str, float], Tensor, Tensor | None]:
        """The losses of a segment acted with its graph kept (the single-graph update), its
        advantages and the policy value head's targets (None without one)."""
        adv, targets, policy_targets = self.advantages(seg)
        losses_ = self.losses(seg.outputs, seg, adv, targets, policy_targets=policy_targets)
        return (*losses_, adv, policy_targets)

    # ----------------------------------------------------------------------------------- updates
    def update(self, seg: Segment, env_steps: int = 0) -> dict[str, float]:
        """All gradient steps for one segment; returns the mean of their logs.

        A gradient step whose loss or gradient is not finite is skipped; a segment with any
        skipped step counts as one non-finite update (``max_nonfinite`` in a row stop the run)."""
        self.set_learning_rates(env_steps)
        if seg.with_graph:
            mbp_loss, policy_loss, logs, adv, policy_targets = self.acted_losses(seg)
            step_logs, bad = self._step(mbp_loss, policy_loss, seg.valid)
            logs.update(step_logs)
            adv = adv.detach()
            n_pol, bad_pol = (0, False)
            if not bad:
                n_pol, bad_pol = self._policy_epochs(seg, adv, env_steps, None, policy_targets)
            if self.cfg.policy_epochs > 0:
                logs["policy/gradient_steps"] = 1.0 + n_pol
            self._count(bad or bad_pol, env_steps)
            logs["skipped_updates"] = float(self.skipped_updates)
            logs["value/advantage_abs"] = float(losses.masked_mean(adv.abs(), seg.valid))
            logs.update(self.segment_logs)
            return logs
        adv, targets, policy_targets = self.advantages(seg)
        acted_view = self.agent.is_merlin and self.cfg.replay_view == "acted"
        need = acted_view or self.cfg.policy_epochs > 0
        memories = acted_memories(self.agent, seg) if need else None  # once per segment
        sums: dict[str, float] = {}
        n, any_bad, stopped = 0, False, False
        for index in self._minibatches(seg, self.cfg.epochs, env_steps):
            outs, _ = replay(self.agent, seg, index, memories if acted_view else None)
            mbp_loss, policy_loss, logs = self.losses(
                outs, seg, adv, targets, index, policy_targets=policy_targets
            )
            if n > 0 and self._kl_exceeded(logs["policy/approx_kl"], seg.valid[:, index]):
                stopped = True
                break  # the policy has moved far enough from the acting one
            step_logs, bad = self._step(mbp_loss, policy_loss, seg.valid[:, index])
            logs.update(step_logs)
            any_bad |= bad
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            n += 1
        out = {k: v / n for k, v in sums.items()}
        n_pol = 0
        if not (stopped or any_bad):  # a segment with a non-finite step is not learned from more
            n_pol, bad_pol = self._policy_epochs(seg, adv, env_steps, memories, policy_targets)
            any_bad |= bad_pol
        out["policy/gradient_steps"] = float(n + n_pol)
        self._count(any_bad, env_steps)
        out["skipped_updates"] = float(self.skipped_updates)
        out["value/advantage_abs"] = float(losses.masked_mean(adv.abs(), seg.valid))
        out.update(self.segment_logs)
        return out

    def _minibatches(
        self, seg: Segment, epochs: int, seed: int, parts: int = 0
    ) -> Iterator[Tensor]:
        """``epochs`` epochs, each a fresh permutation of the B environments split into ``parts``
        (0: ``minibatches``) nearly equal parts (at most one per env); seeded from the step
        count."""
        b = seg.rewards.shape[1]
        parts = min(parts or self.cfg.minibatches, b)
        gen = torch.Generator().manual_seed(int(self.agent.return_count) + seed)
        for _ in range(epochs):
            yield from torch.randperm(b, generator=gen).to(seg.rewards.device).tensor_split(parts)

    def _policy_epochs(
        self,
        seg: Segment,
        adv: Tensor,
        env_steps: int,
        memories: list[MemoryState] | None = None,
        policy_targets: Tensor | None = None,
    ) -> tuple[int, bool]:
        """``policy_epochs`` epochs of the policy alone (:func:`replay_policy`), each over a fresh
        permutation of the environments in ``policy_minibatches`` parts (0: ``minibatches``),
        with the clipped policy term of
        the joint epochs; the KL early stop applies as there. Returns the number of steps taken
        and whether any was skipped (not finite). ``memories``: :func:`acted_memories` of the
        segment if already built; ``policy_targets``: the policy value head's targets
        (:meth:`advantages`; None without a value head)."""
        cfg = self.cfg
        if cfg.policy_epochs <= 0:
            return 0, False
        if memories is None:
            memories = acted_memories(self.agent, seg)
        stacked = stacked_memories(memories)
        n, any_bad = 0, False
        parts = cfg.policy_minibatches
        for index in self._minibatches(seg, cfg.policy_epochs, env_steps + 1, parts):
            log_probs, bonus, values = replay_policy(
                self.agent, seg, index, stacked, bonus=cfg.policy_bonus
            )
            mask = seg.valid[:, index]
            mean = lambda x: losses.masked_mean(x, mask)  # noqa: E731
            log_ratio = log_probs - seg.log_probs[:, index]
            if self._kl_exceeded(float(mean(losses.approx_kl(log_ratio.detach()))), mask):
                return n, any_bad
            a = adv[:, index]
            if cfg.advantage_norm == "batch":
                a = self._normalise(a, mask)
            loss = mean(
                losses.clipped_policy_loss(
                    torch.exp(log_ratio), a, bonus, cfg.entropy_cost, cfg.ppo_clip
                )
            )
            if policy_targets is not None:  # the policy's value head (baseline policy, policy-q)
                values = acted_value(values, seg.actions[:, index])
                error = mean((values - policy_targets[:, index]).square())
                loss = loss + cfg.policy_value_cost * error
            _, bad = self._step(None, loss, mask)
            any_bad |= bad
            n += 1
        return n, any_bad

    def set_learning_rates(self, env_steps: int) -> None:
        """Both optimisers' rates and Adam's eps from the settings (a resumed run's optimiser
        state holds the checkpoint's, which the settings given on resuming may change):
        ``lr_schedule`` linear: lr = base x max(0, 1 - env_steps / total_steps) (a function of
        the env steps alone, so a resumed run continues the schedule); constant: lr = base."""
        cfg = self.cfg
        frac = 1.0
        if cfg.lr_schedule == "linear":
            frac = max(0.0, 1.0 - env_steps / cfg.total_steps)
        for opt, base in ((self.opt_mbp, self.lr_mbp), (self.opt_policy, cfg.lr_policy)):
            for group in opt.param_groups:
                group["lr"] = base * frac
                group["eps"] = cfg.adam_eps

    def _kl_exceeded(self, approx_kl: float, valid: Tensor) -> bool:
        """Whether the approx KL(pi_old || pi) of this minibatch, averaged over the valid
        transitions of every rank, exceeds 1.5 x ``target_kl`` (SB3's early stop; off at 0).
        Every rank gets the same answer, so they stop together."""
        target = self.cfg.target_kl
        if target <= 0:
            return False
        n = float(valid.sum())
        total, count = all_sum([approx_kl * n, n], self.dist, self.device)
        return total / max(count, 1.0) > 1.5 * target

    def _step(
        self, mbp_loss: Tensor | None, policy_loss: Tensor, valid: Tensor
    ) -> tuple[dict[str, float], bool]:
        """One step of both optimisers (of the policy's alone if ``mbp_loss`` is None), skipped if
        a loss or gradient is not finite (on any rank). Returns its logs and whether it was
        skipped."""
        dist = self.dist
        joint = mbp_loss is not None
        if dist.enabled:
            # losses are means over this rank's valid transitions; weight them so that the
            # averaged gradient is that of the mean over all ranks' valid transitions
            local = float(valid.sum())
            total = all_sum([local], dist, self.device)[0]
            scale = local * dist.world_size / max(total, 1.0)
            policy_loss = policy_loss * scale
            mbp_loss = mbp_loss * scale if joint else None
        agent = self.agent
        groups = [(self.opt_policy, agent.policy_parameters(), "policy", policy_loss)]
        if joint:
            groups.insert(0, (self.opt_mbp, agent.mbp_parameters(), "mbp", mbp_loss))
        for opt, _, _, _ in groups:
            opt.zero_grad(set_to_none=True)
        (policy_loss if mbp_loss is None else mbp_loss + policy_loss).backward()
        logs, local_bad = {}, False
        for _, params, name, loss in groups:
            average_gradients(params, dist)
            logs[f"grad_norm/{name}"] = self._clip(name, params)
            local_bad |= not bool(torch.isfinite(loss))
        bad = all_sum([float(local_bad)], dist, self.device)[0] > 0
        bad = bad or not all(np.isfinite(v) for v in logs.values())
        for opt, _, _, _ in groups:
            if bad:
                opt.zero_grad(set_to_none=True)
            else:
                opt.step()
        return logs, bad

    def _clip(self, name: str, params: list[torch.nn.Parameter]) -> float:
        """Clip one optimiser's gradient (the MBP's by its groups: config.mbp_clip); returns the
        norm over all of ``params`` before clipping."""
        if name == "policy":
            return float(torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip))
        norms = [
            torch.nn.utils.clip_grad_norm_(group, self.mbp_clip) for group in self.mbp_clip_groups
        ]
        return float(torch.linalg.vector_norm(torch.stack(norms)))

    def _count(self, bad: bool, env_steps: int) -> None:
        """Count a segment with a skipped step; stop after ``max_nonfinite`` in a row."""
        if not bad:
            self.nonfinite_streak = 0
            return
        self.nonfinite_streak += 1
        self.skipped_updates += 1
        if self.dist.is_main:
            print(
                f"merlin-rl: warning: non-finite loss or gradient at env step {env_steps}; "
                "update skipped",
                file=sys.stderr,
            )
        if self.nonfinite_streak >= self.cfg.max_nonfinite:
            raise TrainingDiverged(
                f"{self.nonfinite_streak} non-finite updates in a row at env "
                f"step {env_steps}; stopped"
            )
