"""Small building blocks shared by the MBP and the policy."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def mlp(inp: int, hidden: int, out: int, out_scale: float = 1.0) -> nn.Sequential:
    """Two-layer MLP (tanh hidden layer); ``out_scale`` shrinks the initial output layer."""
    net = nn.Sequential(nn.Linear(inp, hidden), nn.Tanh(), nn.Linear(hidden, out))
    if out_scale != 1.0:
        with torch.no_grad():
            net[-1].weight.mul_(out_scale)
            net[-1].bias.zero_()
    return net


class DeepLSTM(nn.Module):
    """Stack of LSTM cells stepped one time step at a time; the output is [h^1_t, ..., h^L_t].

    State tensors are batch-first: h, c of shape (B, L, H).
    """

    def __init__(self, inp: int, hidden: int, layers: int = 2) -> None:
        super().__init__()
        self.cells = nn.ModuleList(
            nn.LSTMCell(inp if i == 0 else hidden, hidden) for i in range(layers)
        )
        self.hidden, self.layers = hidden, layers

    @property
    def out_dim(self) -> int:
        return self.hidden * self.layers

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        hs, cs = [], []
        for i, cell in enumerate(self.cells):
            hi, ci = cell(x, (h[:, i], c[:, i]))
            hs.append(hi)
            cs.append(ci)
            x = hi
        h_new, c_new = torch.stack(hs, 1), torch.stack(cs, 1)
        return h_new.flatten(1), h_new, c_new

    def sequence(
        self, x: Tensor, h: Tensor, c: Tensor, starts: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`forward` over a whole sequence x (T, B, I), zeroing the state of the
        environments whose episode starts at step t (``starts`` (T, B) bool) before that step.

        The same numbers as stepping :meth:`forward` T times, but each layer runs as one fused
        LSTM call (``torch.lstm``) per stretch of steps without a start. Returns ([h^1_t, ...,
        h^L_t] for every step (T, B, L x H), the final h and c (B, L, H))."""
        T = x.shape[0]
        inner = (torch.nonzero(starts[1:].any(1)).flatten() + 1).tolist()  # one device sync
        cuts = [0] + inner + [T]
        outs = []
        for t0, t1 in zip(cuts[:-1], cuts[1:]):
            if t0 > 0 or bool(starts[0].any()):
                keep = (~starts[t0]).to(h.dtype).view(-1, 1, 1)
                h, c = h * keep, c * keep
            inp, layer_outs, hs, cs = x[t0:t1], [], [], []
            for i, cell in enumerate(self.cells):
                weights = [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
                state = (h[:, i][None].contiguous(), c[:, i][None].contiguous())
                inp, hn, cn = torch.lstm(
                    inp, state, weights, True, 1, 0.0, self.training, False, False
                )
                layer_outs.append(inp)
                hs.append(hn[0])
                cs.append(cn[0])
            outs.append(torch.cat(layer_outs, -1))
            h, c = torch.stack(hs, 1), torch.stack(cs, 1)
        return torch.cat(outs, 0), h, c


def init_read_strength(interface: nn.Linear, heads: int, width: int, beta0: float) -> None:
    """Set the bias of the strength outputs of a memory interface (laid out as ``heads`` blocks of
    ``width`` key entries + 1 strength) so that softplus(bias) = beta0 at initialisation."""
    beta0 = float(beta0)
    if beta0 < 50.0:  # softplus^-1 in float32, as every run so far was initialised
        bias = float(torch.log(torch.expm1(torch.tensor(beta0))))
    else:  # where expm1 would overflow float32: softplus^-1(b) = b + log(1 - e^-b)
        bias = beta0 + math.log(-math.expm1(-beta0))
    with torch.no_grad():
        interface.bias.view(heads, width + 1)[:, -1].fill_(bias)


def soft_clamp(x: Tensor, lo: float, hi: float) -> Tensor:
    """A smooth clamp: lo + softplus(x - lo), then hi - softplus(hi - .) (as for the
    log-variances of PETS, Chua et al. 2018). Never above hi, at most e^-(hi - lo) below lo, and
    close to x well inside the bounds."""
    x = lo + F.softplus(x - lo)
    return hi - F.softplus(hi - x)
