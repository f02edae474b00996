"""External memory of MERLIN, batched over environments (DESIGN.md §1).

Each environment owns a matrix ``M`` of ``N`` rows of width ``2|z|``. Row ``s`` written at step ``s``
holds ``[z_s, (1-gamma) * sum_{t>s} gamma^(t-s-1) z_t]`` (retroactive update). Reads are
content-based (cosine similarity, softmax with a strength) over written rows only. When every row is
used, the row with the smallest usage is overwritten (ties: the oldest write) after being cleared.

All functions are pure: they take a :class:`MemoryState` and return a new one, so the autograd graph
through the memory is kept inside a truncation window (the caller detaches between windows).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

ALLOCATIONS = ("usage", "fifo")
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
    def zeros(batch: int, rows: int, width: int, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float32) -> "MemoryState":
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

    def detach(self) -> "MemoryState":
        return MemoryState(**{f.name: getattr(self, f.name).detach() for f in fields(self)})

    def reset(self, mask: Tensor) -> "MemoryState":
        """Blank the memory of environments where ``mask`` (B,) is True (new episode)."""
        out = {}
        for f in fields(self):
            x = getattr(self, f.name)
            m = mask.view(-1, *([1] * (x.dim() - 1)))
            out[f.name] = torch.where(m, torch.zeros((), dtype=x.dtype, device=x.device), x)
        return MemoryState(**out)

    def as_dict(self, prefix: str = "mem.") -> dict[str, Tensor]:
        return {prefix + f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def from_dict(d: dict[str, Tensor], prefix: str = "mem.") -> "MemoryState":
        return MemoryState(**{f.name: d[prefix + f.name] for f in fields(MemoryState)})


def cosine_similarity(keys: Tensor, M: Tensor) -> Tensor:
    """c[b, i, j] = k_i . M_j / (|k_i| |M_j|) for keys (B, H, W) and memory (B, N, W) -> (B, H, N).

    A small epsilon inside the norms keeps zero rows finite (their similarity is 0). The memory is
    not normalised as a copy: the dot products k . M_j come from one batched matmul over M and
    are divided by the row norms afterwards, so a step makes no (B, N, W) temporaries.
    """
    k = keys * torch.rsqrt(keys.pow(2).sum(-1, keepdim=True) + _NORM_EPS)
    row_sq = torch.linalg.vector_norm(M, dim=-1).square()  # (B, N), no (B, N, W) temporary
    return torch.bmm(k, M.transpose(1, 2)) * torch.rsqrt(row_sq + _NORM_EPS).unsqueeze(1)


def read_weights(mem: MemoryState, keys: Tensor, beta: Tensor) -> Tensor:
    """Read weights w^i[j] = softmax_j(beta^i cos(k^i, M[j])) over written rows only -> (B, H, N).

    With nothing written the weights are all zero (the read is the zero vector).
    """
    logits = beta.unsqueeze(-1) * cosine_similarity(keys, mem.M)
    written = mem.written.unsqueeze(1)  # (B, 1, N)
    logits = logits.masked_fill(~written, -1e9)
    return torch.softmax(logits, dim=-1) * written.to(logits.dtype)


def read(mem: MemoryState, keys: Tensor, beta: Tensor) -> tuple[Tensor, Tensor]:
    """Content-based read (DNC-style). Returns (readouts (B, H, W), weights (B, H, N))."""
    w = read_weights(mem, keys, beta)
    return torch.bmm(w, mem.M), w


def add_usage(mem: MemoryState, weights: Tensor) -> MemoryState:
    """u_t[k] += sum_i w^i[k]: reading a row counts as using it (no gradient)."""
    return replace(mem, usage=mem.usage + weights.detach().sum(1))


def choose_rows(mem: MemoryState, allocation: str = "usage") -> Tensor:
    """Row to write for each environment (B,).

    Free rows are filled in order; afterwards ``usage`` picks the least-used row (ties: the oldest
    write) and ``fifo`` cycles through the rows like a circular buffer.
    """
    n = mem.M.shape[1]
    if allocation == "fifo":
        return mem.count % n
    if allocation != "usage":
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    min_usage = mem.usage.min(dim=-1, keepdim=True).values
    candidates = mem.usage == min_usage
    oldest = mem.write_step.masked_fill(~candidates, torch.iinfo(torch.long).max).argmin(dim=-1)
    return torch.where(mem.count < n, mem.count, oldest)


def write(mem: MemoryState, z: Tensor, gamma: float, allocation: str = "usage") -> MemoryState:
    """Delta write of z_t plus the retroactive update (DESIGN §1 step 7).

    v^w_t = onehot(row); v^ret_t = gamma v^ret_{t-1} + (1-gamma) v^w_{t-1};
    M_t = M_{t-1} + v^w_t [z_t, 0]^T + v^ret_t [0, z_t]^T.
    The chosen row is cleared first (both halves, its v^ret and v^w entries) and starts with usage 1.

    Cost: one pass over M. The retroactive add makes the new matrix (one fused multiply-add;
    v^ret is 0 on the chosen row), then the chosen row is overwritten in place with [z_t, 0]
    (safe for autograd: nothing saved the fresh matrix yet).
    """
    b, n, width = mem.M.shape
    row = choose_rows(mem, allocation)
    v_w = torch.nn.functional.one_hot(row, n).to(z.dtype)  # (B, N)
    keep = 1.0 - v_w
    v_ret = gamma * (mem.v_ret * keep) + (1.0 - gamma) * (mem.v_w * keep)
    zd = z.shape[-1]
    retro = torch.nn.functional.pad(z, (width - zd, 0))  # [0, z_t]
    M = torch.addcmul(mem.M, v_ret.unsqueeze(-1), retro.unsqueeze(1))
    delta = torch.nn.functional.pad(z, (0, width - zd))  # [z_t, 0]
    M = M.index_put_((torch.arange(b, device=row.device), row), delta)
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
