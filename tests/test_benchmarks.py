"""Smoke tests of benchmarks/throughput.py and benchmarks/peers/rppo_speed.py (tiny budgets)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from merlin_rl.config import Config

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def throughput():
    return load(BENCH / "throughput.py", "bench_throughput")


TINY = [
    "--num-envs",
    "2",
    "--updates",
    "1",
    "--breakdown-updates",
    "1",
    "--warmup",
    "0",
    "--env-seconds",
    "0.05",
    "--threads",
    "1",
]


def test_throughput_prints_json_with_breakdown(throughput, capsys):
    from merlin_rl import memory as mem_ops
    from merlin_rl.agent import AgentState

    originals = (
        mem_ops.read,
        mem_ops.write,
        mem_ops.add_usage,
        torch.Tensor.backward,
        AgentState.reset,
        torch.nn.utils.clip_grad_norm_,
    )
    throughput.main(TINY)
    out = json.loads(capsys.readouterr().out)
    for key in (
        "train_steps_per_s",
        "rollout_steps_per_s",
        "acting_steps_per_s_no_grad",
        "update_ms_per_segment",
        "segment_ms",
        "env_steps_per_s_batched",
        "env_share",
        "peak_rss_mb",
        "torch",
        "threads",
        "machine",
        "breakdown",
        "budget",
    ):
        assert key in out, key
    assert out["env"] == "merlin_rl/ColourMatch-v0" and out["agent"] == "merlin"
    assert out["preset"] == "small" and out["num_envs"] == 2 and out["threads"] == 1
    assert out["torch"] == torch.__version__
    assert out["train_steps_per_s"] > 0 and out["update_ms_per_segment"] > 0
    assert out["env_steps_timed"] == 2 * out["tau"]
    bd = out["breakdown"]
    for group in (
        "encoders",
        "mbp",
        "memory_read",
        "memory_write",
        "policy",
        "decoders",
        "return_heads",
        "backward",
        "optimiser",
        "env",
        "other",
    ):
        g = bd["groups"][group]
        assert {"ms_per_segment", "fraction_of_training", "fraction_of_update"} <= set(g)
    # every component of a MERLIN step was seen, and the groups add up to the segment
    for comp in (
        "encoders",
        "mbp_lstm",
        "memory_read",
        "memory_write",
        "policy",
        "decoders",
        "backward",
        "optimiser",
        "env_step",
    ):
        assert bd["components"][comp]["ms_per_segment"] > 0, comp
    # the default learner: K epochs x M minibatches of environments, then P policy-only epochs
    # x M, one backward each
    cfg = Config()
    joint, alone = cfg.epochs * cfg.minibatches, cfg.policy_epochs * cfg.minibatches
    assert bd["components"]["backward"]["calls_per_segment"] == joint + alone
    # reads (MBP + policy) while acting tau steps and peeking once; in each joint replay the MBP
    # reads step by step and the policy once for all tau steps, as in the policy-only replay
    tau = out["tau"]
    reads = 2 * (tau + 1) + (tau + 1) * joint + alone
    assert bd["components"]["memory_read"]["calls_per_segment"] == reads
    total = sum(g["fraction_of_training"] for g in bd["groups"].values())
    assert total == pytest.approx(1.0, abs=2e-3)
    upd = sum(g["fraction_of_update"] for g in bd["groups"].values())
    assert upd == pytest.approx(1.0, abs=2e-3)
    assert set(out["env_share"]) == {"from_breakdown", "from_raw_env_rate"}
    # the instrumentation is removed afterwards
    assert originals == (
        mem_ops.read,
        mem_ops.write,
        mem_ops.add_usage,
        torch.Tensor.backward,
        AgentState.reset,
        torch.nn.utils.clip_grad_norm_,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_throughput_cuda_without_gpu_is_a_clear_error(throughput, capsys):
    with pytest.raises(SystemExit) as e:
        throughput.main(["--device", "cuda", *TINY])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "no CUDA GPU" in err


def test_rppo_speed_missing_sb3_contrib_message(monkeypatch, capsys):
    rppo = load(BENCH / "peers" / "rppo_speed.py", "bench_rppo_speed_nosb3")
    monkeypatch.setitem(sys.modules, "sb3_contrib", None)  # import fails
    with pytest.raises(SystemExit) as e:
        rppo.require_sb3()
    assert e.value.code == 2
    assert "pip install" in capsys.readouterr().err


def test_rppo_speed_tiny_run(capsys):
    pytest.importorskip("sb3_contrib")
    rppo = load(BENCH / "peers" / "rppo_speed.py", "bench_rppo_speed")
    rppo.main(
        [
            "--num-envs",
            "2",
            "--iterations",
            "1",
            "--merlin-updates",
            "1",
            "--n-steps",
            "4",
            "--batch-size",
            "8",
            "--n-epochs",
            "1",
            "--threads",
            "1",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["rppo"]["steps_per_s"] > 0 and out["merlin"]["train_steps_per_s"] > 0
    assert out["rppo"]["env_steps_timed"] == 4 * 2 and out["rppo"]["iterations_timed"] == 1
    assert out["rppo"]["sb3_defaults"] is False  # the smoke test overrides n_steps etc.
    assert out["adaptation"]["name"] == "flatten-extractor"
    assert out["ratio_merlin_over_rppo"] == pytest.approx(
        out["merlin"]["train_steps_per_s"] / out["rppo"]["steps_per_s"], rel=1e-3
    )
    assert out["merlin"]["num_envs"] == 2 and out["merlin"]["preset"] == "small"


def test_memory_retention_and_latent_benchmarks_print_json(capsys, monkeypatch):
    retention = load(BENCH / "memory_retention.py", "bench_retention")
    monkeypatch.setattr(
        sys,
        "argv",
        ["memory_retention.py", "--env", "merlin_rl/RepeatSymbol-v0", "--rows", "8", "--envs", "2"],
    )
    retention.main()
    out = json.loads(capsys.readouterr().out)
    by = {r["allocation"]: r for r in out["results"]}
    assert by["fifo"]["last_n_steps_held_mean"] == 8  # 51-step episodes, 8 rows
    assert by["usage-literal"]["last_n_steps_held_mean"] <= 2
    assert by["usage"]["last_n_steps_held_mean"] >= 4
    latent = load(BENCH / "latent.py", "bench_latent")
    monkeypatch.setattr(
        sys,
        "argv",
        ["latent.py", "--updates", "2", "--kinds", "vector", "codes", "--elbos", "balanced"],
    )
    latent.main()
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["kind"] for r in rows] == ["vector", "codes"]
    assert all(r["uninformed_loss"] > 0 and r["kl_nats"] >= 0 for r in rows)
    assert rows[1]["image_scale"] == 7.0  # ids 1..6 are read as codes, not pixels
    argv = ["latent.py", "--updates", "1", "--kinds", "text", "--elbos", "balanced"]
    monkeypatch.setattr(sys, "argv", argv + ["--set", "text_weight=10", "--set", "tau=4"])
    latent.main()
    out = json.loads(capsys.readouterr().out)
    assert out["set"] == {"text_weight": 10, "tau": 4} and out["results"][0]["weight"] == 10.0
    assert out["results"][0]["uninformed_loss"] == pytest.approx(10 * 4 * math.log(7), abs=1e-3)
    for bad in ("text_weight", "text_weight=x", "text_weight=-1", "seed=3"):
        monkeypatch.setattr(sys, "argv", argv + ["--set", bad])
        with pytest.raises(SystemExit) as e:
            latent.main()
        assert e.value.code == 2


def test_rppo_suite_summarise_runs_nothing(tmp_path):
    """--summarise writes summary.csv from the finished peer runs and starts none."""
    grid = tmp_path / "grid.yaml"
    grid.write_text(
        "agents: [merlin]\nenvs: [merlin_rl/ColourMatch-v0, merlin_rl/RepeatSymbol-v0]\n"
        f"seeds: [0]\nthreshold_fraction: 0.9\nout: {tmp_path / 'out'}\n"
    )
    metrics = "env_steps,wall_time,episode_return\n1000,10.0,0.25\n2000,20.0,0.95\n"
    for env in ("merlin_rl_ColourMatch-v0", "merlin_rl_RepeatSymbol-v0"):
        merlin = tmp_path / "out" / f"merlin__{env}__s0"
        merlin.mkdir(parents=True)
        (merlin / "finished.json").write_text("{}\n")
        (merlin / "metrics.csv").write_text(metrics)
    peer = tmp_path / "peers" / "rppo-wall__merlin_rl_ColourMatch-v0__s0"  # RepeatSymbol's: none
    peer.mkdir(parents=True)
    (peer / "metrics.csv").write_text(metrics)
    (peer / "config.json").write_text('{"agent": "rppo"}\n')
    (peer / "summary.csv").write_text("agent\nrppo\n")
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "peers" / "rppo_suite.py"
    args = [str(grid), "--grid-out", str(tmp_path / "out"), "--out", str(tmp_path / "peers")]
    res = subprocess.run(
        [sys.executable, str(script), *args, "--summarise"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "rppo_learning.py" not in res.stdout  # nothing was started
    with open(tmp_path / "peers" / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["agent"], r["env"]) for r in rows] == [("rppo (wall)", "merlin_rl/ColourMatch-v0")]
    assert float(rows[0]["steps_to_threshold_mean"]) == 2000
    assert not (tmp_path / "peers" / "rppo-wall__merlin_rl_RepeatSymbol-v0__s0").exists()


def test_rppo_learning_resumes_a_stopped_run(tmp_path):
    """A peer run stopped by a signal after a checkpoint continues from it when started again
    (no metrics row twice, the step count carried on); a finished run and a run of another seed
    are refused with exit 2 and left as they were."""
    pytest.importorskip("sb3_contrib")
    script = BENCH / "peers" / "rppo_learning.py"
    out = tmp_path / "rppo"
    common = [sys.executable, str(script), "--env", "merlin_rl/RepeatSymbol-v0", "--out", str(out)]
    common += ["--num-envs", "2", "--n-steps", "8", "--batch-size", "16", "--log-interval", "16"]
    common += ["--checkpoint-interval", "32"]
    proc = subprocess.Popen([*common, "--total-steps", "10000000"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):  # up to 2 minutes for the first checkpoint
            if (out / "checkpoint.pt").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert (out / "checkpoint.pt").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    assert not (out / "summary.csv").exists()
    other = tmp_path / "other"
    shutil.copytree(out, other)
    res = subprocess.run(
        [*common, "--total-steps", "96", "--seed", "1", "--out", str(other)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "choose another --out" in res.stderr
    assert (other / "checkpoint.pt").exists() and not (other / "summary.csv").exists()
    res = subprocess.run([*common, "--total-steps", "96"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "resuming" in res.stderr
    with open(out / "metrics.csv", newline="") as f:
        steps = [int(r["env_steps"]) for r in csv.DictReader(f)]
    assert steps == sorted(set(steps)) and steps[-1] >= 96
    assert (out / "summary.csv").exists() and not (out / "checkpoint.pt").exists()
    before = (out / "metrics.csv").read_text()
    res = subprocess.run([*common, "--total-steps", "96"], capture_output=True, text=True)
    assert res.returncode == 2 and "finished run" in res.stderr
    assert (out / "metrics.csv").read_text() == before


def test_gpu_check_script_runs_its_steps_within_the_budget(tmp_path):
    """benchmarks/gpu_check.sh, dry-run on the CPU (DEVICE=cpu): each part runs as a capped step
    with its rc in steps.txt; unknown parts are named; a part with no time left is skipped."""
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "DEVICE": "cpu",
        "PYTHON": sys.executable,
        "PYTHONPATH": str(root / "src"),
    }
    out = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh"), str(out), "120", "tests", "nonsense"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    steps = (out / "steps.txt").read_text().splitlines()
    assert steps[0].startswith("test_cuda rc=0 ")  # skipped without a GPU, but it ran
    assert steps[1] == "unknown part nonsense"
    skipped = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh"), str(tmp_path / "o2"), "5", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "test_cuda skipped" in (tmp_path / "o2" / "steps.txt").read_text(), skipped.stdout


def test_rppo_learning_takes_the_env_knobs(tmp_path):
    """--env-kwargs reaches the env (a short ActiveVisualMatch run records its knobs and its
    episodes are as short as the knobs make them); a bad knob or bad JSON is one line, exit 2,
    and writes nothing."""
    pytest.importorskip("sb3_contrib")
    script = BENCH / "peers" / "rppo_learning.py"
    common = [sys.executable, str(script), "--env", "merlin_rl/ActiveVisualMatch-v0"]
    common += ["--num-envs", "2", "--n-steps", "8", "--batch-size", "16", "--log-interval", "64"]
    for bad in ('{"explore_steps": 0}', "[1]", "{"):
        out = tmp_path / "bad"
        res = subprocess.run(
            [*common, "--out", str(out), "--total-steps", "64", "--env-kwargs", bad],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 2, res.stderr
        last = res.stderr.strip().splitlines()[-1]  # (argparse prints its usage before)
        assert "explore_steps" in last or "must be a JSON object" in last, res.stderr
        assert not out.exists()
    out = tmp_path / "short"
    knobs = {"explore_steps": 1, "distractor_steps": 1, "final_steps": 2}
    res = subprocess.run(
        [*common, "--out", str(out), "--total-steps", "64", "--env-kwargs", json.dumps(knobs)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads((out / "config.json").read_text())["env_kwargs"] == knobs
    with open(out / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert int(rows[-1]["episodes"]) >= 64 // 4 // 2  # episodes of at most 4 steps, 2 envs


def test_speed_applies_the_settings_it_is_given(monkeypatch, capsys):
    """benchmarks/speed.py --set NAME=VALUE trains with that setting (JSON values, else strings)
    and reports it; an item without "=" is refused."""
    speed = load(BENCH / "speed.py", "bench_speed")
    seen = {}
    real = speed.make_config

    def spy(*args, **kw):
        cfg = real(*args, **kw)
        seen["cfg"] = cfg
        return cfg

    monkeypatch.setattr(speed, "make_config", spy)
    monkeypatch.setattr(speed, "env_steps_per_s", lambda *a: 1.0)
    argv = ["speed.py", "--num-envs", "2", "--segments", "1"]
    monkeypatch.setattr(sys, "argv", argv + ["--set", "latent_input_norm=none", "--set", "tau=4"])
    speed.main()
    out = json.loads(capsys.readouterr().out)
    assert out["settings"] == {"latent_input_norm": "none", "tau": 4}
    assert seen["cfg"].latent_input_norm == "none" and seen["cfg"].tau == 4
    monkeypatch.setattr(sys, "argv", argv + ["--set", "tau"])
    with pytest.raises(SystemExit) as e:
        speed.main()
    assert e.value.code == 2


def test_latent_benchmark_bounds_follow_the_likelihood_in_use():
    """benchmarks/latent.py's uninformed and perfect losses are those of the modality's own
    recon_loss fed the best constant prediction and the target itself, under today's defaults
    (a learned vector scale, Bernoulli images). The old bounds assumed the squared error: 4.0
    for the vector (the learned NLL gives 2.0) and 36 for the colour image (Bernoulli: 108)."""
    from merlin_rl.encoders import ImageModality, VectorModality

    class Fixed(torch.nn.Module):
        """A decoder that outputs the given tensor whatever z is."""

        def __init__(self, out: torch.Tensor) -> None:
            super().__init__()
            self.out = out

        def forward(self, _z: torch.Tensor) -> torch.Tensor:
            return self.out

    latent = load(BENCH / "latent.py", "bench_latent_bounds")
    cfg = Config()
    assert cfg.vector_sigma == "learned" and cfg.image_output == "bernoulli"
    torch.manual_seed(0)
    z = torch.zeros(20_000, 4)

    vec = VectorModality(latent.VECTOR_DIM, 8)
    vec.build_decoder(4, 8, cfg.vector_sigma, cfg.vector_sigma_min)
    x = torch.randn(20_000, latent.VECTOR_DIM)
    with torch.no_grad():
        vec.decoder.weight.zero_()
        vec.decoder.bias.zero_()
        vec.log_sigma.zero_()  # sigma = 1, the best constant scale for N(0, 1)
        uninformed = float(vec.recon_loss(z, x).mean())
        vec.log_sigma.fill_(-10.0)  # clamped to the floor; the prediction made perfect
        vec.decoder = Fixed(x)
        perfect = float(vec.recon_loss(z, x).mean())
    bounds = latent.loss_bounds("vector", cfg)
    assert abs(bounds[0] - uninformed) < 0.05 and abs(bounds[1] - perfect) < 1e-4

    def image_bounds(values: torch.Tensor, scale: float) -> tuple[float, float]:
        img = ImageModality((latent.IMAGE, latent.IMAGE, 3), 8, 8, scale=scale)
        img.build_decoder(4, 8, output=cfg.image_output)
        target = values[torch.randint(len(values), (4000, 1, 1, 1))].expand(-1, 3, 8, 8)
        p = values.mean()
        img.decoder = Fixed(torch.logit(p).expand(4000, 3, 8, 8))
        uninformed = float(img.recon_loss(z[:4000], target).mean())
        img.decoder = Fixed(torch.logit(target.clamp(1e-7, 1 - 1e-7)))
        return uninformed, float(img.recon_loss(z[:4000], target).mean())

    # colours: each channel 1 with probability 1/4; codes: ids 1..6 over the scale 7
    got = image_bounds(torch.tensor([0.0, 0.0, 0.0, 1.0]), 255.0)
    want = latent.loss_bounds("image", cfg)
    assert abs(got[0] - want[0]) / want[0] < 0.02 and abs(got[1] - want[1]) < 0.01
    got = image_bounds(torch.arange(1, 7) / 7.0, 7.0)
    want = latent.loss_bounds("codes", cfg, 7.0)
    assert abs(got[0] - want[0]) / want[0] < 0.02 and abs(got[1] - want[1]) / want[1] < 0.01
