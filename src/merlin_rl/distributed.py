"""Data-parallel training across processes and machines with ``torch.distributed`` (DESIGN.md §6).

Launched by ``torchrun``, which sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. Each rank owns
``num_envs / world_size`` environments and a replica of the agent; after each backward pass the
gradients of each optimiser's parameters are averaged with one flattened all-reduce, so every
replica takes the same step. Backend: NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import NoReturn

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_size_from_env() -> int:
    """Number of processes torchrun started (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device_type: str) -> DistContext:
    """Join the process group that torchrun describes in the environment (no-op without one)."""
    world = world_size_from_env()
    if world <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return DistContext(rank=rank, world_size=world, local_rank=local_rank)


def shutdown(ctx: DistContext, wait: bool = False) -> None:
    """Leave the process group. ``wait`` (after a run that ended normally on every rank): first
    wait for all ranks, since a rank that tears its connections down while a peer is still in a
    collective makes gloo abort that peer (SIGABRT at exit). Not after an error: the other ranks
    may never arrive."""
    if ctx.enabled and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def exit_without_teardown(code: int) -> NoReturn:
    """End a torchrun rank whose run is over (files closed, process group destroyed) without the
    interpreter's teardown: there gloo's worker threads still hold objects whose destruction
    aborts the rank now and then (SIGABRT, 'terminate called without an active exception', about
    1 run in 8 here), so torchrun reported a finished run as failed (the mechanism:
    pytorch/pytorch pull request 179291)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_parameters(module: nn.Module, ctx: DistContext) -> None:
    """Make every replica start from rank 0's parameters."""
    if ctx.enabled:
        for t in module.state_dict().values():
            dist.broadcast(t, src=0)


def average_gradients(params: list[nn.Parameter], ctx: DistContext) -> None:
    """Replace each gradient by its mean over ranks: one all-reduce of the flattened gradients.

    A parameter without a gradient on some ranks counts as zero there; one without a gradient on
    every rank keeps ``grad = None`` (so the optimiser skips it, as in a single process)."""
    if not ctx.enabled or not params:
        return
    has = torch.tensor(
        [p.grad is not None for p in params], dtype=torch.float32, device=params[0].device
    )
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([has] + [g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    has_any, flat = flat[: len(params)] > 0, flat[len(params) :].div_(ctx.world_size)
    offset = 0
    for p, keep in zip(params, has_any.tolist()):
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone() if keep else None
        offset += n


def all_sum(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Sum a list of numbers over ranks (one all-reduce)."""
    if not ctx.enabled:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()
