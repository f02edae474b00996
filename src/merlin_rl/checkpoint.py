"""Checkpoints: written atomically (temporary file in the same directory, fsync, rename) and read
with ``torch.load(weights_only=True)``, which refuses pickled code."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from merlin_rl.config import Config

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit the configuration."""


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """torch.save to a temporary file beside ``path``, flush + fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def link_atomic(target: Path, link: Path) -> None:
    """Make ``link`` another name of ``target`` (a hard link, swapped in atomically)."""
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(target, tmp)
    except OSError:  # a file system without hard links: an atomic copy instead
        shutil.copyfile(target, tmp)
    os.replace(tmp, link)


def prune_checkpoints(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` step_*.pt files (latest/final stay valid: hard links)."""
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-keep]:
        old.unlink()


def save_checkpoint(path: str | os.PathLike, cfg: Config, agent: torch.nn.Module,
                    opt_mbp: torch.optim.Optimizer, opt_policy: torch.optim.Optimizer,
                    env_steps: int, updates: int, extra: dict[str, Any] | None = None) -> None:
    atomic_save({
        **(extra or {}),
        "format_version": FORMAT_VERSION,
        "config": cfg.to_json(),
        "model": agent.state_dict(),
        "opt_mbp": opt_mbp.state_dict(),
        "opt_policy": opt_policy.state_dict(),
        "env_steps": env_steps,
        "updates": updates,
    }, path)


def load_checkpoint(path: str | os.PathLike, expect: Config | None = None) -> dict[str, Any]:
    """Read a checkpoint safely; with ``expect``, check the agent and model sizes match."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, pickled code, not a checkpoint at all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read safely: {first}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a merlin-rl checkpoint of format "
                              f"version {FORMAT_VERSION}")
    try:
        ckpt["config_obj"] = Config.from_dict(json.loads(ckpt["config"]))
        for key in ("model", "opt_mbp", "opt_policy", "env_steps", "updates"):
            ckpt[key]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint {str(path)!r} is incomplete or has a bad config: "
                              f"{type(e).__name__}: {e}") from None
    if expect is not None:
        got = ckpt["config_obj"]
        for key in ("agent", "env", "env_kwargs", "z_dim", "mbp_hidden", "policy_hidden",
                    "mbp_reads", "memory_rows", "enc_dim", "image_channels", "mlp_hidden"):
            if getattr(got, key) != getattr(expect, key):
                raise CheckpointError(f"checkpoint {str(path)!r} has {key}={getattr(got, key)!r} "
                                      f"but the run has {key}={getattr(expect, key)!r}")
    return ckpt


def load_model_state(module: torch.nn.Module, state: dict[str, Any], path: str | os.PathLike
                     ) -> None:
    """``load_state_dict`` with a clear error when the checkpoint's shapes do not fit."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {str(path)!r} does not fit this model (another "
                              f"observation space or model size?): {first}") from None
