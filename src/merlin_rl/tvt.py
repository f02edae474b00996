"""Temporal Value Transport (Hung et al. 2019, "Optimizing agent behavior over long time scales by
transporting value"), inside one acted segment: an opt-in departure from the MERLIN paper.

When a read at step t2 picks out a memory written long ago, the value V_{t2} is sent back, as
extra reward, to the steps whose rows it read:

    r~_{t1} = r_{t1} + alpha * sum_{read events t2} w_{t2}[row written at t1] * V_{t2}.

A read event (per read head) is the step of largest read strength beta within a stretch of
consecutive steps whose strength exceeds ``threshold`` and whose most-read row is more than
``period`` steps old; ``period`` = 1 / (1 - gamma) (Hung et al.: 25 at gamma 0.96), and only
rows older than that receive value (the ``top_k`` most-read of them). Here the transport stays
inside the segment: a row written before the segment's first step receives nothing, and a
stretch is closed at an episode start and at the segment's end. So it reaches a fetch from a
door only when the segment spans both (``--tau`` of about twice the episode or more).
"""

from __future__ import annotations

import torch
from torch import Tensor


def no_transport_period(gamma: float, when_one: int = 25) -> int:
    """Steps within which no value is transported: 1 / (1 - gamma) rounded (25 at 0.96, where
    a plain int() of the floating-point quotient gives 24), ``when_one`` at gamma 1."""
    return when_one if gamma >= 1.0 else round(1.0 / (1.0 - gamma))


def read_events(strengths: Tensor, starts: Tensor, threshold: float) -> Tensor:
    """(T, B, K) bool: the step of largest strength within each stretch of steps whose strength
    is above ``threshold`` (a stretch ends below it, at an episode start and at the end).

    strengths (T, B, K), already zero where a step does not qualify; starts (T, B) bool."""
    T, B, K = strengths.shape
    events = torch.zeros(T, B, K, dtype=torch.bool, device=strengths.device)
    over = torch.zeros(B, K, dtype=torch.bool, device=strengths.device)
    best = torch.zeros(B, K, dtype=strengths.dtype, device=strengths.device)
    best_t = torch.zeros(B, K, dtype=torch.long, device=strengths.device)
    b_idx, k_idx = torch.meshgrid(
        torch.arange(B, device=strengths.device),
        torch.arange(K, device=strengths.device),
        indexing="ij",
    )

    def close(mask: Tensor) -> None:
        events[best_t[mask], b_idx[mask], k_idx[mask]] = True

    for t in range(T):
        s = strengths[t]
        above = s > threshold
        ends = over & (starts[t][:, None] | ~above)
        close(ends)
        fresh = above & (ends | ~over)  # a stretch starts here
        better = above & (fresh | (s > best))
        best = torch.where(better, s, best)
        best_t = torch.where(better, torch.full_like(best_t, t), best_t)
        over = above
    close(over)
    return events


def transport(
    weights: Tensor,
    strengths: Tensor,
    ages: Tensor,
    values: Tensor,
    starts: Tensor,
    alpha: float,
    threshold: float,
    period: int,
    top_k: int = 50,
) -> Tensor:
    """Transported rewards (T, B), without gradient.

    weights (T, B, K, N): each read head's weights over the rows of M_{t-1}; strengths (T, B, K):
    its beta; ages (T, B, N) long: steps since each row was written, counted from step t (1 = the
    step before), 0 where unwritten; values (T, B): V_t; starts (T, B) bool: an episode starts
    at t (the memory is blank there)."""
    weights, strengths, values = weights.detach(), strengths.detach(), values.detach()
    T, B, K, N = weights.shape
    old = ages > period  # (T, B, N) rows that can receive value
    top = weights.argmax(-1)  # (T, B, K) the most-read row
    top_old = old.unsqueeze(2).expand(T, B, K, N).gather(-1, top.unsqueeze(-1)).squeeze(-1)
    events = read_events(torch.where(top_old, strengths, 0.0), starts, threshold)
    sent = weights * old.unsqueeze(2)  # only rows older than the period receive
    if N > top_k:
        kth = sent.topk(top_k, dim=-1).values[..., -1:]
        sent = torch.where(sent >= kth, sent, 0.0)
    # (T, B, N): the value each row receives from step t's events, summed over the heads
    share = (sent * events.unsqueeze(-1)).sum(2) * (alpha * values).unsqueeze(-1)
    src = torch.arange(T, device=ages.device).view(T, 1, 1) - ages  # the row's write step
    inside = (ages > 0) & (src >= 0) & (share != 0)
    b = torch.arange(B, device=ages.device).view(1, B, 1).expand(T, B, N)
    out = torch.zeros(T * B, dtype=values.dtype, device=values.device)
    out.index_add_(0, (src * B + b)[inside], share[inside])
    return out.view(T, B)
