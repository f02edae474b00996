"""The ``merlin-rl`` command: ``train`` and ``eval``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from merlin_rl.config import (
    CHOICES,
    DEVICES,
    EVAL_MAX_STEPS,
    PRESETS,
    Config,
    ConfigError,
    load_json,
    load_yaml,
    make_config,
)

# Every train flag: what it is and its unit or range; the default is added from the presets.
# The first ones are shown first in --help.
FLAG_HELP: dict[str, str] = {
    "env": "Gymnasium id to train on: a built-in task (merlin_rl/ColourMatch-v0, "
    "merlin_rl/MemoryGame-v0, ... see docs/tasks.md) or any registered id",
    "agent": "agent configuration (DESIGN §3)",
    "total_steps": "training budget in environment steps (summed over all environments), >= 1; "
    "training stops after the update that reaches it, so whole updates of --tau x --num-envs "
    "steps run (as in SB3)",
    "num_envs": "environments stepped together as one batch (B), >= 1",
    "seed": "random seed, integer in [0, 2**31) (CPU runs are reproducible)",
    "run_dir": "folder for config.json, metrics.csv, TensorBoard logs (tb/) and checkpoints/",
    "device": "where the agent runs (auto: cuda if a GPU is available, else cpu)",
    "async_envs": "step environments in subprocess workers (for slow external environments)",
    "compile": "torch.compile the per-step cell (slow first minutes; see docs/performance.md)",
    "env_import": "module(s) to import first, comma-separated, that register third-party envs "
    "(the only way merlin-rl imports code you name)",
    "env_kwargs": "keyword arguments for the env as a JSON object, e.g. '{\"delay\": 40}'",
    "z_dim": "size of the latent state z, per observation kind with --latent factored (memory "
    "rows are 2 |z| wide), >= 1",
    "enc_dim": "encoding size per observation modality, >= 1",
    "image_channels": "channels of the image encoder's and decoder's conv layers, >= 1",
    "mlp_hidden": "hidden units of the prior, posterior, return and policy MLPs, >= 1",
    "decoder_hidden": "hidden units of the MBP's decoders (MERLIN), >= 0; 0 = --mlp-hidden",
    "image_decoder": "the MBP's image decoder: auto (an MLP up to 32 x 32 pixels, transposed "
    "convolutions above), mlp or conv (MERLIN)",
    "image_output": "what the image decoder's outputs are scored as: sigmoid (the squared error "
    "of sigmoid(output)), linear (the squared error of the output) or bernoulli (the pixels' "
    "cross-entropy under Bernoulli(sigmoid(output))); MERLIN",
    "mbp_hidden": "hidden units of each of the MBP's 2 LSTM layers, >= 1",
    "policy_hidden": "hidden units of each of the policy's 2 LSTM layers, >= 1",
    "mbp_reads": "memory read heads of the MBP (K^r), >= 1",
    "policy_reads": "memory read keys of the policy (MERLIN, RL-MEM; the paper: 1), >= 1",
    "memory_rows": "rows of the external memory (N), one written per step, >= 1; 0 = the env's "
    "declared episode length (at most 1024; 64 if it declares none)",
    "allocation": "which memory row a write replaces once all are used: least used with usage "
    "decaying per step (usage), the paper's never-decaying usage (usage-literal), "
    "or the oldest (fifo)",
    "policy_input": "what the policy reads of z_t: the posterior mean mu_q or the sample (the "
    "paper's)",
    "value_input": "which z_t the MBP's V_t is evaluated on (MERLIN): the sample (the paper's) "
    "or the posterior mean mu_q; it gives the return heads' lambda-return targets, and the "
    "advantages' baseline under --baseline mbp",
    "replay_view": "what MERLIN's policy reads when a segment is replayed (K epochs): the z_t "
    "and memory it acted on, or those the MBP recomputes after this update's earlier steps",
    "read_strength_init": "initial read strength beta of every memory read key, in (0, 1000]",
    "tau": "rollout length in steps per update (truncated BPTT window), 1 to --total-steps",
    "gamma": "discount factor per step, in (0, 1]",
    "lam": "GAE lambda, in (0, 1]",
    "lam_value": "lambda of the return heads' targets (V, A), in (0, 1]; 0 = --lam",
    "desync": "cut: each env copy's second episode is cut at a random step (not logged), so that "
    "the copies of a fixed-length task stop running in step and each update sees every phase of "
    "the episode; off: the copies start together and stay in step",
    "credit_cut": "reward: the policy's GAE trace stops at every rewarded step (the return heads' "
    "targets unchanged); off: the paper's GAE",
    "future_cv": "a-head: in the policy's advantage of a_t, every later step's TD error has that "
    "step's own action advantage (the MBP's A head, centred under pi) taken out, an unbiased "
    "control variate; policy-q: the same from a Q~ head on the policy's features, trained on "
    "r_t + gamma V_{t+1} (needs --baseline mbp); off: the paper's GAE",
    "tvt_alpha": "Temporal Value Transport (Hung et al. 2019): a strong MBP read of a row older "
    "than 1 / (1 - gamma) steps adds this x its weight x V to the policy's reward where the row "
    "was written, within one segment (so a --tau that spans the episode); >= 0, 0 = off",
    "tvt_threshold": "read strength beta that a read must pass to transport value (--tvt-alpha)",
    "return_input": "what the MBP's return heads read besides log pi / a: z (the paper's), or "
    "z+reads: z and the MBP's memory reads m_{t-1} (a diagnostic; merlin and rl-mem only)",
    "image_codes": "integer images of small codes (MiniGrid's ids; see --image-scale): scored as "
    "pixels, codes / scale (scaled), or each cell's and channel's code as one of scale + 1 "
    "classes by cross-entropy (categorical) (MERLIN)",
    "policy_film": "how the policy's head takes z_t: as it is (off, the paper's) or modulated by "
    "what the policy remembers (history: FiLM, z * (1 + gamma) + beta, [gamma, beta] linear in "
    "its LSTM state and memory reads)",
    "policy_sees": "what the policy takes in beside its own memory read: z (the paper's), or "
    "z+reads: z and the MBP's memory reads m_{t-1} (rl-lstm, without memory, takes z alone)",
    "lr_mbp": "Adam learning rate of the MBP, > 0",
    "lr_policy": "Adam learning rate of the policy, > 0",
    "ablation_mbp_lr": "learning rate of an ablation's MBP (rl-lstm, rl-mem: trained by the RL "
    "losses alone): --lr-policy (policy, the default) or --lr-mbp (mbp, every grid before the "
    "forty-fifth session); merlin's MBP always steps at --lr-mbp",
    "lr_schedule": "both learning rates constant, or decaying linearly to 0 at --total-steps "
    "(linear)",
    "adam_eps": "Adam epsilon of both optimisers, > 0",
    "grad_clip": "gradient-norm clip of both optimisers, > 0",
    "mbp_clip": "how MERLIN's MBP gradient is clipped at --grad-clip: global (one norm), kind "
    "(each observation kind's own parameters by their own norm, the rest by theirs) or off",
    "entropy_cost": "weight of the policy's bonus (--policy-bonus), >= 0",
    "policy_bonus": "what --entropy-cost weighs: the policy's entropy, log-barrier "
    "(-KL(uniform || pi): keeps pulling on actions the policy has stopped taking), or "
    "entropy-floor (the entropy, plus that pull on actions below probability 0.01 / A)",
    "kl_weight": "weight of the ELBO's KL term (MERLIN), >= 0",
    "elbo": "KL term of the ELBO: balanced (KL balancing with free nats, keeps z informative "
    "for every input kind) or literal (the paper's KL(q || p))",
    "kl_free_nats": "balanced ELBO: nats of KL per step that cost nothing (free bits), >= 0",
    "kl_balance": "balanced ELBO: share of the KL gradient that trains the prior, in (0, 1)",
    "latent_input_norm": "what MERLIN's prior and posterior MLPs take in: each part as it is "
    "(none, the paper's) or layer-normalised first (layer)",
    "prior_grad": "what trains MERLIN's prior MLP: every MBP loss, through the posterior that "
    "adds and reads it (all, the paper's model as written), or the KL term alone (kl: the "
    "posterior adds and reads a stopgrad copy, so the prior only learns to predict); no effect "
    "under --posterior-form direct",
    "posterior_form": "MERLIN's posterior: residual (the paper's: it reads the prior's "
    "parameters and adds them) or direct (Dreamer's form: from e_t, h_{t-1} and m_{t-1} alone; "
    "the prior then learns by the KL term alone)",
    "logsig_bound_cost": "weight of the squared distance of the prior's and posterior's log "
    "sigmas past their bounds (-5, 1) before the clamp, >= 0 (0 = off)",
    "read_target_cost": "weight of the hindsight read term (MERLIN): the MBP's first read key "
    "at t learns to fetch the row of M_{t-1} whose z is nearest mu_q,t+1, >= 0 (0 = off)",
    "read_target_weighting": "the steps the hindsight read term weighs: uniform (all alike) or "
    "surprise (each by KL(q_{t+1} || p_{t+1}) over its mean: where the prior failed)",
    "epochs": "learner epochs K over each acted segment (1 with 1 minibatch: the paper's "
    "single A2C step), >= 1",
    "minibatches": "minibatches of environments per epoch (each re-runs the segment), >= 1",
    "policy_epochs": "extra epochs of the policy alone after the K epochs, on the z_t and "
    "memory it acted on (no MBP pass: cheap policy gradient steps), >= 0",
    "encoder_norm": "how each input kind's encoding enters e_t: as it is (none, the paper's) or "
    "layer-normalised, so that every kind arrives at a like scale (layer)",
    "latent": "with two or more observation kinds: one slice of z (z_dim each) per kind, with its "
    "own posterior and read by that kind's decoder alone (factored), or the paper's one "
    "posterior over all inputs, every decoder reading all of z (joint)",
    "baseline": "the advantages' baseline: the MBP's V on z_t (mbp, the paper's), a value "
    "head on the policy's own features, which see its history (policy), or one on z_t and an "
    "LSTM of its own (critic)",
    "policy_value_cost": "weight of the policy value head's squared error in the policy's loss "
    "(--baseline policy or critic), >= 0",
    "policy_minibatches": "minibatches of environments in each policy-only epoch (at most one "
    "per env), >= 0; 0 = --minibatches",
    "ppo_clip": "PPO clip epsilon of the policy ratio (inactive at K = 1), > 0",
    "target_kl": "stop a segment's epochs once the policy's approx KL to the acting policy "
    "exceeds 1.5x this (SB3's target_kl; inactive at K = 1), >= 0; 0 = off",
    "reward_norm": "divide rewards by a running sqrt(E[G^2]) of discounted returns "
    "(return-std) or not (off)",
    "advantage_norm": "advantages to zero mean and unit std per minibatch (batch) or not (off)",
    "image_weight": "weight of the image reconstruction loss (sum of squared pixel errors per "
    "image), >= 0",
    "image_scale": "divide integer (uint8) image inputs by this, > 0; 0 = auto (the run's "
    "config.json records the choice): 255 for pixels, or for a grid of small codes such as "
    "MiniGrid's the smallest 2^k - 1 above the largest value in the first observations",
    "vector_weight": "weight of the vector-observation reconstruction loss, >= 0",
    "vector_sigma": "the Gaussian scale of each vector input dimension in its reconstruction "
    "loss: learned per dimension (at least --vector-sigma-min), or fixed (the squared error)",
    "vector_sigma_min": "the floor of a learned vector scale (--vector-sigma learned), > 0",
    "text_weight": "weight of the text reconstruction loss, >= 0",
    "discrete_weight": "weight of the discrete-observation reconstruction loss, >= 0",
    "action_weight": "weight of the previous-action reconstruction loss, >= 0",
    "reward_weight": "weight of the previous-reward reconstruction loss, >= 0",
    "return_weight": "weight of the MBP's return-prediction loss, >= 0",
    "log_interval": "env steps between metrics.csv rows, >= 1",
    "checkpoint_interval": "env steps between checkpoints, >= 1",
    "keep_checkpoints": "newest step_*.pt checkpoints kept, >= 1",
    "max_nonfinite": "non-finite updates in a row (skipped) before the run stops, >= 1",
    "tb_images_every": "updates between TensorBoard reconstruction and read-weight images, >= 1",
}
MAIN_FLAGS = (
    "env",
    "agent",
    "total_steps",
    "num_envs",
    "seed",
    "run_dir",
    "device",
    "async_envs",
    "compile",
    "env_import",
)
SEED_RANGE = 2**31
CONFIG_SUFFIXES = (".json", ".toml", ".yaml", ".yml")
_NO_IMPORT = object()


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line saying what was wrong, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        found = re.match(r"argument ([^:]+): (is .*)", message)
        if found:  # "argument --env-kwargs: is not valid JSON" -> "--env-kwargs is not ..."
            message = f"{found[1]} {found[2]}"
        sys.stderr.write(f"merlin-rl: error: {message}\n")
        raise SystemExit(2)


def _json_object(text: str) -> dict[str, Any]:
    """--env-kwargs: a JSON object."""
    try:
        value = load_json(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"is not valid JSON: {e} (give an object such as '{{\"delay\": 40}}')"
        ) from None
    except RecursionError:
        raise argparse.ArgumentTypeError("is nested too deeply to be env settings") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"is not a JSON object: {text!r} (give an object such as '{{\"delay\": 40}}')"
        )
    return value


def _seed(text: str) -> int:
    """--seed: an integer in [0, 2**31)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"is not an integer: {text!r} (allowed: 0 to {SEED_RANGE - 1})"
        ) from None
    if not 0 <= value < SEED_RANGE:
        raise argparse.ArgumentTypeError(
            f"is out of range: {text} (allowed: 0 to {SEED_RANGE - 1})"
        )
    return value


def _positive(text: str, most: int | None = None) -> int:
    """A positive integer flag (--episodes, --fps, --jobs), at most ``most``."""
    allowed = f"1 to {most:,}" if most else ">= 1"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"is not an integer: {text!r} (allowed: {allowed})"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    if most is not None and value > most:
        raise argparse.ArgumentTypeError(f"is too large: {text} (allowed: {allowed})")
    return value


def _at_most(most: int):
    """``_positive`` with an upper bound, for argparse's ``type=``."""

    def parse(text: str) -> int:
        return _positive(text, most)

    return parse


EVAL_EPISODES_MAX = 1_000_000
EVAL_MAX_STEPS_MAX = 1_000_000_000
RECORD_EPISODES_MAX = 1_000  # every frame is kept in memory until the video is written


def _default_text(name: str) -> str:
    """'default 32; 200 with --preset paper' from the dataclass default and the presets."""
    default = {f.name: f for f in dataclasses.fields(Config)}[name]
    value = (
        default.default_factory()
        if default.default_factory is not dataclasses.MISSING
        else default.default
    )
    if name == "run_dir":
        return "default runs/<agent>_<env>_s<seed>_<date-time>"
    if name == "env_import":
        return "default none"
    if isinstance(value, bool):
        return "off by default"
    text = f"default {json.dumps(value) if isinstance(value, dict) else value}"
    for preset, values in PRESETS.items():
        if name in values and values[name] != value:
            other = values[name]
            text += (
                f"; {json.dumps(other) if isinstance(other, dict) else other} with "
                f"--preset {preset}"
            )
    if name == "env_kwargs":
        text += " (built-in tasks only)"
    return text.replace("%", "%%")


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        default=None,
        help="settings from a file: JSON, TOML or YAML (.json, .toml, .yaml, .yml), "
        "keys as in a run's config.json; flags given as well win (default none)",
    )
    p.add_argument(
        "--preset",
        default=None,
        choices=list(PRESETS),
        help="model sizes and learning settings: small (a laptop CPU) or paper "
        "(DESIGN §3); flags given as well win (default small)",
    )
    fields = {f.name: f for f in dataclasses.fields(Config)}
    order = [n for n in MAIN_FLAGS if n in fields] + [n for n in fields if n not in MAIN_FLAGS]
    for name in order:
        f = fields[name]
        if name == "preset":
            continue
        flag = "--" + name.replace("_", "-")
        what = FLAG_HELP.get(name, name.replace("_", " "))
        text = f"{what.replace('%', '%%')} ({_default_text(name)})"
        if name == "env_kwargs":
            p.add_argument(flag, type=_json_object, default=None, metavar="JSON", help=text)
            continue
        if name == "seed":
            p.add_argument(flag, type=_seed, default=None, metavar="N", help=text)
            continue
        type_name = f.type if isinstance(f.type, str) else f.type.__name__
        if type_name == "bool":
            p.add_argument(flag, action="store_true", default=None, help=text)
            continue
        typ = {"int": int, "float": float, "str": str}[type_name]
        metavar = (
            None
            if name in CHOICES
            else {"int": "N", "float": "X"}.get(
                type_name, {"env": "ID", "run_dir": "DIR", "env_import": "MODULES"}.get(name)
            )
        )
        p.add_argument(
            flag, type=typ, default=None, choices=CHOICES.get(name), metavar=metavar, help=text
        )


def _add_checkpoint_flags(p: argparse.ArgumentParser, seed: int) -> None:
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="FILE",
        help="path to a .pt checkpoint (e.g. RUN_DIR/checkpoints/final.pt)",
    )
    p.add_argument(
        "--seed",
        type=_seed,
        default=seed,
        help=f"environment and sampling seed, 0 to {SEED_RANGE - 1} (default {seed})",
    )
    p.add_argument(
        "--env-import",
        default=None,
        metavar="MODULES",
        help="module(s) to import first, comma-separated, that register the "
        "checkpoint's env; a checkpoint never imports code itself (default none)",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="merlin-rl", description="MERLIN: memory, RL and inference network.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train an agent (defaults: MERLIN on the built-in task)")
    _add_config_flags(t)
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its latest checkpoint (off by default)",
    )
    t.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the merlin-rl run already in --run-dir; the old run is removed "
        "only once the new one has written its first checkpoint (off by default)",
    )
    t.add_argument(
        "--no-progress", action="store_true", help="hide the progress bar (off by default)"
    )
    e = sub.add_parser("eval", help="evaluate a checkpoint; prints a JSON summary as last line")
    _add_checkpoint_flags(e, 12345)
    e.add_argument(
        "--episodes",
        type=_at_most(EVAL_EPISODES_MAX),
        default=100,
        help=f"episodes to run, 1 to {EVAL_EPISODES_MAX:,} (default 100)",
    )
    e.add_argument(
        "--max-steps",
        type=_at_most(EVAL_MAX_STEPS_MAX),
        default=EVAL_MAX_STEPS,
        help="steps each env copy may take before eval stops, for envs whose episodes never "
        f"end; the episodes finished by then are summarised, 1 to {EVAL_MAX_STEPS_MAX:,} "
        f"(default {EVAL_MAX_STEPS:,})",
    )
    e.add_argument(
        "--greedy", action="store_true", help="argmax actions and mean z (default: sample)"
    )
    e.add_argument(
        "--device", default="cpu", choices=DEVICES, help="where the agent runs (default cpu)"
    )
    pl = sub.add_parser(
        "plot",
        help="learning curves of run directories (mean and 95%% interval "
        "over seeds, grouped by env and agent or --group-by)",
    )
    pl.add_argument("runs", nargs="+", metavar="RUN_DIR")
    pl.add_argument("--out", required=True, help="image file to write (.png, .pdf or .svg)")
    pl.add_argument(
        "--metric", default="episode_return", help="metrics.csv column (default episode_return)"
    )
    pl.add_argument(
        "--group-by",
        default="agent",
        metavar="KEY",
        help="config key whose values make the lines, e.g. allocation (default agent)",
    )
    m = sub.add_parser(
        "memory",
        help="figure of an episode's memory read weights (time x memory row, per read head)",
    )
    _add_checkpoint_flags(m, 0)
    m.add_argument("--out", required=True, help="image file to write (.png, .pdf or .svg)")
    x = sub.add_parser(
        "experiment",
        help="run a grid of agents x envs x seeds (one process "
        "each; finished runs are kept) and summarise it",
    )
    x.add_argument("grid", metavar="CONFIG", help="grid file (.yaml, .toml or .json)")
    x.add_argument("--jobs", type=_positive, default=1, help="runs at a time, >= 1 (default 1)")
    x.add_argument(
        "--quick",
        action="store_true",
        help="run the grid file's [quick] variant (a smoke test of the grid) instead",
    )
    x.add_argument(
        "--summarise",
        action="store_true",
        help="run nothing: summarise the runs that have finished (a grid spanning sessions)",
    )
    x.add_argument(
        "--status",
        action="store_true",
        help="run and write nothing: print each cell's state (finished, started with its env "
        "steps so far, not started) and the time left at --jobs, estimated from the grid's own "
        "runs",
    )
    x.add_argument(
        "--agents",
        metavar="A,B",
        help="run only these of the grid's agents (comma-separated, e.g. the ablations first); "
        "the summary covers every finished run of the grid, so a stale run of any agent still "
        "stops it (default: all)",
    )
    x.add_argument(
        "--env-import",
        default=None,
        metavar="MODULES",
        help="module(s) that register third-party envs, imported here and by every "
        "run (default none)",
    )
    r = sub.add_parser(
        "record",
        help="video of episodes with memory reads, reconstructions and "
        "return predictions beside the frames",
    )
    _add_checkpoint_flags(r, 0)
    r.add_argument("--out", required=True, help="FILE.gif (Pillow) or FILE.mp4 (video extra)")
    r.add_argument(
        "--episodes",
        type=_at_most(RECORD_EPISODES_MAX),
        default=1,
        help=f"episodes to record, 1 to {RECORD_EPISODES_MAX:,} (default 1)",
    )
    r.add_argument(
        "--env",
        default=None,
        help="another env id with the same spaces (default: the checkpoint's env)",
    )
    r.add_argument(
        "--fps", type=_at_most(1000), default=4, help="frames per second, 1 to 1,000 (default 4)"
    )
    for command in (t, e, pl, m, x, r):
        command.add_argument(
            "--debug", action="store_true", help="show tracebacks on errors (off by default)"
        )
    return p


def _note_inert(cfg: Config, given: set[str]) -> None:
    """One line on stderr naming the settings given that change nothing for this run."""
    from merlin_rl.experiment import inert_settings

    inert = inert_settings(cfg, given)
    if inert and os.environ.get("RANK", "0") == "0":
        flags = ", ".join("--" + n.replace("_", "-") for n in inert)
        print(
            f"merlin-rl: note: {flags} change{'s' if len(inert) == 1 else ''} nothing for "
            f"--agent {cfg.agent} on {cfg.env}; recorded in config.json as given",
            file=sys.stderr,
        )


def _train(args: argparse.Namespace) -> int:
    from merlin_rl.checkpoint import load_checkpoint
    from merlin_rl.distributed import shutdown, world_size_from_env
    from merlin_rl.train import Trainer

    names = {f.name for f in dataclasses.fields(Config)} - {"preset"}
    values: dict[str, Any] = _read_config_file(args.config) if args.config else {}
    values.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
    given = set(values)
    if args.resume and args.overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    run_dir = values.get("run_dir")
    resume_from: Path | None = None
    done_steps = 0
    if args.resume:
        if not run_dir:
            raise ConfigError("--resume needs --run-dir, the run directory to continue")
        latest = Path(run_dir) / "checkpoints" / "latest.pt"
        saved = Path(run_dir) / "config.json"
        if latest.exists():  # the run's own settings, then what was given explicitly now
            ckpt = load_checkpoint(latest)
            stored = dataclasses.asdict(ckpt["config_obj"])
            resume_from, done_steps = latest, int(ckpt["env_steps"])
            if "seed" in values and values["seed"] != stored["seed"]:
                raise ConfigError(
                    f"--resume continues the run in {run_dir!r} with its seed, {stored['seed']}; "
                    f"--seed {values['seed']} would make it another run: start one in another "
                    "--run-dir"
                )
            if saved.exists():  # what the run last ran with (e.g. a larger --total-steps given
                # on a resume that stopped before its next checkpoint), over the checkpoint's
                recorded = _check_same_run(saved, latest, stored)
                stored.update(
                    {k: v for k, v in recorded.items() if k in stored and k != "env_import"}
                )  # (what a checkpoint says it imported is refused below unless given)
        elif others := sorted(p.name for p in latest.parent.glob("*.pt")):
            # latest.pt lost but checkpoints kept: restarting would replace them
            raise ConfigError(
                f"--resume: {latest} is missing but {latest.parent} holds "
                f"{', '.join(others[:3])}{' ...' if len(others) > 3 else ''}; copy the one to "
                "continue from to latest.pt, or use --overwrite to start the run again"
            )
        elif saved.exists():  # killed before its first checkpoint: start it again from scratch
            stored = _run_config(saved)
        else:
            raise ConfigError(f"--resume: no run to continue in {run_dir!r} (no {latest})")
        imported = stored.pop("env_import", "")
        if imported and args.env_import is None:
            raise ConfigError(
                f"--resume: the run in {run_dir!r} imported {imported!r}; a run's "
                f"files never import code: add --env-import {imported} if you "
                "trust it"
            )
        _check_metrics(Path(run_dir) / "metrics.csv")
        values = {**stored, **values}
    preset = args.preset or values.pop("preset", None) or "small"
    values.pop("preset", None)
    cfg = make_config(preset, **values)
    if resume_from is not None and done_steps >= cfg.total_steps:
        return _finished(Path(cfg.run_dir), done_steps, cfg.total_steps)
    replace = bool(cfg.run_dir) and resume_from is None and _holds_run(Path(cfg.run_dir))
    if replace:
        if not (args.overwrite or args.resume):
            raise ConfigError(
                f"--run-dir {cfg.run_dir!r} already holds a run; add --resume to "
                "continue it, --overwrite to replace it, or choose another --run-dir"
            )
        _check_is_run(Path(cfg.run_dir), "--resume" if args.resume else "--overwrite")
    # everything is checked (settings, device, memory, env construction, run directory) before
    # the old run is touched
    _check_train_memory(cfg)
    _note_inert(cfg, given)
    new_dir = Path(cfg.run_dir) if cfg.run_dir and not Path(cfg.run_dir).exists() else None
    try:
        trainer = Trainer(cfg, progress=not args.no_progress)
    except BaseException:
        if new_dir is not None and new_dir.is_dir() and not any(new_dir.iterdir()):
            new_dir.rmdir()  # created by the Trainer just before the env failed: leave no trace
        raise
    aside: Path | None = None
    main_rank = trainer.dist.is_main
    if args.resume and resume_from is None and main_rank:  # said once everything is checked
        print(
            f"merlin-rl: {Path(cfg.run_dir) / 'checkpoints' / 'latest.pt'} does not exist yet; "
            "restarting the run from the beginning",
            file=sys.stderr,
        )
    finished = False
    # SIGTERM (a scheduler, `kill`, a stopped experiment) unwinds like Ctrl-C: a replaced run that
    # has no checkpoint yet is put back below instead of staying in .overwritten-*
    on_term = None
    if threading.current_thread() is threading.main_thread():
        on_term = signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if replace and (world_size_from_env() == 1 or os.environ.get("RANK") == "0"):
            aside = _move_aside(Path(cfg.run_dir))

            def drop_old_run(_: Path) -> None:
                nonlocal aside
                if aside is not None:
                    shutil.rmtree(aside, ignore_errors=True)
                    aside = None

            trainer.on_checkpoint = drop_old_run
        if resume_from is not None:
            exact = trainer.load(resume_from)
            how = (
                "exactly (environments, recurrent state and memory restored)"
                if exact
                else "with fresh environments and recurrent state"
            )
            if main_rank:
                print(
                    f"resumed from {resume_from} at {trainer.env_steps} env steps, {how}",
                    file=sys.stderr,
                )
        if main_rank:
            print(f"run directory: {trainer.run_dir}", file=sys.stderr)
        row = trainer.train()
        finished = True
    except BaseException:
        if aside is not None:  # the new run failed before its first checkpoint: undo
            _restore(Path(cfg.run_dir), aside)
        raise
    finally:
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)
        shutdown(trainer.dist, wait=finished)
    if main_rank:
        summary = {k: row.get(k) for k in ("env_steps", "episode_return", "fps", "wall_time")}
        summary.update(run_dir=str(trainer.run_dir), processes=trainer.dist.world_size)
        print(_json_line(summary))
    return 0


def _check_train_memory(cfg: Config) -> None:
    """The memory estimate with the env's observation space (image encoders included), from one
    probe copy of the env, before the Trainer allocates anything."""
    from merlin_rl.envs import import_env_modules, make_vector_env
    from merlin_rl.limits import check_memory
    from merlin_rl.train import resolve_device

    device = resolve_device(cfg.device)
    check_memory(cfg, device)  # before even one env is made
    import_env_modules(cfg.env_import)
    probe = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    space = probe.single_observation_space
    probe.close()
    check_memory(cfg, device, obs_space=space)


def _finished(run_dir: Path, steps: int, total: int) -> int:
    """--resume of a run that has reached --total-steps: say so, print its summary, exit 0."""
    print(
        f"merlin-rl: the run in {str(run_dir)!r} is finished ({steps} env steps, --total-steps "
        f"{total}); nothing to do (give a larger --total-steps to continue it)",
        file=sys.stderr,
    )
    summary: dict[str, Any] = {"env_steps": steps, "finished": True, "run_dir": str(run_dir)}
    try:
        from merlin_rl.plots import read_metrics

        rows = read_metrics(run_dir / "metrics.csv")
        for key in ("episode_return", "fps", "wall_time"):
            summary[key] = float(rows[-1][key]) if rows and rows[-1].get(key) else None
    except (ConfigError, ValueError):
        pass
    print(_json_line(summary))
    return 0


def _json_line(obj: Any) -> str:
    """JSON with NaN and infinities as null (they are not valid JSON)."""

    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(obj), allow_nan=False)


def _read_config_file(path: str) -> dict[str, Any]:
    """Settings from a JSON, TOML or YAML file (keys as in config.json); command-line flags win."""
    p = Path(path)
    kind = p.suffix.lower()
    if kind not in CONFIG_SUFFIXES:
        raise ConfigError(
            f"--config {path!r}: the file must be JSON, TOML or YAML (ending in "
            f"{', '.join(CONFIG_SUFFIXES)})"
        )
    try:
        text = p.read_text()
        if kind == ".toml":
            import tomllib

            data = tomllib.loads(text)
        elif kind in (".yaml", ".yml"):
            data = load_yaml(text)  # plain values only, no objects, code or aliases
        else:
            data = load_json(text)
    except OSError as e:
        raise ConfigError(f"--config {path!r} cannot be read: {e.strerror or e}") from None
    except ValueError as e:  # JSONDecodeError, TOMLDecodeError, YAML errors, UnicodeDecodeError
        fmt = "YAML" if kind in (".yaml", ".yml") else kind[1:].upper()
        raise ConfigError(f"--config {path!r} is not valid {fmt}: {e}") from None
    except RecursionError:
        raise ConfigError(f"--config {path!r} is nested too deeply to be settings") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"--config {path!r} must hold an object of settings, got {type(data).__name__}"
        )
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(f"--config {path!r} has unknown keys {unknown}; allowed: {sorted(known)}")
    if data.get("env_import"):
        raise ConfigError(
            f"--config {path!r} sets env_import; a file never imports code: pass "
            f"--env-import {data['env_import']} on the command line instead"
        )
    for f in dataclasses.fields(Config):
        if f.name in data:
            want = {"int": int, "float": (int, float), "str": str, "bool": bool}.get(
                f.type if isinstance(f.type, str) else f.type.__name__, dict
            )
            v = data[f.name]
            if not isinstance(v, want) or (want is not bool and isinstance(v, bool)):
                allowed = f" (allowed: {', '.join(CHOICES[f.name])})" if f.name in CHOICES else ""
                raise ConfigError(
                    f"--config {path!r}: {f.name} must be {f.type}{allowed}, got {v!r}"
                )
    return data


IDENTITY = ("agent", "env", "seed", "env_kwargs")  # what makes a checkpoint another run's


def _check_same_run(saved: Path, latest: Path, stored: dict[str, Any]) -> dict[str, Any]:
    """--resume: the checkpoint belongs to the run its folder records (config.json): the same
    agent, env, seed and env settings, else ConfigError before anything changes. Returns the
    recorded settings."""
    from merlin_rl.plots import read_run_config

    try:
        recorded = read_run_config(saved)
    except ConfigError as e:
        raise ConfigError(
            f"--resume: {e}; move that file away to continue from {str(latest)!r}'s settings"
        ) from None
    for key in IDENTITY:
        if key in recorded and recorded[key] != stored.get(key):
            raise ConfigError(
                f"--resume: {str(latest)!r} is another run's checkpoint ({key} "
                f"{stored.get(key)!r}) than the one {str(saved)!r} records ({recorded[key]!r}); "
                "nothing was changed"
            )
    return recorded


def _run_config(path: Path) -> dict[str, Any]:
    """A run's config.json, checked like a --config file (ConfigError naming it)."""
    from merlin_rl.plots import read_run_config

    data = read_run_config(path)
    try:
        return dataclasses.asdict(Config.from_dict(data).validate())
    except (ConfigError, TypeError) as e:
        raise ConfigError(f"--resume: {str(path)!r} has invalid settings: {e}") from None


def _check_metrics(path: Path) -> None:
    """--resume: a metrics.csv that cannot be continued is refused before anything changes."""
    from merlin_rl.plots import read_metrics

    if not path.exists():
        return
    try:
        rows = read_metrics(path)
        for i, row in enumerate(rows):
            for key in ("env_steps", "wall_time"):
                if key not in row:
                    continue
                try:
                    value = float(row[key])
                except (TypeError, ValueError):
                    value = math.nan
                if not math.isfinite(value) or (key == "env_steps" and value != int(value)):
                    raise ConfigError(
                        f"{str(path)!r} line {i + 2}: {key} is not a number: {row.get(key)!r}"
                    )
    except ConfigError as e:
        raise ConfigError(
            f"--resume: {e}; repair that file or move it away to continue without it"
        ) from None


RUN_FILES = ("checkpoints", "tb", "metrics.csv", "config.json")


def _holds_run(run_dir: Path) -> bool:
    return any((run_dir / n).exists() for n in ("checkpoints", "metrics.csv", "config.json"))


def _check_is_run(run_dir: Path, flag: str) -> None:
    """Refuse to replace a folder that is not a merlin-rl run (its files are someone else's)."""
    what = None
    try:
        cfg = json.loads((run_dir / "config.json").read_text())
        if not isinstance(cfg, dict) or not {"agent", "env", "total_steps"} <= set(cfg):
            what = "its config.json is not a merlin-rl config"
    except (OSError, ValueError):
        what = "it has no readable merlin-rl config.json"
    metrics = run_dir / "metrics.csv"
    if what is None and metrics.exists():
        try:
            with open(metrics, encoding="utf-8") as f:
                if not f.readline().startswith("env_steps"):
                    what = "its metrics.csv is not one of ours"
        except (OSError, ValueError):
            what = "its metrics.csv is not one of ours"
    ours = re.compile(r"(step_\d+\.pt|latest\.pt|final\.pt|\..*\.tmp)$")
    if what is None and (run_dir / "checkpoints").exists():
        ckpts = run_dir / "checkpoints"
        if not ckpts.is_dir() or not all(
            ours.match(p.name) and p.is_file() for p in ckpts.iterdir()
        ):
            what = "its checkpoints/ holds files that are not merlin-rl checkpoints"
    if what is None and (run_dir / "tb").exists():
        tb = run_dir / "tb"
        if not tb.is_dir() or not all(
            p.is_dir() or p.name.startswith("events.out.tfevents") for p in tb.rglob("*")
        ):
            what = "its tb/ holds files that are not TensorBoard logs"
    if what is not None:
        raise ConfigError(
            f"{flag}: --run-dir {str(run_dir)!r} is not a merlin-rl run ({what}); "
            "nothing was changed: choose another --run-dir"
        )


def _exit_on_signal(signum: int, frame: Any) -> None:
    """Turn a termination signal into SystemExit(128 + signum), so that cleanup code runs."""
    raise SystemExit(128 + signum)


def _move_aside(run_dir: Path) -> Path:
    """Move the old run's files into a hidden folder of ``run_dir`` (same file system: atomic
    renames); it is deleted once the new run has written its first checkpoint."""
    aside = run_dir / f".overwritten-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    aside.mkdir()
    for name in RUN_FILES:
        if (run_dir / name).exists():
            os.replace(run_dir / name, aside / name)
    return aside


def _restore(run_dir: Path, aside: Path) -> None:
    """Undo ``_move_aside`` (the new run failed before its first checkpoint): the new run's
    files go, the old run's come back."""
    for name in RUN_FILES:
        if (aside / name).exists() or (run_dir / name).exists():
            new = run_dir / name
            if new.is_dir():
                shutil.rmtree(new, ignore_errors=True)
            elif new.exists():
                new.unlink()
            if (aside / name).exists():
                os.replace(aside / name, new)
    shutil.rmtree(aside, ignore_errors=True)  # silent: the error line that follows says why


def _load_agent(args: argparse.Namespace, device, batch: int = 1):
    """(agent, config, checkpoint) from ``args.checkpoint``, on ``device``, in eval mode. Only
    the user's own ``--env-import`` is imported, never the checkpoint's ``env_import``."""
    import gymnasium as gym

    from merlin_rl.agent import Agent
    from merlin_rl.checkpoint import load_checkpoint, load_model_state
    from merlin_rl.envs import EnvError, import_env_modules, make_vector_env
    from merlin_rl.limits import check_memory

    path = args.checkpoint
    ckpt = load_checkpoint(Path(path))
    cfg: Config = ckpt["config_obj"]
    if args.env_import:
        import_env_modules(args.env_import)
    if cfg.env_import and not args.env_import and cfg.env not in gym.registry:
        raise EnvError(
            f"checkpoint {str(path)!r} was trained on {cfg.env!r}, which is not "
            f"registered; its run imported {cfg.env_import!r}, and a checkpoint never "
            f"imports code: add --env-import {cfg.env_import} if you trust it"
        )
    check_memory(cfg, device, batch=min(batch, cfg.num_envs), steps=1)  # evaluate's batch
    try:
        env = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    except EnvError as e:  # its settings, not the user's flags
        raise EnvError(f"checkpoint {str(path)!r}: its env cannot be made: {e}") from None
    check_memory(
        cfg, device, batch=min(batch, cfg.num_envs), steps=1, obs_space=env.single_observation_space
    )
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    env.close()
    load_model_state(agent, ckpt["model"], path)
    return agent.to(device).eval(), cfg, ckpt


def _eval(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.train import evaluate, resolve_device

    device = resolve_device(args.device)
    agent, cfg, ckpt = _load_agent(args, device, batch=args.episodes)
    torch.manual_seed(args.seed)
    result = evaluate(
        agent,
        cfg,
        args.episodes,
        greedy=args.greedy,
        seed=args.seed,
        device=device,
        max_steps=args.max_steps,
    )
    result.update(
        agent=cfg.agent,
        env=cfg.env,
        checkpoint=str(args.checkpoint),
        env_steps=int(ckpt["env_steps"]),
    )
    print(_json_line(result))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from merlin_rl.plots import FIGURE_TYPES, check_output_file, plot_runs

    check_output_file(args.out, FIGURE_TYPES)
    resolved = [Path(r).resolve() for r in args.runs]
    twice = [r for i, r in enumerate(args.runs) if resolved[i] in resolved[:i]]
    if twice:  # one run counted twice would look like two seeds that agree
        raise ConfigError(f"plot: the run {twice[0]!r} is given twice; give each run once")
    summary = plot_runs(args.runs, args.out, args.metric, args.group_by)
    print(_json_line({"out": args.out, "curves": summary}))
    return 0


def _check_out_is_not_checkpoint(args: argparse.Namespace) -> None:
    """memory, record: --out may not name the --checkpoint file (the figure would replace it)."""
    try:
        same = os.path.samefile(args.out, args.checkpoint)
    except (OSError, ValueError):  # either does not exist (yet)
        return
    if same:
        raise ConfigError(
            f"--out {args.out!r} is the --checkpoint file {args.checkpoint!r}; give another "
            "file name"
        )


def _memory(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.plots import FIGURE_TYPES, check_output_file, memory_figure

    check_output_file(args.out, FIGURE_TYPES)
    _check_out_is_not_checkpoint(args)
    agent, cfg, _ = _load_agent(args, torch.device("cpu"))
    torch.manual_seed(args.seed)
    info = memory_figure(agent, cfg, args.out, seed=args.seed)
    print(_json_line({"out": args.out, **info}))
    return 0


def _record(args: argparse.Namespace) -> int:
    import torch

    from merlin_rl.record import check_video_out, record

    check_video_out(args.out)
    _check_out_is_not_checkpoint(args)
    agent, cfg, _ = _load_agent(args, torch.device("cpu"))
    print(_json_line(record(agent, cfg, args.out, args.episodes, args.env, args.fps, args.seed)))
    return 0


def _grid_status(args: argparse.Namespace, agents: list[str] | None) -> int:
    from merlin_rl.experiment import read_grid
    from merlin_rl.grid_status import format_status, grid_status

    if args.summarise or agents is not None:
        raise ConfigError(
            "experiment: --status runs nothing; it cannot be given with "
            f"{'--summarise' if args.summarise else '--agents'}"
        )
    grid = read_grid(args.grid, args.quick)
    print(format_status(grid_status(grid, args.jobs), args.jobs))
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from merlin_rl.experiment import run_experiment

    agents = None if args.agents is None else [a.strip() for a in args.agents.split(",")]
    if args.status:
        return _grid_status(args, agents)
    result = run_experiment(
        args.grid, args.jobs, args.env_import or "", args.quick, args.summarise, agents
    )
    failed = {k: v for k, v in result["runs"].items() if v.startswith("failed")}
    for name, status in failed.items():
        print(f"merlin-rl: run {name} {status}", file=sys.stderr)
    print(_json_line(result))
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from merlin_rl.checkpoint import CheckpointError
        from merlin_rl.encoders import UnsupportedSpaceError
        from merlin_rl.envs import EnvError
        from merlin_rl.train import TrainingDiverged

        commands = {
            "train": _train,
            "eval": _eval,
            "plot": _plot,
            "memory": _memory,
            "experiment": _experiment,
            "record": _record,
        }
        try:
            code = commands[args.command](args)
        except (ConfigError, EnvError, UnsupportedSpaceError, CheckpointError, OSError) as e:
            if args.debug:
                raise
            sys.stderr.write(f"merlin-rl: error: {_one_line(e)}\n")
            return 2
        except TrainingDiverged as e:
            if args.debug:
                raise
            sys.stderr.write(f"merlin-rl: error: {_one_line(e)}\n")
            return 1
        except (MemoryError, RuntimeError) as e:  # what merlin_rl.limits did not foresee
            if args.debug or not _out_of_memory(e):
                raise
            found = re.search(r"tried to allocate [^.(]+", str(e))
            what = found[0].strip() if found else type(e).__name__
            sys.stderr.write(
                f"merlin-rl: error: out of memory ({what}); make the sizes "
                "(--num-envs, --memory-rows, --z-dim, --image-channels, --tau, ...) "
                "smaller\n"
            )
            return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        sys.stderr.write("merlin-rl: interrupted\n")
        return 130
    if args.command == "train":
        from merlin_rl.distributed import exit_without_teardown, world_size_from_env

        if world_size_from_env() > 1:  # a torchrun rank whose run ended normally
            exit_without_teardown(code)
    return code


def _out_of_memory(e: BaseException) -> bool:
    """MemoryError, torch.OutOfMemoryError, or the CPU allocator's RuntimeError."""
    import torch

    return (
        isinstance(e, (MemoryError, torch.OutOfMemoryError))
        or "can't allocate memory" in str(e)
        or "out of memory" in str(e)
    )


MAX_ERROR = 2_000  # characters of an error line


def _one_line(e: BaseException) -> str:
    """The message on one line (an error line never spans several), at most ``MAX_ERROR``
    characters (a value quoted from a file can be of any size)."""
    text = " ".join(str(e).split())
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        text = f"{e.filename!r}: {e.strerror}"
    if len(text) > MAX_ERROR:
        text = f"{text[: MAX_ERROR - 40]} ... ({len(text):,} characters in all)"
    return text or type(e).__name__
