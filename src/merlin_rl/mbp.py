"""Memory-based predictor (MBP): encoders, prior, posterior, MBP LSTM, memory interface, decoders
and return heads (DESIGN.md §1 steps 1-4, 6-8)."""

from __future__ import annotations

import gymnasium as gym
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from merlin_rl.config import Config
from merlin_rl.encoders import ObservationCodec
from merlin_rl.nn_utils import DeepLSTM, init_read_strength, mlp, soft_clamp

# Bounds of the prior's and posterior's log sigma (DESIGN.md §1 steps 2-4, correction below).
LOGSIG_MIN, LOGSIG_MAX = -5.0, 1.0


def logsig_excess(raw: Tensor) -> Tensor:
    """sum_d relu(x_d - LOGSIG_MAX)^2 + relu(LOGSIG_MIN - x_d)^2 of log sigmas before the clamp
    (..., D) -> (...): zero inside the bounds (``--logsig-bound-cost``'s penalty)."""
    return (F.relu(raw - LOGSIG_MAX).square() + F.relu(LOGSIG_MIN - raw).square()).sum(-1)


class MBP(nn.Module):
    """The memory-based predictor.

    ``stochastic``: prior/posterior Gaussians with a reparameterised z (MERLIN); otherwise z is a
    deterministic encoding (the RL-MEM / RL-LSTM ablations). ``decoders``: reconstruction heads.
    ``use_memory``: the K^r memory reads (m_t) exist.

    ``cfg.latent`` "factored" (MERLIN with two or more observation kinds): z_t is the
    concatenation of one slice of ``cfg.z_dim`` per observation modality, each with its own
    posterior MLP over that modality's encoding (plus a_{t-1}, r_{t-1}, h_{t-1}, m_{t-1} and
    its part of the prior), and each modality's decoder reconstructs it from its own slice. The
    prior, the memory, the return heads, the action/reward decoders and the policy see all of z.
    So a heavy input (an image at weight 50) cannot take over the units a rare, small one (an
    instruction shown once) needs (docs/learning.md, sixteenth session). "joint": the paper's
    one posterior over e_t, every decoder reading all of z. With one observation kind both are
    the same.
    """

    def __init__(
        self,
        obs_space: gym.Space,
        num_actions: int,
        cfg: Config,
        *,
        stochastic: bool,
        decoders: bool,
        use_memory: bool,
    ) -> None:
        super().__init__()
        self.num_actions = num_actions
        self.stochastic, self.use_memory = stochastic, use_memory
        self.codec = ObservationCodec(
            obs_space, cfg.image_channels, cfg.enc_dim, cfg.image_scale, cfg.encoder_norm
        )
        kinds = len(self.codec.names)
        self.factored = stochastic and decoders and cfg.latent == "factored" and kinds > 1
        # (lo, hi) of each modality's slice of z (factored), in the codec's order
        self.slices = [(i * cfg.z_dim, (i + 1) * cfg.z_dim) for i in range(kinds)]
        self.enc_sizes = [m.enc_dim for _, m in self.codec.items()]  # e_t's parts, in that order
        self.z_dim = cfg.z_dim * (kinds if self.factored else 1)  # |z|
        self.reads = cfg.mbp_reads if use_memory else 0
        self.width = 2 * self.z_dim  # memory row width
        read_dim = self.reads * self.width
        e_dim = self.codec.out_dim + num_actions + 1  # + previous action (one-hot) and reward
        self.lstm = DeepLSTM(self.z_dim + num_actions + read_dim, cfg.mbp_hidden, 2)
        h_dim = self.lstm.out_dim
        z2 = 2 * self.z_dim
        if stochastic:
            # f_prior([h_{t-1}, m_{t-1}]) -> [mu_p, log sigma_p]
            self.prior = mlp(h_dim + read_dim, cfg.mlp_hidden, z2, out_scale=0.1)
        # --posterior-form direct: f_post reads no prior and adds none (Dreamer's RSSM)
        self.residual = not (stochastic and cfg.posterior_form == "direct")
        if self.factored:
            # one f_post per modality k: ([e^k_t, a_{t-1}, r_{t-1}, h_{t-1}, m_{t-1}, prior^k])
            rest = num_actions + 1 + h_dim + read_dim + (2 * cfg.z_dim if self.residual else 0)
            self.posteriors = nn.ModuleList(
                mlp(size + rest, cfg.mlp_hidden, 2 * cfg.z_dim, out_scale=0.1)
                for size in self.enc_sizes
            )
        elif stochastic:
            # f_post([e_t, h_{t-1}, m_{t-1}, mu_p, log sigma_p]) + [mu_p, log sigma_p] (residual)
            # or f_post([e_t, h_{t-1}, m_{t-1}]) (direct)
            size = e_dim + h_dim + read_dim + (z2 if self.residual else 0)
            self.posterior = mlp(size, cfg.mlp_hidden, z2, out_scale=0.1)
        else:
            self.posterior = mlp(e_dim + h_dim + read_dim, cfg.mlp_hidden, self.z_dim)
        # --latent-input-norm layer: each part of the prior's and posterior's inputs normalised
        self.input_norm = stochastic and cfg.latent_input_norm == "layer"
        # --prior-grad kl: the posterior adds and reads a stopgrad copy of the prior, so only
        # the KL term trains the prior's MLP
        self.prior_kl_only = stochastic and cfg.prior_grad == "kl"
        if self.input_norm:
            self.norm_codes = nn.ModuleList(nn.LayerNorm(size) for size in self.enc_sizes)
            self.norm_h = nn.LayerNorm(h_dim)
            self.norm_m = nn.LayerNorm(read_dim) if read_dim else nn.Identity()
            per_prior = 2 * cfg.z_dim if self.factored else z2
            self.norm_priors = nn.ModuleList(
                nn.LayerNorm(per_prior)
                for _ in range((kinds if self.factored else 1) if self.residual else 0)
            )
        if use_memory:
            # interface i_t = W h_t -> K^r keys of width 2|z| and K^r strengths
            self.interface = nn.Linear(h_dim, self.reads * (self.width + 1))
            init_read_strength(self.interface, self.reads, self.width, cfg.read_strength_init)
        self.decoders = decoders
        if decoders:
            self.codec.build_decoders(
                cfg.z_dim,
                cfg.decoder_hidden or cfg.mlp_hidden,
                cfg.vector_sigma,
                cfg.vector_sigma_min,
                cfg.image_decoder,
                cfg.image_output,
                cfg.image_codes,
            )
            self.action_decoder = nn.Linear(self.z_dim, num_actions)
            self.reward_decoder = nn.Linear(self.z_dim, 1)
        # return heads: V(z, stopgrad(log pi)) and A(z, onehot(a)); z is [z_t, m_{t-1}] with
        # return_input z+reads (Agent._head_inputs)
        head_in = self.z_dim + (read_dim if cfg.return_input == "z+reads" else 0)
        self.value_head = mlp(head_in + num_actions, cfg.mlp_hidden, 1)
        self.advantage_head = mlp(head_in + num_actions, cfg.mlp_hidden, 1)

    def clip_groups(self) -> list[list[nn.Parameter]]:
        """The parameters that ``--mbp-clip kind`` clips by their own norm: each observation
        kind's encoder and decoder (with its LayerNorms, and with the factored latent its
        posterior), in the codec's order, then all the rest (shared by every kind)."""
        own = []
        for i, m in enumerate(self.codec.modalities.values()):
            group = list(m.parameters())
            if self.codec.norms is not None:
                group += list(self.codec.norms[f"m{i}"].parameters())
            if self.factored:
                group += list(self.posteriors[i].parameters())
            if self.input_norm:
                group += list(self.norm_codes[i].parameters())
                if self.factored and self.residual:
                    group += list(self.norm_priors[i].parameters())
            own.append(group)
        ids = {id(p) for group in own for p in group}
        return own + [[p for p in self.parameters() if id(p) not in ids]]

    def encode(
        self,
        obs: dict[str, Tensor],
        prev_action: Tensor,
        prev_reward: Tensor,
        obs_code: Tensor | None = None,
    ) -> Tensor:
        """e_t = [encoders(o_t), a_{t-1} one-hot, r_{t-1}] (step 1). ``obs_code``: encoders(o_t)
        computed beforehand (the replay learner encodes a whole segment in one batch)."""
        code = self.codec.encode(obs) if obs_code is None else obs_code
        return torch.cat([code, prev_action, prev_reward], dim=-1)

    def latent(
        self, e: Tensor, h_prev: Tensor, m_prev: Tensor, sample: bool, eps: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Prior, posterior and z_t (steps 2-4). Returns z and the distribution parameters.

        Both log sigmas are soft-clamped (nn_utils.soft_clamp) to (-5, 1). Unbounded (as
        read literally), the posterior's log sigma drifted up on dimensions no decoder reads, the
        prior followed (KL ~ 0), and the samples, written to memory and read back into the prior
        and posterior, grew without limit: the MBP diverged (|z| 40 -> 6e5 within 2,000 env
        steps; docs/learning.md, "MBP divergence") whenever there were more gradient steps per
        env step (16 envs, or 4 epochs x 4 minibatches).

        ``eps`` (B, |z|) is the standard-normal noise of the reparameterisation (drawn here if None).

        The posterior reads the prior's parameters and adds them (``--posterior-form residual``,
        the paper's), or reads e_t, h_{t-1} and m_{t-1} alone (``direct``, Dreamer's RSSM: only
        the KL term then reaches the prior).

        With ``input_norm`` (``--latent-input-norm layer``) the MLPs read each part of their
        input layer-normalised: each kind's encoding, h_{t-1}, m_{t-1} and the prior's parameters.

        ``dist["logsig_excess"]`` (B,): how far the prior's and posterior's log sigmas lie beyond
        the bounds before the clamp, sum_d relu(x_d - 1)^2 + relu(-5 - x_d)^2 over both
        (``logsig_excess``). Deep past a bound the clamp passes almost no gradient, so a slice
        stuck there cannot narrow (docs/learning.md, thirty-first session).
        """
        if not self.stochastic:
            return self.posterior(torch.cat([e, h_prev, m_prev], -1)), {}
        if self.input_norm:  # what the MLPs read; the posterior's residual stays the raw prior
            codes = e[..., : self.codec.out_dim].split(self.enc_sizes, -1)
            rest = e[..., self.codec.out_dim :]  # a_{t-1}, r_{t-1} as they are
            e = torch.cat([n(c) for n, c in zip(self.norm_codes, codes)] + [rest], -1)
            h_prev, m_prev = self.norm_h(h_prev), self.norm_m(m_prev)
        mu_p, raw_p = self.prior(torch.cat([h_prev, m_prev], -1)).chunk(2, -1)
        logsig_p = soft_clamp(raw_p, LOGSIG_MIN, LOGSIG_MAX)
        base_mu, base_logsig = (  # what the posterior reads and adds
            (mu_p.detach(), logsig_p.detach()) if self.prior_kl_only else (mu_p, logsig_p)
        )
        if self.factored:
            mu_q, raw_q = self._factored_posterior(e, h_prev, m_prev, base_mu, base_logsig)
        elif not self.residual:
            mu_q, raw_q = self.posterior(torch.cat([e, h_prev, m_prev], -1)).chunk(2, -1)
        else:
            prior = torch.cat([base_mu, base_logsig], -1)
            seen = self.norm_priors[0](prior) if self.input_norm else prior
            post = self.posterior(torch.cat([e, h_prev, m_prev, seen], -1)) + prior
            mu_q, raw_q = post.chunk(2, -1)
        logsig_q = soft_clamp(raw_q, LOGSIG_MIN, LOGSIG_MAX)
        excess = logsig_excess(raw_p) + logsig_excess(raw_q)
        if sample:
            eps = torch.randn_like(mu_q) if eps is None else eps
            z = mu_q + torch.exp(logsig_q) * eps
        else:
            z = mu_q
        return z, dict(
            mu_p=mu_p, logsig_p=logsig_p, mu_q=mu_q, logsig_q=logsig_q, logsig_excess=excess
        )

    def _factored_posterior(
        self, e: Tensor, h_prev: Tensor, m_prev: Tensor, mu_p: Tensor, logsig_p: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Per modality k: [mu^k_q, log sigma^k_q] = f^k_post([e^k_t, a_{t-1}, r_{t-1}, h_{t-1},
        m_{t-1}, mu^k_p, log sigma^k_p]) + [mu^k_p, log sigma^k_p] (residual), or
        f^k_post([e^k_t, a_{t-1}, r_{t-1}, h_{t-1}, m_{t-1}]) (direct); the slices joined ->
        (B, |z|)."""
        codes = e[..., : self.codec.out_dim].split(self.enc_sizes, -1)
        shared = [e[..., self.codec.out_dim :], h_prev, m_prev]
        mus, logsigs = [], []
        for k, ((lo, hi), code, post) in enumerate(zip(self.slices, codes, self.posteriors)):
            if self.residual:
                prior = torch.cat([mu_p[..., lo:hi], logsig_p[..., lo:hi]], -1)
                seen = self.norm_priors[k](prior) if self.input_norm else prior
                mu, logsig = (post(torch.cat([code, *shared, seen], -1)) + prior).chunk(2, -1)
            else:
                mu, logsig = post(torch.cat([code, *shared], -1)).chunk(2, -1)
            mus.append(mu)
            logsigs.append(logsig)
        return torch.cat(mus, -1), torch.cat(logsigs, -1)

    def decoder_input(self, z: Tensor, name: str) -> Tensor:
        """What observation ``name``'s decoder reads: its own slice of z (factored), else z."""
        if not self.factored:
            return z
        lo, hi = self.slices[self.codec.names.index(name)]
        return z[..., lo:hi]

    def read_interface(self, h_cat: Tensor) -> tuple[Tensor, Tensor]:
        """i_t = W h_t split into K^r keys (B, K^r, 2|z|) and strengths softplus(.) (B, K^r)."""
        i = self.interface(h_cat).view(-1, self.reads, self.width + 1)
        return i[..., :-1], F.softplus(i[..., -1])

    def returns(self, z: Tensor, log_pi: Tensor, action_onehot: Tensor) -> tuple[Tensor, Tensor]:
        """V_t = V(z_t, stopgrad(log pi_t)) and A_t = A(z_t, a_t) (step 8)."""
        v = self.value_head(torch.cat([z, log_pi.detach()], -1)).squeeze(-1)
        a = self.advantage_head(torch.cat([z, action_onehot], -1)).squeeze(-1)
        return v, a

    def reconstruction_losses(
        self, z: Tensor, obs: dict[str, Tensor], prev_action: Tensor, prev_reward: Tensor
    ) -> dict[str, Tensor]:
        """Negative log-likelihood of every input given z_t, per environment (B,); with a factored
        latent each observation from its own slice of z (``decoder_input``)."""
        losses = {
            f"{m.kind}:{k}": m.recon_loss(self.decoder_input(z, k), obs[k])
            for k, m in self.codec.items()
        }
        # soft-target cross-entropy: zero at the episode's first step, where there is no a_{t-1}
        losses["action"] = -(prev_action * F.log_softmax(self.action_decoder(z), -1)).sum(-1)
        losses["reward"] = (self.reward_decoder(z) - prev_reward).pow(2).squeeze(-1)
        return losses
