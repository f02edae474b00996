"""Refuse sizes that cannot fit in memory, before anything is allocated.

The estimate is a lower bound (parameters with their gradients and Adam moments, the external
memories, the activations one truncated-BPTT window keeps for the backward pass; observations are
not counted), so a run refused here would certainly have run out of memory.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import torch

from merlin_rl.config import Config, ConfigError

_ACTIONS = 16  # a typical action count (the env is not built yet); small against the sizes


def image_sizes(space: gym.Space) -> list[tuple[int, int]]:
    """(H, W) of the image parts of an observation space (3-D Boxes, in Dicts and Tuples)."""
    if isinstance(space, gym.spaces.Dict):
        return [hw for sub in space.spaces.values() for hw in image_sizes(sub)]
    if isinstance(space, gym.spaces.Tuple):
        return [hw for sub in space.spaces for hw in image_sizes(sub)]
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 3:
        a, b, c = space.shape  # (H, W, C) or (C, H, W): the two largest sides
        return [tuple(sorted((a, b, c))[1:])]
    return []


def estimate_bytes(
    cfg: Config, batch: int, steps: int, obs_space: Any = None
) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Lower bounds in bytes: {what: (bytes, the fields that drive it)}; the image encoders are
    counted when ``obs_space`` is given."""
    z, h, p, m = cfg.z_dim, cfg.mbp_hidden, cfg.policy_hidden, cfg.mlp_hidden
    r, n, e = cfg.mbp_reads, cfg.memory_rows, cfg.enc_dim
    uses_memory = cfg.agent in ("merlin", "rl-mem")
    w = 2 * z if uses_memory else 0  # memory row width
    params = 4 * h * (z + _ACTIONS + r * w + h) + 4 * h * 2 * h  # MBP LSTM, two layers
    params += 4 * p * (z + p) + 4 * p * 2 * p  # policy LSTM
    k = cfg.policy_reads
    params += 2 * h * r * (w + 1) + 2 * p * k * (w + 1)  # read interfaces
    params += 2 * m * (2 * h + r * w + e + 2 * z)  # prior and posterior MLPs
    params += m * (z + 2 * p + k * w + _ACTIONS)  # policy head
    if cfg.agent == "merlin":  # the action and reward decoders, the least MERLIN has
        params += (cfg.decoder_hidden or m) * (z + _ACTIONS + 1)
    per_step = 8 * h + 8 * p + 4 * z + r * w + e  # floats kept per env and step
    c = cfg.image_channels
    images = image_sizes(obs_space) if obs_space is not None else []
    # per image: at least one residual block (two c x c 3x3 convs); three conv outputs at half size
    image_params = 18 * c * c * len(images)
    image_acts = sum(3 * c * ((hh + 1) // 2) * ((ww + 1) // 2) for hh, ww in images)
    return {
        "image encoder": (
            16 * image_params + 4 * steps * batch * image_acts,
            ("image_channels", "num_envs", "tau"),
        ),
        "model parameters (with gradients and optimiser state)": (
            16 * params,
            (
                "z_dim",
                "mbp_hidden",
                "policy_hidden",
                "mlp_hidden",
                "decoder_hidden",
                "mbp_reads",
                "policy_reads",
                "enc_dim",
            ),
        ),
        "external memory": (
            8 * batch * n * (w + 5) if uses_memory else 0,
            ("num_envs", "memory_rows", "z_dim"),
        ),
        "activations of one rollout": (
            4 * steps * batch * per_step,
            ("tau", "num_envs", "z_dim", "mbp_hidden", "policy_hidden"),
        ),
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


def check_memory(
    cfg: Config,
    device: torch.device,
    batch: int | None = None,
    steps: int | None = None,
    obs_space: Any = None,
) -> None:
    """Raise ConfigError naming the flags when the sizes certainly exceed ``device``'s memory.

    ``batch`` and ``steps`` default to training's: ``num_envs`` environments, ``tau`` steps;
    with ``obs_space`` the image encoders are counted too."""
    batch = cfg.num_envs if batch is None else batch
    steps = cfg.tau if steps is None else steps
    terms = estimate_bytes(cfg, batch, steps, obs_space)
    total = sum(b for b, _ in terms.values())
    have, what = available_bytes(device)
    if total <= have:
        return
    name, (need, fields) = max(terms.items(), key=lambda kv: kv[1][0])
    flags = ", ".join(f"--{f.replace('_', '-')} {getattr(cfg, f)}" for f in fields)
    raise ConfigError(
        f"these sizes need at least {_gb(total)} ({_gb(need)} for the {name}: "
        f"{flags}) but this machine has {_gb(have)} of {what}; make them smaller"
    )
