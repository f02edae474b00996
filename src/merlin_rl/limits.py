"""Refuse sizes that cannot fit in memory, before anything is allocated.

The estimate is a lower bound (parameters with their gradients and Adam moments, the external
memories, the activations one truncated-BPTT window keeps for the backward pass; observations are
not counted), so a run refused here would certainly have run out of memory.
"""

from __future__ import annotations

import os

import torch

from merlin_rl.config import Config, ConfigError

_ACTIONS = 16  # a typical action count (the env is not built yet); small against the sizes


def estimate_bytes(cfg: Config, batch: int, steps: int) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Lower bounds in bytes: {what: (bytes, the fields that drive it)}."""
    z, h, p, m = cfg.z_dim, cfg.mbp_hidden, cfg.policy_hidden, cfg.mlp_hidden
    r, n, e = cfg.mbp_reads, cfg.memory_rows, cfg.enc_dim
    uses_memory = cfg.agent in ("merlin", "rl-mem")
    w = 2 * z if uses_memory else 0  # memory row width
    params = 4 * h * (z + _ACTIONS + r * w + h) + 4 * h * 2 * h  # MBP LSTM, two layers
    params += 4 * p * (z + p) + 4 * p * 2 * p  # policy LSTM
    params += 2 * h * r * (w + 1) + 2 * p * (w + 1)  # read interfaces
    params += 2 * m * (2 * h + r * w + e + 2 * z)  # prior and posterior MLPs
    params += m * (z + 2 * p + w + _ACTIONS)  # policy head
    per_step = 8 * h + 8 * p + 4 * z + r * w + e  # floats kept per env and step
    return {
        "model parameters (with gradients and optimiser state)":
            (16 * params, ("z_dim", "mbp_hidden", "policy_hidden", "mlp_hidden", "mbp_reads",
                           "enc_dim")),
        "external memory": (8 * batch * n * (w + 5) if uses_memory else 0,
                            ("num_envs", "memory_rows", "z_dim")),
        "activations of one rollout": (4 * steps * batch * per_step,
                                       ("tau", "num_envs", "z_dim", "mbp_hidden",
                                        "policy_hidden")),
    }


def available_bytes(device: torch.device) -> tuple[int, str]:
    """(bytes, description) of the memory of ``device``: GPU memory, or the machine's RAM."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return int(props.total_memory), f"GPU memory on {props.name}"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "RAM"
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return 2**62, "RAM"


def _gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB" if x < 1e12 else f"{x / 1e12:,.0f} TB"


def check_memory(cfg: Config, device: torch.device, batch: int | None = None,
                 steps: int | None = None) -> None:
    """Raise ConfigError naming the flags when the sizes certainly exceed ``device``'s memory.

    ``batch`` and ``steps`` default to training's: ``num_envs`` environments, ``tau`` steps."""
    batch = cfg.num_envs if batch is None else batch
    steps = cfg.tau if steps is None else steps
    terms = estimate_bytes(cfg, batch, steps)
    total = sum(b for b, _ in terms.values())
    have, what = available_bytes(device)
    if total <= have:
        return
    name, (need, fields) = max(terms.items(), key=lambda kv: kv[1][0])
    flags = ", ".join(f"--{f.replace('_', '-')} {getattr(cfg, f)}" for f in fields)
    raise ConfigError(f"these sizes need at least {_gb(total)} ({_gb(need)} for the {name}: "
                      f"{flags}) but this machine has {_gb(have)} of {what}; make them smaller")
