"""MERLIN, RL-MEM and RL-LSTM as configurations of the same code, and their recurrent state.

One call of :meth:`Agent.step` is one environment step for all B environments (DESIGN.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from merlin_rl import losses
from merlin_rl import memory as mem_ops
from merlin_rl.config import AUTO_MEMORY_FALLBACK, Config
from merlin_rl.encoders import UnsupportedSpaceError
from merlin_rl.mbp import MBP
from merlin_rl.memory import MemoryState
from merlin_rl.policy import Policy


@dataclass
class AgentState:
    """Recurrent state carried between steps, batch-first, zeroed per env at episode start."""

    mbp_h: Tensor  # (B, 2, H) MBP LSTM
    mbp_c: Tensor
    m: Tensor  # (B, K^r * 2|z|) MBP reads m_{t-1}
    pol_h: Tensor  # (B, 2, H~) policy LSTM; (B, 4, H~) with its critic's (--baseline critic)
    pol_c: Tensor
    prev_action: Tensor  # (B, A) one-hot a_{t-1} (zeros at episode start)
    prev_reward: Tensor  # (B, 1) r_{t-1}
    memory: MemoryState | None

    def _map(self, fn) -> "AgentState":
        out = {}
        for f in fields(self):
            x = getattr(self, f.name)
            out[f.name] = None if x is None else fn(x)
        return AgentState(**out)

    def detach(self) -> "AgentState":
        """Cut the graph between truncation windows."""
        return self._map(lambda x: x.detach())

    def select(self, index: Tensor) -> "AgentState":
        """The state of environments ``index`` (a minibatch over environments)."""
        return self._map(lambda x: x.select(index) if isinstance(x, MemoryState) else x[index])

    def reset(self, mask: Tensor) -> "AgentState":
        """Zero the state of environments whose episode starts now (mask (B,) bool).

        Without any episode start nothing is copied (most steps: the memory is the largest state)."""
        if not bool(mask.any()):
            return self

        def zero(x):
            if isinstance(x, MemoryState):
                return x.reset(mask)
            return torch.where(mask.view(-1, *([1] * (x.dim() - 1))), torch.zeros_like(x), x)

        return self._map(zero)

    def to_dict(self) -> dict[str, Tensor]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "memory"}
        if self.memory is not None:
            d.update(self.memory.as_dict())
        return d

    @staticmethod
    def from_dict(d: dict[str, Tensor]) -> "AgentState":
        mem = MemoryState.from_dict(d) if "mem.M" in d else None
        return AgentState(
            memory=mem, **{f.name: d[f.name] for f in fields(AgentState) if f.name != "memory"}
        )


@dataclass
class StepOutput:
    """What one acting step produces, all batch-first (B, ...). The decoders and return heads are
    evaluated later for a whole segment at once (:meth:`Agent.evaluate`), from these fields."""

    action: Tensor  # (B,)
    log_prob: Tensor  # (B,)   (None only inside learner.replay, see Agent.step's with_policy)
    entropy: Tensor  # (B,)
    logits: Tensor  # (B, A)
    z: Tensor  # (B, |z|)
    # mu_p, logsig_p, mu_q, logsig_q (B, |z|) and logsig_excess (B,) (MERLIN only)
    dist: dict[str, Tensor]
    obs: dict[str, Tensor]  # o_t as tensors (reconstruction targets)
    prev_action: Tensor  # (B, A) a_{t-1}
    prev_reward: Tensor  # (B, 1) r_{t-1}
    mbp_weights: Tensor | None  # (B, K^r, N)
    policy_weights: Tensor | None  # (B, K~, N) the policy's reads (K~ = policy_reads)
    # (B,) the policy's own V~_t (--baseline policy), or (B, A) its Q~_t(a) (--future-cv policy-q)
    policy_value: Tensor | None = None
    reads: Tensor | None = None  # (B, K^r 2|z|) m_{t-1}, the MBP reads step t took in (memory)
    # --tvt-alpha > 0 (tvt.transport): the MBP reads' strengths beta (B, K^r), and the age of each
    # row of M_{t-1} in steps (B, N) long, 0 where unwritten
    mbp_strengths: Tensor | None = None
    mbp_ages: Tensor | None = None
    # --read-target-cost > 0 (losses.hindsight_read_loss): the MBP's first read key (B, 2|z|) and
    # strength (B,), with their graph, and the memory M_{t-1} they read, without gradient
    read_key: Tensor | None = None
    read_strength: Tensor | None = None
    read_memory: MemoryState | None = None


def action_log_prob_entropy(log_pi: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
    """log pi(a) and the entropy -sum_a pi log pi of log-probabilities log_pi (..., A) and
    actions (...,)."""
    log_prob = log_pi.gather(-1, action[..., None]).squeeze(-1)
    return log_prob, -(log_pi.exp() * log_pi).sum(-1)


@dataclass
class PolicyView:
    """What MERLIN's policy sees at one step: :meth:`Agent.policy_z` (B, Z~) and stopgrad(M_{t-1}).

    The replay learner passes the acted view, so that every epoch's policy reads the inputs it
    acted on, not those of an MBP the same update has already moved (``replay_view``)."""

    z: Tensor
    memory: MemoryState | None


@dataclass
class StepNoise:
    """Random numbers for one step: eps (B, |z|) standard normal for z, uniform (B,) for a_t."""

    eps: Tensor
    uniform: Tensor


@dataclass
class Predictions:
    """Return heads and MBP loss terms for stacked steps (any leading shape)."""

    value: Tensor  # V_t
    advantage: Tensor  # A_t
    kl: Tensor | None  # KL(q_t || p_t) in nats (what is reported)
    kl_objective: Tensor | None  # the KL term as optimised (free nats, balancing)
    recon: dict[str, Tensor]
    # (MERLIN) the log sigmas' distance past their bounds before the clamp (mbp.logsig_excess)
    logsig_excess: Tensor | None = None


def _older_checkpoints(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Checkpoints written before the reward scale existed load with no return statistics."""
    for name in ("return_sq_sum", "return_count"):
        state_dict.setdefault(prefix + name, torch.zeros((), dtype=torch.float64))


class Agent(nn.Module):
    """MBP + policy. ``cfg.agent`` picks the configuration (DESIGN §3):

    * ``merlin``: stochastic z, decoders + KL, memory; policy sees stopgrad(z) and stopgrad(M).
    * ``rl-mem``: deterministic z, no MBP losses, memory; trained end-to-end by the RL losses.
    * ``rl-lstm``: deterministic z, no MBP losses, no external memory.
    """

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, cfg: Config) -> None:
        super().__init__()
        if not isinstance(action_space, gym.spaces.Discrete):
            raise UnsupportedSpaceError(
                f"action space {action_space} is not supported; supported: Discrete (the "
                "env factory offers a 1-D MultiDiscrete one as its joint actions)"
            )
        self.cfg = cfg
        self.num_actions = int(action_space.n)
        self.action_start = int(action_space.start)
        self.kind = cfg.agent
        self.is_merlin = cfg.agent == "merlin"
        self.use_memory = cfg.agent in ("merlin", "rl-mem")
        self.mbp = MBP(
            obs_space,
            self.num_actions,
            cfg,
            stochastic=self.is_merlin,
            decoders=self.is_merlin,
            use_memory=self.use_memory,
        )
        sees_reads = cfg.policy_sees == "z+reads" and self.use_memory
        self.policy = Policy(
            self.mbp.z_dim + (self.mbp.reads * self.mbp.width if sees_reads else 0),
            self.num_actions,
            cfg.policy_hidden,
            cfg.mlp_hidden,
            self.mbp.width if self.use_memory else 0,
            cfg.read_strength_init,
            value_outputs=(
                1
                if cfg.baseline in ("policy", "critic")
                else self.num_actions * (cfg.future_cv == "policy-q")
            ),
            reads=cfg.policy_reads,
            film=cfg.policy_film == "history",
            critic=cfg.baseline == "critic",
        )
        # running second moment of the discounted return (reward scale, learner.RewardScale)
        self.register_buffer("return_sq_sum", torch.zeros((), dtype=torch.float64))
        self.register_buffer("return_count", torch.zeros((), dtype=torch.float64))
        self.register_load_state_dict_pre_hook(_older_checkpoints)

    def reward_scale(self) -> float:
        """1 / sqrt(E[G^2]) of the discounted returns G seen in training (1 before any reward, or
        with ``reward_norm`` off): rewards are divided by their return scale everywhere in the
        agent (input r_{t-1}, its reconstruction, the return heads, the advantages)."""
        if self.cfg.reward_norm == "off" or float(self.return_sq_sum) <= 0.0:
            return 1.0
        return float(torch.rsqrt(self.return_sq_sum / self.return_count))

    def initial_state(self, batch: int, device: torch.device | str = "cpu") -> AgentState:
        cfg = self.cfg
        z = lambda *s: torch.zeros(batch, *s, device=device)  # noqa: E731
        rows = cfg.memory_rows or AUTO_MEMORY_FALLBACK  # the trainer resolves 0 from the env
        mem = MemoryState.zeros(batch, rows, self.mbp.width, device) if self.use_memory else None
        return AgentState(
            mbp_h=z(2, cfg.mbp_hidden),
            mbp_c=z(2, cfg.mbp_hidden),
            m=z(self.mbp.reads * self.mbp.width),
            pol_h=z(self.policy.layers, cfg.policy_hidden),
            pol_c=z(self.policy.layers, cfg.policy_hidden),
            prev_action=z(self.num_actions),
            prev_reward=z(1),
            memory=mem,
        )

    def step(
        self,
        obs: dict[str, Tensor],
        state: AgentState,
        sample: bool = True,
        noise: StepNoise | None = None,
        action: Tensor | None = None,
        obs_code: Tensor | None = None,
        policy_view: PolicyView | None = None,
        with_policy: bool = True,
    ) -> tuple[StepOutput, AgentState]:
        """One step for all environments; ``state.prev_reward`` must already hold r_{t-1}.

        ``sample``: draw z and a_t (else z = mu and the argmax action). ``noise``: the random
        numbers to draw them with (else torch's global generator is used). ``action`` (B,): take
        these actions instead of choosing (the replay learner re-runs an acted segment).
        ``obs_code``: the encoders' output for ``obs``, computed beforehand. ``policy_view``: what
        MERLIN's policy reads instead of this step's stopgrad(z_t) and stopgrad(M_{t-1}).
        ``with_policy`` False (needs ``action``): the MBP alone; the output's policy fields
        (log_prob, entropy, logits, policy_weights) are None and the policy's state is passed
        through, for a caller that runs the policy over the whole segment afterwards
        (learner.replay)."""
        mbp = self.mbp
        h_prev = state.mbp_h.flatten(1)  # [h^1_{t-1}, h^2_{t-1}]
        e = mbp.encode(obs, state.prev_action, state.prev_reward, obs_code)
        z, dist = mbp.latent(e, h_prev, state.m, sample, noise.eps if noise else None)
        memory = state.memory

        log_prob = entropy = logits = pol_w = pol_v = None
        pol_h, pol_c = state.pol_h, state.pol_c
        if with_policy:
            z_pol, mem_pol = self.policy_inputs(z, dist, state.m, memory, policy_view)
            logits, pol_h, pol_c, pol_w, pol_v = self.policy(
                z_pol, state.pol_h, state.pol_c, mem_pol
            )
            log_pi = F.log_softmax(logits, -1)
            if action is not None:
                pass
            elif not sample:
                action = logits.argmax(-1)
            elif noise is not None:  # inverse-CDF sampling with the given uniforms
                cdf = log_pi.exp().cumsum(-1)
                action = (cdf < noise.uniform[:, None]).sum(-1).clamp(max=self.num_actions - 1)
            else:
                action = torch.multinomial(log_pi.exp(), 1).squeeze(-1)
            log_prob, entropy = action_log_prob_entropy(log_pi, action)
        elif action is None:
            raise ValueError("Agent.step: with_policy=False needs the actions")
        a_onehot = F.one_hot(action, self.num_actions).to(z.dtype)

        # MBP LSTM on [z_t, a_t, m_{t-1}], then read M_{t-1} and write z_t
        h_cat, mbp_h, mbp_c = mbp.lstm(
            torch.cat([z, a_onehot, state.m], -1), state.mbp_h, state.mbp_c
        )
        m_new, mbp_w = state.m, None
        strengths = ages = None
        hindsight: dict[str, Any] = {}
        if memory is not None:
            keys, beta = mbp.read_interface(h_cat)
            reads, mbp_w = mem_ops.read(memory, keys, beta)
            m_new = reads.flatten(1)
            if self.cfg.tvt_alpha > 0:  # what value transport needs (tvt.transport)
                strengths = beta.detach()
                ages = memory.ages()
            # the hindsight read term, where a loss can use it (replay or single-graph acting)
            if self.is_merlin and self.cfg.read_target_cost > 0 and torch.is_grad_enabled():
                hindsight = dict(
                    read_key=keys[:, 0], read_strength=beta[:, 0], read_memory=memory.detach()
                )
            memory = self.advance_memory(memory, mbp_w, z)

        out = StepOutput(
            action=action,
            log_prob=log_prob,
            entropy=entropy,
            logits=logits,
            z=z,
            dist=dist,
            obs=obs,
            prev_action=state.prev_action,
            prev_reward=state.prev_reward,
            mbp_weights=mbp_w,
            policy_weights=pol_w,
            policy_value=pol_v,
            reads=state.m if self.use_memory else None,
            mbp_strengths=strengths,
            mbp_ages=ages,
            **hindsight,
        )
        new_state = AgentState(
            mbp_h=mbp_h,
            mbp_c=mbp_c,
            m=m_new,
            pol_h=pol_h,
            pol_c=pol_c,
            prev_action=a_onehot,
            prev_reward=state.prev_reward,
            memory=memory,
        )
        return out, new_state

    def policy_inputs(
        self,
        z: Tensor,
        dist: dict[str, Tensor],
        reads: Tensor | None,
        memory: MemoryState | None,
        policy_view: PolicyView | None = None,
    ) -> tuple[Tensor, MemoryState | None]:
        """What the policy reads at a step: ``policy_view`` if given, else :meth:`policy_z` and
        M_{t-1} (stopgrad(M_{t-1}) for MERLIN, so no policy gradient reaches the MBP)."""
        if policy_view is not None:
            return policy_view.z, policy_view.memory
        if self.is_merlin and memory is not None:
            memory = memory.detach()
        return self.policy_z(z, dist, reads), memory

    def policy_z(self, z: Tensor, dist: dict[str, Tensor], reads: Tensor | None) -> Tensor:
        """What the policy's LSTM and head take in at step t (B, Z~): z_t, for MERLIN stopgrad of
        the sample or of mu_q (``policy_input``); with ``policy_sees`` z+reads, [that, m_{t-1}],
        the MBP's reads ``reads`` (B, K^r W) that step t's posterior took in (stopgrad for
        MERLIN; None without memory, RL-LSTM, which takes z_t alone)."""
        if self.is_merlin:
            z = (dist["mu_q"] if self.cfg.policy_input == "mean" else z).detach()
            reads = None if reads is None else reads.detach()
        if self.cfg.policy_sees == "z+reads" and reads is not None:
            z = torch.cat([z, reads], -1)
        return z

    def advance_memory(self, memory: MemoryState, weights: Tensor, z: Tensor) -> MemoryState:
        """M_{t-1} -> M_t: the MBP's reads (B, K^r, N) count as usage, then z_t is written."""
        memory = mem_ops.add_usage(memory, weights, self.cfg.allocation)
        return mem_ops.write(memory, z, self.cfg.gamma, self.cfg.allocation)

    def evaluate(self, steps: list[StepOutput]) -> Predictions:
        """V, A, KL and reconstruction losses of T stacked steps as one batch -> (T, B) each.

        V_t = V(z_t, stopgrad(log pi_t)), A_t = A(z_t, a_t) (DESIGN §1 step 8)."""
        t, b = len(steps), steps[0].z.shape[0]
        cat = lambda xs: torch.cat(xs, 0)  # noqa: E731  (T*B, ...), time-major
        head_z, log_pi, a_onehot = self._head_inputs(steps)
        value, adv = self.mbp.returns(head_z, log_pi, a_onehot)
        z = head_z[:, : self.mbp.z_dim]  # z_t alone (the decoders' input)
        unflat = lambda x: x.view(t, b)  # noqa: E731
        kl = kl_obj = excess = None
        if steps[0].dist:
            dist = {k: cat([s.dist[k] for s in steps]) for k in steps[0].dist}
            excess = unflat(dist.pop("logsig_excess"))
            kl = unflat(losses.gaussian_kl(**dist))
            kl_obj = (
                kl
                if self.cfg.elbo == "literal"
                else unflat(
                    losses.kl_objective(
                        **dist, free_nats=self.cfg.kl_free_nats, balance=self.cfg.kl_balance
                    )
                )
            )
        recon = {}
        if self.mbp.decoders:
            obs = {k: cat([s.obs[k] for s in steps]) for k in steps[0].obs}
            recon = self.mbp.reconstruction_losses(
                z, obs, cat([s.prev_action for s in steps]), cat([s.prev_reward for s in steps])
            )
            recon = {k: unflat(v) for k, v in recon.items()}
        return Predictions(
            value=unflat(value),
            advantage=unflat(adv),
            kl=kl,
            kl_objective=kl_obj,
            recon=recon,
            logsig_excess=excess,
        )

    def values(self, steps: list[StepOutput], mean: bool = False) -> Tensor:
        """V_t = V(z_t, stopgrad(log pi_t)) of T stacked steps -> (T, B), the return head alone;
        ``mean``: on the posterior mean mu_q instead of the sample z_t (MERLIN; the ablations'
        z is deterministic)."""
        value, _ = self.mbp.returns(*self._head_inputs(steps, mean))
        return value.view(len(steps), -1)

    def action_control_variate(self, steps: list[StepOutput], mean: bool = False) -> Tensor:
        """c_t = A(z_t, a_t) - sum_a pi_t(a) A(z_t, a) of T stacked steps -> (T, B), no gradient:
        the A head (step 8) at the acted action, centred under the acting policy pi_t, so that
        E_{a ~ pi_t}[c_t] = 0 (``future_cv`` a-head; ``mean`` as in :meth:`values`)."""
        with torch.no_grad():
            z, log_pi, a = self._head_inputs(steps, mean)
            n, num = z.shape[0], self.num_actions
            every = torch.eye(num, dtype=z.dtype, device=z.device).expand(n, num, num)
            _, adv = self.mbp.returns(
                z[:, None].expand(n, num, z.shape[-1]), log_pi[:, None].expand(n, num, num), every
            )  # (T*B, A): A(z_t, a) for every action a
            c = (adv * a).sum(-1) - (adv * log_pi.exp()).sum(-1)
        return c.view(len(steps), -1)

    def _head_inputs(
        self, steps: list[StepOutput], mean: bool = False
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The return heads' inputs of T stacked steps, time-major (T*B, ...): z_t (mu_q when
        ``mean`` and there is a posterior; [z_t, m_{t-1}] with ``return_input`` z+reads), log pi_t
        and the one-hot a_t."""
        use_mu = mean and bool(steps[0].dist)
        z = torch.cat([s.dist["mu_q"] if use_mu else s.z for s in steps], 0)
        if self.cfg.return_input == "z+reads":
            z = torch.cat([z, torch.cat([s.reads for s in steps], 0)], -1)
        log_pi = F.log_softmax(torch.cat([s.logits for s in steps], 0), -1)
        a = F.one_hot(torch.cat([s.action for s in steps], 0), self.num_actions).to(z.dtype)
        return z, log_pi, a

    def env_action(self, action: Tensor):
        """Agent action index -> the environment's action value (``Discrete.start`` offset)."""
        return action.cpu().numpy() + self.action_start

    def mbp_parameters(self) -> list[nn.Parameter]:
        return list(self.mbp.parameters())

    def policy_parameters(self) -> list[nn.Parameter]:
        return list(self.policy.parameters())
