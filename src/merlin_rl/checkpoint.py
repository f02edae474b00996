"""Checkpoints: written atomically (temporary file in the same directory, fsync, rename) and read
with ``torch.load(weights_only=True)``, which refuses pickled code."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from merlin_rl.config import LEGACY_SETTINGS, Config, ConfigError

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


def save_checkpoint(
    path: str | os.PathLike,
    cfg: Config,
    agent: torch.nn.Module,
    opt_mbp: torch.optim.Optimizer,
    opt_policy: torch.optim.Optimizer,
    env_steps: int,
    updates: int,
    extra: dict[str, Any] | None = None,
) -> None:
    atomic_save(
        {
            **(extra or {}),
            "format_version": FORMAT_VERSION,
            "config": cfg.to_json(),
            "model": agent.state_dict(),
            "opt_mbp": opt_mbp.state_dict(),
            "opt_policy": opt_policy.state_dict(),
            "env_steps": env_steps,
            "updates": updates,
        },
        path,
    )


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.read(1)
        return True
    except OSError:
        return False


def _load_error(path: Path, e: Exception) -> CheckpointError:
    """One line for a file torch.load refused (never PyTorch's advice to load it unsafely)."""
    text = str(e)
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return CheckpointError(
            f"checkpoint {str(path)!r} holds objects that are not allowed "
            f"({found[1]}); only tensors and plain values are loaded"
        )
    if isinstance(e, pickle.UnpicklingError) or "weights_only" in text:
        return CheckpointError(
            f"checkpoint {str(path)!r} is not a merlin-rl checkpoint (not a "
            "PyTorch file, or damaged)"
        )
    first = text.strip().splitlines()[0].split(". ")[0] if text.strip() else ""
    return CheckpointError(
        f"checkpoint {str(path)!r} is damaged or not a merlin-rl checkpoint "
        f"(truncated?): {type(e).__name__}: {first}"
    )


def _is_counter(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _check_contents(path: Path, ckpt: dict[str, Any]) -> Config:
    """The checkpoint's settings, validated like a config file, and the types of its parts."""
    name = str(path)
    missing = [
        k
        for k in ("config", "model", "opt_mbp", "opt_policy", "env_steps", "updates")
        if k not in ckpt
    ]
    if missing:
        raise CheckpointError(f"checkpoint {name!r} is incomplete: it lacks {missing}")
    try:
        settings = json.loads(ckpt["config"]) if isinstance(ckpt["config"], str) else None
    except ValueError as e:
        raise CheckpointError(
            f"checkpoint {name!r} has settings that are not valid JSON: {e}"
        ) from None
    if not isinstance(settings, dict):
        raise CheckpointError(
            f"checkpoint {name!r} has no settings object (config must be a JSON object as text)"
        )
    for key, old in LEGACY_SETTINGS.items():  # checkpoints from before these settings existed
        settings.setdefault(key, old)
    try:
        cfg = Config.from_dict(settings).validate()
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"checkpoint {name!r} has invalid settings: {e}") from None
    model = ckpt["model"]
    if (
        not isinstance(model, dict)
        or not model
        or not all(isinstance(k, str) and torch.is_tensor(v) for k, v in model.items())
    ):
        raise CheckpointError(
            f"checkpoint {name!r}: model must be a non-empty dict of named "
            f"tensors, got {type(model).__name__}"
        )
    bad = next(
        (
            k
            for k, v in model.items()
            if v.is_floating_point() and not bool(torch.isfinite(v).all())
        ),
        None,
    )
    if bad is not None:
        raise CheckpointError(f"checkpoint {name!r} is damaged: parameter {bad} holds NaN or inf")
    for key in ("opt_mbp", "opt_policy"):
        if not isinstance(ckpt[key], dict):
            raise CheckpointError(
                f"checkpoint {name!r}: {key} must be an optimiser state dict, "
                f"got {type(ckpt[key]).__name__}"
            )
    for key in ("env_steps", "updates"):
        if not _is_counter(ckpt[key]):
            raise CheckpointError(
                f"checkpoint {name!r}: {key} must be an integer >= 0, got {ckpt[key]!r}"
            )
    return cfg


def load_checkpoint(path: str | os.PathLike, expect: Config | None = None) -> dict[str, Any]:
    """Read a checkpoint safely and validate it (settings like a config file, the types of its
    parts); with ``expect``, check the agent and model sizes match. Nothing in it is imported:
    its ``env_import`` setting is only information (see ``merlin_rl.cli``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": not for users
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as e:
        if _readable(path):  # the file opens: torch's OSError is about its contents (a cut zip)
            raise _load_error(path, e) from None
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read: {e.strerror or e}"
        ) from None
    except Exception as e:  # truncated file, pickled code, not a checkpoint at all
        raise _load_error(path, e) from None
    if not isinstance(ckpt, dict) or ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is not a merlin-rl checkpoint of format "
            f"version {FORMAT_VERSION}"
        )
    ckpt["config_obj"] = _check_contents(path, ckpt)
    if expect is not None:
        got = ckpt["config_obj"]
        for key in (
            "agent",
            "env",
            "env_kwargs",
            "z_dim",
            "mbp_hidden",
            "policy_hidden",
            "mbp_reads",
            "policy_reads",
            "memory_rows",
            "enc_dim",
            "image_channels",
            "mlp_hidden",
            "decoder_hidden",
            "latent",
            "vector_sigma",
            "image_decoder",
            "image_output",
        ):
            if getattr(got, key) != getattr(expect, key):
                raise CheckpointError(
                    f"checkpoint {str(path)!r} has {key}={getattr(got, key)!r} "
                    f"but the run has {key}={getattr(expect, key)!r}"
                )
    return ckpt


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if torch.is_tensor(x) else type(x).__name__


def load_model_state(
    module: torch.nn.Module, state: dict[str, Any], path: str | os.PathLike
) -> None:
    """``load_state_dict`` with a clear error naming the first keys or shapes that differ."""
    own = module.state_dict()
    diffs = [
        f"{k}: checkpoint {_shape(state[k])}, model {_shape(v)}"
        for k, v in own.items()
        if k in state and (not torch.is_tensor(state[k]) or state[k].shape != v.shape)
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    parts = []
    if diffs:
        parts.append(f"{len(diffs)} shapes differ, first {'; '.join(diffs[:2])}")
    if missing:
        parts.append(f"{len(missing)} keys missing, first {', '.join(missing[:3])}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, first {', '.join(unexpected[:3])}")
    if not parts:
        try:
            module.load_state_dict(state)
            return
        except (RuntimeError, TypeError, ValueError) as e:
            parts.append(str(e).strip().splitlines()[-1].strip() if str(e).strip() else repr(e))
    raise CheckpointError(
        f"checkpoint {str(path)!r} does not fit this model (another "
        f"observation space or model size?): {'; '.join(parts)}"
    )
