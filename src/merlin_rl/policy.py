"""MERLIN's policy: its own deep LSTM on z, its memory read keys (one, the paper's, by default),
an MLP to action logits (DESIGN.md §1 step 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from merlin_rl import memory as mem_ops
from merlin_rl.memory import MemoryState
from merlin_rl.nn_utils import DeepLSTM, init_read_strength, mlp


class Policy(nn.Module):
    """h~_t = LSTM(z_t, h~_{t-1}); m~_t = read(M_{t-1}, keys(h~_t)); pi_t = MLP([z_t, h~_t, m~_t]).

    With ``film``, the head takes z'_t = z_t * (1 + gamma_t) + beta_t instead of z_t, where
    [gamma_t, beta_t] = W [h~_t, m~_t] + b (FiLM, Perez et al. 2018; W and b start at 0, so the
    initial policy is the plain one's): the current view modulated by what the policy remembers.

    With ``critic``, a second LSTM c~_t = LSTM_c(z_t, c~_{t-1}) feeds the value head alone.

    The caller passes stopgrad(z_t) and stopgrad(M_{t-1}) for MERLIN, so no policy gradient reaches
    the MBP. ``mem_width`` 0 means no memory (RL-LSTM). ``reads`` keys (the paper: 1), each with
    its own strength, read K~ rows-weightings; m~_t is their K~ readouts side by side.
    """

    def __init__(
        self,
        z_dim: int,
        num_actions: int,
        hidden: int,
        mlp_hidden: int,
        mem_width: int,
        read_strength_init: float = 1.0,
        value_outputs: int = 0,
        reads: int = 1,
        film: bool = False,
        critic: bool = False,
    ) -> None:
        super().__init__()
        self.lstm = DeepLSTM(z_dim, hidden, 2)
        self.mem_width, self.reads = mem_width, reads
        # K~ keys + strengths (with K~ = 1 the layer, and its initial values, of before)
        if mem_width:
            self.interface = nn.Linear(self.lstm.out_dim, reads * (mem_width + 1))
            init_read_strength(self.interface, reads, mem_width, read_strength_init)
        feat = z_dim + self.lstm.out_dim + reads * mem_width
        self.head = mlp(feat, mlp_hidden, num_actions, out_scale=0.01)
        # the policy's own critic (made after the head, so that the default policy's initial
        # weights do not change): ``value_outputs`` 1, V~_t (--baseline policy or critic);
        # num_actions, Q~_t(a) for every action (--future-cv policy-q); 0, none. It reads the
        # policy's features, or with ``critic`` [z_t, c~_t], c~_t the state of a critic LSTM of
        # its own (--baseline critic), so that its regression does not move the policy
        value_in = z_dim + self.lstm.out_dim if critic else feat
        self.value_head = (
            mlp(value_in, mlp_hidden, value_outputs, out_scale=0.01) if value_outputs else None
        )
        self.film = None
        if film:  # made last, so that the other layers' initial weights do not change
            self.film = nn.Linear(self.lstm.out_dim + reads * mem_width, 2 * z_dim)
            nn.init.zeros_(self.film.weight)
            nn.init.zeros_(self.film.bias)
        # c~_t = LSTM_c(z_t, c~_{t-1}), made last; its state is stacked after the policy LSTM's
        # layers in h and c (B, 4, H), so the agent's state, checkpoints and replay carry it as is
        self.critic = DeepLSTM(z_dim, hidden, 2) if critic else None

    def forward(
        self, z: Tensor, h: Tensor, c: Tensor, memory: MemoryState | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
        """One step: :meth:`core` then :meth:`readout`. Returns (logits, h, c, read weights
        (B, K~, N) or None, the value head's V~_t (B,) or None)."""
        h_cat, h, c = self.core(z, h, c)
        logits, weights, value = self.readout(z, h_cat, memory)
        return logits, h, c, weights, value

    @property
    def layers(self) -> int:
        """Layers of the recurrent state h, c (B, layers, H): the policy LSTM's, then the critic's."""
        return self.lstm.layers * (2 if self.critic is not None else 1)

    def own_state(self, h: Tensor) -> Tensor:
        """The policy LSTM's own layers of a recurrent state h or c (B, layers, H) -> (B, 2, H):
        with a critic, the state stacks the critic's layers after them."""
        return h[:, : self.lstm.layers]

    def own_output(self, h_cat: Tensor) -> Tensor:
        """h~_t, the policy LSTM's part of :meth:`core`'s output (B, 2H; 4H with a critic) ->
        (B, 2H): what its read keys and head see."""
        return h_cat[..., : self.lstm.out_dim]

    def core(self, z: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The recurrent part, h~_t = LSTM(z_t, h~_{t-1}): returns ([h^1_t, h^2_t], h, c); with a
        critic, [h^1_t, h^2_t, c~^1_t, c~^2_t] and both states stacked."""
        return self._recurrent(lambda lstm, h, c: lstm(z, h, c), h, c)

    def _recurrent(self, step, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``step(lstm, h, c) -> (outputs, h, c)`` on the policy LSTM, and with a critic on both
        LSTMs (each on its own layers of h and c), their outputs and states side by side."""
        if self.critic is None:
            return step(self.lstm, h, c)
        n = self.lstm.layers
        hp, h1, c1 = step(self.lstm, h[:, :n], c[:, :n])
        hc, h2, c2 = step(self.critic, h[:, n:], c[:, n:])
        return torch.cat([hp, hc], -1), torch.cat([h1, h2], 1), torch.cat([c1, c2], 1)

    def sequence(
        self, z: Tensor, h: Tensor, c: Tensor, starts: Tensor, memory: MemoryState | None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
        """:meth:`forward` over a segment: z (T, B, Z), episode starts (T, B) (the state is zeroed
        where an episode starts), ``memory`` the T memories M_{t-1} read, as one state whose
        fields are (T, B, ...). The LSTM runs fused (``DeepLSTM.sequence``), the reads and the
        head over all T x B steps at once. Returns (logits (T, B, A), h, c, read weights
        (T, B, K~, N) or None, V~ (T, B) or None)."""
        t, b = z.shape[:2]
        h_cats, h, c = self._recurrent(lambda lstm, h, c: lstm.sequence(z, h, c, starts), h, c)
        flat = None if memory is None else memory.map(lambda x: x.flatten(0, 1))
        logits, weights, value = self.readout(z.flatten(0, 1), h_cats.flatten(0, 1), flat)
        if weights is not None:
            weights = weights.view(t, b, *weights.shape[1:])
        if value is not None:
            value = value.view(t, b, *value.shape[1:])
        return logits.view(t, b, -1), h, c, weights, value

    def read_interface(self, h_cat: Tensor) -> tuple[Tensor, Tensor]:
        """The K~ read keys (B, K~, W) and strengths softplus(.) (B, K~) from h~_t = h_cat."""
        i = self.interface(h_cat).view(-1, self.reads, self.mem_width + 1)
        return i[..., :-1], F.softplus(i[..., -1])

    def readout(
        self, z: Tensor, h_cat: Tensor, memory: MemoryState | None
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The feed-forward part, pi_t = MLP([z_t, h~_t, read(M_{t-1}, keys(h~_t))]), with z_t
        FiLM-ed by [h~_t, m~_t] under ``film``: no state, so it takes any batch of steps at once
        (z (B, Z), h_cat (B, 2H; 4H with a critic), a memory of B rows).
        Returns (logits (B, A), read weights (B, K~, N) or None, V~_t (B,) or Q~_t (B, A) from the
        same features, or None without a value head)."""
        critic_h = None
        if self.critic is not None:  # [policy h~_t, critic c~_t]
            h_cat, critic_h = self.own_output(h_cat), h_cat[:, self.lstm.out_dim :]
        z_in = z
        history = [h_cat]
        weights = None
        if self.mem_width:
            assert memory is not None
            read, weights = mem_ops.read(memory, *self.read_interface(h_cat))
            history.append(read.flatten(1))
        if self.film is not None:
            gamma, beta = self.film(torch.cat(history, -1)).chunk(2, -1)
            z = z * (1 + gamma) + beta
        feats = torch.cat([z, *history], -1)
        value = None
        if self.value_head is not None:
            value = self.value_head(feats if critic_h is None else torch.cat([z_in, critic_h], -1))
            value = value.squeeze(-1) if value.shape[-1] == 1 else value
        return self.head(feats), weights, value
