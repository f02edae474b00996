"""External memory of MERLIN, batched over environments (DESIGN.md §1).

Each environment owns a matrix ``M`` of ``N`` rows of width ``2|z|``. Row ``s`` written at step ``s``
holds ``[z_s, (1-gamma) * sum_{t>s} gamma^(t-s-1) z_t]`` (retroactive update). Reads are
content-based (cosine similarity, softmax with a strength) over written rows only. When every row is
used, the row with the smallest usage is overwritten (ties: the oldest write) after being cleared.
Usage forgets (``usage``, the default): it decays by ``1 - 2/N`` per step and each read adds its
mean weight, so unread rows age out oldest first while rows that keep being read stay
(DESIGN.md §1, correction). ``usage-literal`` is the paper's rule read literally (usage only grows;
it freezes a full memory) and ``fifo`` a circular buffer; both are kept for ablations.

All functions are pure: they take a :class:`MemoryState` and return a new one, so the autograd graph
through the memory is kept inside a truncation window (the caller detaches between windows).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Callable

import torch
from torch import Tensor

ALLOCATIONS = ("usage", "usage-literal", "fifo")
_NORM_EPS = 1e-6


@dataclass
class MemoryState:
    """Memory of B environments with N rows of width W = 2|z|."""

    M: Tensor  # (B, N, W) memory matrix
    v_ret: Tensor  # (B, N) retroactive weighting v^ret_{t}
    v_w: Tensor  # (B, N) last delta write weighting v^w_{t} (one-hot)
    usage: Tensor  # (B, N) usage u_t
    written: Tensor  # (B, N) bool, row holds an event
    write_step: Tensor  # (B, N) long, episode step of the row's last write (for tie-breaking)
    count: Tensor  # (B,) long, number of writes in this episode

    @staticmethod
    def zeros(
        batch: int,
        rows: int,
        width: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> "MemoryState":
        f = dict(device=device, dtype=dtype)
        return MemoryState(
            M=torch.zeros(batch, rows, width, **f),
            v_ret=torch.zeros(batch, rows, **f),
            v_w=torch.zeros(batch, rows, **f),
            usage=torch.zeros(batch, rows, **f),
            written=torch.zeros(batch, rows, dtype=torch.bool, device=device),
            write_step=torch.zeros(batch, rows, dtype=torch.long, device=device),
            count=torch.zeros(batch, dtype=torch.long, device=device),
        )

    def map(self, fn: Callable[[Tensor], Tensor]) -> "MemoryState":
        """``fn`` applied to every field."""
        return MemoryState(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def detach(self) -> "MemoryState":
        return self.map(Tensor.detach)

    def select(self, index: Tensor) -> "MemoryState":
        """The memories of environments ``index`` (a minibatch over environments)."""
        return self.map(lambda x: x[index])

    def reset(self, mask: Tensor) -> "MemoryState":
        """Blank the memory of environments where ``mask`` (B,) is True (new episode)."""
        out = {}
        for f in fields(self):
            x = getattr(self, f.name)
            m = mask.view(-1, *([1] * (x.dim() - 1)))
            out[f.name] = torch.where(m, torch.zeros((), dtype=x.dtype, device=x.device), x)
        return MemoryState(**out)

    def ages(self) -> Tensor:
        """(B, N) long: steps since each row was written, counted from the next step (1 = the
        last write), 0 where unwritten (what value transport reads; tvt.transport)."""
        return torch.where(self.written, self.count[:, None] - self.write_step, 0)

    def as_dict(self, prefix: str = "mem.") -> dict[str, Tensor]:
        return {prefix + f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def from_dict(d: dict[str, Tensor], prefix: str = "mem.") -> "MemoryState":
        return MemoryState(**{f.name: d[prefix + f.name] for f in fields(MemoryState)})


def cosine_similarity(keys: Tensor, M: Tensor) -> Tensor:
    """c[b, i, j] = k_i . M_j / (|k_i| |M_j|) for keys (B, H, W) and memory (B, N, W) -> (B, H, N).

    A small epsilon inside the norms keeps zero rows finite (their similarity is 0). The memory is
    not normalised as a copy: the dot products k . M_j come from one batched matmul over M and
    are divided by the row norms afterwards.
    """
    k = keys * torch.rsqrt(keys.pow(2).sum(-1, keepdim=True) + _NORM_EPS)
    return torch.bmm(k, M.transpose(1, 2)) * _row_rsqrt(M).unsqueeze(1)


def _row_rsqrt(M: Tensor) -> Tensor:
    """1 / sqrt(|M_j|^2 + eps) per row -> (B, N), without a (B, N, W) temporary."""
    return torch.rsqrt(torch.linalg.vector_norm(M, dim=-1).square() + _NORM_EPS)


def read_weights(mem: MemoryState, keys: Tensor, beta: Tensor) -> Tensor:
    """Read weights w^i[j] = softmax_j(beta^i cos(k^i, M[j])) over written rows only -> (B, H, N).

    With nothing written the weights are all zero (the read is the zero vector).
    """
    return _Read.apply(mem.M, keys, beta, mem.written)[1]


def read(mem: MemoryState, keys: Tensor, beta: Tensor) -> tuple[Tensor, Tensor]:
    """Content-based read (DNC-style): r^i = sum_j w^i[j] M[j] with the weights of
    :func:`read_weights`. Returns (readouts (B, H, W), weights (B, H, N))."""
    return _Read.apply(mem.M, keys, beta, mem.written)


class _Read(torch.autograd.Function):
    """The read as one autograd node with a hand-written backward.

    Autograd through the plain formula makes about a dozen (B, N, W) tensors per read in the
    backward (norm, two matmuls, transposes, accumulation); here the gradient for M is one
    batched matmul plus one fused multiply-add, and it is skipped when M needs no gradient (the
    policy reads a detached memory). Checked against autograd of the plain formula
    (tests/test_memory.py, gradcheck in float64)."""

    @staticmethod
    def forward(ctx, M: Tensor, keys: Tensor, beta: Tensor, written: Tensor):  # type: ignore[override]
        k_scale = torch.rsqrt(keys.pow(2).sum(-1, keepdim=True) + _NORM_EPS)  # (B, H, 1)
        kn = keys * k_scale
        rn = _row_rsqrt(M)  # (B, N)
        dots = torch.bmm(kn, M.transpose(1, 2))  # (B, H, N)
        cos = dots * rn.unsqueeze(1)
        mask = written.unsqueeze(1).to(M.dtype)  # (B, 1, N)
        logits = (beta.unsqueeze(-1) * cos).masked_fill(~written.unsqueeze(1), -1e9)
        p = torch.softmax(logits, dim=-1)
        w = p * mask
        r = torch.bmm(w, M)
        ctx.save_for_backward(M, keys, k_scale, kn, rn, dots, cos, beta, p, w, mask)
        ctx.set_materialize_grads(False)  # an unused output's gradient arrives as None
        return r, w

    @staticmethod
    @torch.autograd.function.once_differentiable  # no double backward: it raises, not lies
    def backward(ctx, d_r: Tensor | None, d_w: Tensor | None):  # type: ignore[override]
        M, keys, k_scale, kn, rn, dots, cos, beta, p, w, mask = ctx.saved_tensors
        need_m, need_k, need_beta = ctx.needs_input_grad[:3]
        if d_r is not None:
            d_r = d_r.to(M.dtype)  # under autocast r may be lower precision than M
        dw = torch.zeros_like(w) if d_w is None else d_w.to(w.dtype, copy=True)
        if d_r is not None:
            dw = dw.baddbmm_(d_r, M.transpose(1, 2))  # d r / d w = M
        dp = dw * mask
        dlogits = p * (dp - (dp * p).sum(-1, keepdim=True)) * mask  # softmax; masked get none
        d_beta = (dlogits * cos).sum(-1) if need_beta else None
        dcos = dlogits * beta.unsqueeze(-1)
        ddots = dcos * rn.unsqueeze(1)
        d_m = d_k = None
        if need_m:
            # d M_j = sum_i ddots_ij kn_i + sum_i w_ij dr_i - (sum_i dcos_ij dots_ij) rn_j^3 M_j
            coef = -(dcos * dots).sum(1) * rn.pow(3)  # (B, N)
            if d_r is None:
                d_m = torch.bmm(ddots.transpose(1, 2), kn)
            else:
                d_m = torch.bmm(torch.cat([ddots, w], 1).transpose(1, 2), torch.cat([kn, d_r], 1))
            d_m.addcmul_(coef.unsqueeze(-1), M)
        if need_k:
            dkn = torch.bmm(ddots, M)  # (B, H, W)
            d_k = k_scale * dkn - k_scale.pow(3) * (keys * dkn).sum(-1, keepdim=True) * keys
        return d_m, d_k, d_beta, None


def usage_decay(rows: int) -> float:
    """Per-step usage decay of the ``usage`` allocation: delta = max(0, 1 - 2/N).

    With reads spread evenly (each row gets ~1/N of the mean read weight per step) an unread row
    settles at usage ~1/2, below the 1 of a fresh write, so the oldest unread rows go first and
    the newest N steps stay; a row holding a mean read weight w every step settles at w N / 2."""
    return max(0.0, 1.0 - 2.0 / rows)


def add_usage(mem: MemoryState, weights: Tensor, allocation: str = "usage") -> MemoryState:
    """Reading a row counts as using it (no gradient). weights (B, K^r, N).

    ``usage``: u_t = delta u_{t-1} + mean_i w^i (see :func:`usage_decay`);
    ``usage-literal`` and ``fifo``: u_t = u_{t-1} + sum_i w^i (the paper's rule)."""
    w = weights.detach()
    if allocation == "usage":
        return replace(mem, usage=mem.usage * usage_decay(mem.M.shape[1]) + w.mean(1))
    _check_allocation(allocation)
    return replace(mem, usage=mem.usage + w.sum(1))


def _check_allocation(allocation: str) -> None:
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")


def choose_rows(mem: MemoryState, allocation: str = "usage") -> Tensor:
    """Row to write for each environment (B,).

    Free rows are filled in order; afterwards ``usage`` and ``usage-literal`` pick the least-used
    row (ties: the oldest write) and ``fifo`` cycles through the rows like a circular buffer.
    """
    n = mem.M.shape[1]
    _check_allocation(allocation)
    if allocation == "fifo":
        return mem.count % n
    min_usage = mem.usage.min(dim=-1, keepdim=True).values
    candidates = mem.usage == min_usage
    oldest = mem.write_step.masked_fill(~candidates, torch.iinfo(torch.long).max).argmin(dim=-1)
    return torch.where(mem.count < n, mem.count, oldest)


def write(mem: MemoryState, z: Tensor, gamma: float, allocation: str = "usage") -> MemoryState:
    """Delta write of z_t plus the retroactive update (DESIGN §1 step 7).

    v^w_t = onehot(row); v^ret_t = gamma v^ret_{t-1} + (1-gamma) v^w_{t-1};
    M_t = M_{t-1} + v^w_t [z_t, 0]^T + v^ret_t [0, z_t]^T.
    The chosen row is cleared first (both halves, its v^ret and v^w entries) and starts with usage 1.

    Cost: one pass over M forward (see :class:`_Write`).
    """
    n = mem.M.shape[1]
    row = choose_rows(mem, allocation)
    v_w = torch.nn.functional.one_hot(row, n).to(z.dtype)  # (B, N)
    keep = 1.0 - v_w
    v_ret = gamma * (mem.v_ret * keep) + (1.0 - gamma) * (mem.v_w * keep)
    M = _Write.apply(mem.M, z, v_ret, row)
    is_row = v_w.bool()
    return MemoryState(
        M=M,
        v_ret=v_ret,
        v_w=v_w,
        usage=mem.usage * keep + v_w,
        written=mem.written | is_row,
        write_step=torch.where(is_row, mem.count.unsqueeze(-1), mem.write_step),
        count=mem.count + 1,
    )


class _Write(torch.autograd.Function):
    """M_t = M_{t-1} + v^ret_t [0, z_t]^T with row ``row`` replaced by [z_t, 0], as one node
    (``v_ret`` and ``row`` are constants: no gradient flows to them).

    Forward: one fused multiply-add over M (v^ret is 0 on the chosen row) and an in-place row
    write into the fresh matrix. Backward: dz = v^ret . dM_t[:, Z:] + dM_t[row, :Z] (one batched
    matmul over half of dM_t) and dM_{t-1} = dM_t with the overwritten row zeroed."""

    @staticmethod
    def forward(ctx, M: Tensor, z: Tensor, v_ret: Tensor, row: Tensor):  # type: ignore[override]
        width, zd = M.shape[-1], z.shape[-1]
        retro = torch.nn.functional.pad(z, (width - zd, 0))  # [0, z_t]
        out = torch.addcmul(M, v_ret.unsqueeze(-1), retro.unsqueeze(1))
        idx = torch.arange(M.shape[0], device=M.device)
        out[idx, row] = torch.nn.functional.pad(z, (0, width - zd))  # [z_t, 0]
        ctx.save_for_backward(v_ret, row)
        ctx.zd = zd
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out: Tensor):  # type: ignore[override]
        v_ret, row = ctx.saved_tensors
        zd = ctx.zd
        idx = torch.arange(d_out.shape[0], device=d_out.device)
        d_m = d_z = None
        if ctx.needs_input_grad[1]:
            v = v_ret.clone()
            v[idx, row] = 0.0  # the chosen row is overwritten whatever v^ret says there
            d_z = (
                torch.bmm(v.unsqueeze(1).to(d_out.dtype), d_out[..., zd:]).squeeze(1)
                + d_out[idx, row, :zd]
            )
        if ctx.needs_input_grad[0]:
            d_m = d_out.clone()
            d_m[idx, row] = 0.0
        return d_m, d_z, None, None
