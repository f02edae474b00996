"""The CUDA path: the same code on a GPU gives what it gives on the CPU. Skipped cleanly when no GPU
is present (CPU-only CI); run on a GPU machine with ``python -m pytest tests/test_cuda.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from merlin_rl import memory as mem_ops
from merlin_rl.config import make_config
from merlin_rl.memory import MemoryState
from merlin_rl.train import Trainer
from scripts import TINY as BASE

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
TINY = dict(BASE, memory_rows=8, tau=5)
ROOT = Path(__file__).resolve().parents[1]


def _window(device: str) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    b, n, zd, steps = 3, 6, 4, 9  # more steps than rows: usage re-allocation happens
    z = torch.randn(steps, b, zd, generator=g).to(device).requires_grad_()
    keys = torch.randn(steps, b, 2, 2 * zd, generator=g).to(device).requires_grad_()
    beta = torch.rand(steps, b, 2, generator=g).to(device).requires_grad_()
    mem = MemoryState.zeros(b, n, 2 * zd, device)
    loss = torch.zeros((), device=device)
    for t in range(steps):
        reads, w = mem_ops.read(mem, keys[t], beta[t])
        mem = mem_ops.add_usage(mem, w)
        mem = mem_ops.write(mem, z[t], 0.9)
        loss = loss + (reads * torch.arange(reads.shape[-1], device=device)).sum()
    loss.backward()
    return mem.M.detach().cpu(), z.grad.cpu(), keys.grad.cpu(), beta.grad.cpu()


def test_memory_on_gpu_matches_cpu() -> None:
    for cpu, gpu in zip(_window("cpu"), _window("cuda")):
        torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_training_on_gpu_keeps_everything_on_the_device(tmp_path) -> None:
    tr = Trainer(
        make_config("small", device="cuda", total_steps=40, **TINY),
        run_dir=tmp_path,
        progress=False,
    )
    tr.train()
    assert all(p.device.type == "cuda" for p in tr.agent.parameters())
    assert all(torch.isfinite(p).all() for p in tr.agent.parameters())
    assert tr.loop.obs["image"].device.type == "cuda" if "image" in tr.loop.obs else True
    assert (tmp_path / "checkpoints" / "final.pt").exists()


def test_gpu_checkpoint_resumes_on_cpu(tmp_path) -> None:
    Trainer(
        make_config("small", device="cuda", total_steps=40, **TINY),
        run_dir=tmp_path,
        progress=False,
    ).train()
    tr = Trainer(
        make_config("small", device="cpu", total_steps=80, **TINY), run_dir=tmp_path, progress=False
    )
    tr.load(tmp_path / "checkpoints" / "latest.pt")
    tr.train()
    assert tr.env_steps == 80


def test_compiled_step_on_gpu(tmp_path) -> None:
    tr = Trainer(
        make_config("small", device="cuda", compile=True, total_steps=40, **TINY),
        run_dir=tmp_path,
        progress=False,
    )
    tr.train()
    assert all(torch.isfinite(p).all() for p in tr.agent.parameters())


def test_throughput_benchmark_on_gpu() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "throughput.py"),
            "--device",
            "cuda",
            "--updates",
            "2",
            "--breakdown-updates",
            "1",
            "--num-envs",
            "64",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["device"].startswith("cuda") and result["train_steps_per_s"] > 0
