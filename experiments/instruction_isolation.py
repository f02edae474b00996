"""Can the MBP put InstructedGoal's instruction into z? Its ELBO alone, on first views, in isolation.

On InstructedGoal a trained MERLIN's z_0 holds nothing of the instruction (experiments/cue_probe.py:
step-0 text NLL 2.96-3.27 nats, a guess costs ln 6 + ln 3 = 2.89), with a 10x text weight too.
This script takes the reinforcement learning, the recurrence and the memory away and asks the
MBP's reconstruction alone: a fresh MERLIN (the defaults, or the weights given) sees batches of
the task's first views (image and instruction, zero state: what step 0 of an episode gives the
posterior), of which a share ``--share`` keep their instruction and the rest have the empty text
that every later step of an episode shows (training sees about 1 instruction in 12 steps). Each
step is one Adam step of the MBP on the learner's ELBO terms for these views: the KL as optimised
(balanced, free nats; ``--no-kl`` drops it), image_weight x the image's and text_weight x the
text's reconstruction loss, the gradient norm clipped to grad_clip as mbp_clip says, as in
learner.py.

Every ``--every`` steps it prints one JSON line with the settings and the instruction's NLL
from a posterior sample on 256 held-out first views that all carry one (``nll``; the colour
and shape tokens' accuracy ``colour`` and ``shape``, chance 1/6 and 1/3), with the mean KL and
image loss of that batch, the share of the posterior's tanh units that are saturated
(|tanh| > 0.99) on it and the mean |encoding| of its image and of its text.

    python experiments/instruction_isolation.py [--share 0.0833] [--image-weight 50]
        [--text-weight 1] [--no-kl] [--steps 300] [--batch 64] [--seed 0]
        [--latent factored|joint] [--mbp-clip global|kind|off]

``--loop UPDATES`` asks the same inside the real training loop instead (train.Trainer: the
acting, the segments as stored, the learner's replay and all its losses, 32 envs, seed
``--seed``) with the policy held at its initial, near-uniform self (its learning rate 1e-12), so
that only the MBP learns: every ``--every`` updates one JSON line with cue_probe.py's
instruction probe on 256 held-out episodes (step-0 text NLL, colour and shape right).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LATENTS, MBP_CLIPS, ConfigError, make_config
from merlin_rl.envs import make_vector_env

ENV = "merlin_rl/InstructedGoal-v0"
HELD_OUT = 256


def first_views(env, seed: int, share: float) -> dict[str, np.ndarray]:
    """A batch of first views (reset observations) of which the first round(share x B) keep the
    instruction; the others get the empty text (all padding) of an episode's later steps."""
    obs, _ = env.reset(seed=seed)
    keep = int(round(share * env.num_envs))
    obs["text"][keep:] = 0
    return obs


def weights(cfg) -> dict[str, float]:
    """Weight of each reconstruction loss key (``kind:name``, action, reward), as learner.py."""
    return {
        "image:image": cfg.image_weight,
        "text:text": cfg.text_weight,
        "action": cfg.action_weight,
        "reward": cfg.reward_weight,
    }


def run(
    share: float,
    steps: int,
    batch: int,
    seed: int,
    kl: bool = True,
    every: int = 50,
    **overrides,
) -> list[dict]:
    """Train a fresh MBP for ``steps`` steps; returns the printed rows."""
    torch.manual_seed(seed)
    cfg = make_config("small", env=ENV, num_envs=batch, seed=seed, **overrides)
    env = make_vector_env(ENV, batch, cfg.env_kwargs)
    held = make_vector_env(ENV, HELD_OUT, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    mbp = agent.mbp
    params = list(mbp.parameters())
    opt = torch.optim.Adam(params, lr=cfg.lr_mbp, eps=cfg.adam_eps)
    w = weights(cfg)
    text = mbp.codec.modality("text")
    test_obs = mbp.codec.to_tensors(first_views(held, 10**6 + seed, 1.0), "cpu")
    settings = {
        "share": round(share, 4),
        "image_weight": cfg.image_weight,
        "text_weight": cfg.text_weight,
        "grad_clip": cfg.grad_clip,
        "mbp_clip": cfg.mbp_clip,
        "with_kl": kl,
        "latent": cfg.latent,
        "seed": seed,
        **{
            k: v
            for k, v in overrides.items()
            if k not in ("image_weight", "text_weight", "grad_clip", "mbp_clip")
        },
    }
    rows = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            # the check draws its own noise, so that how often it runs changes nothing
            with torch.no_grad(), torch.random.fork_rng():
                torch.manual_seed(seed + 1)
                hidden = []  # the posterior's tanh layer(s) on the held-out views
                posts = mbp.posteriors if mbp.factored else [mbp.posterior]
                hooks = [
                    p[1].register_forward_hook(lambda m, i, o: hidden.append(o)) for p in posts
                ]
                out, _ = agent.step(test_obs, agent.initial_state(HELD_OUT))
                for hook in hooks:
                    hook.remove()
                pred = agent.evaluate([out])
                codes = {k: m.encoder(test_obs[k]).abs().mean() for k, m in mbp.codec.items()}
                target = test_obs["text"]
                logits = text.decoder(mbp.decoder_input(out.z, "text"))
                guess = logits.view(HELD_OUT, text.length, text.vocab).argmax(-1)
                rows.append(
                    {
                        "step": step,
                        "nll": round(float(pred.recon["text:text"].mean()), 3),
                        "colour": round(float((guess[:, 3] == target[:, 3]).float().mean()), 3),
                        "shape": round(float((guess[:, 4] == target[:, 4]).float().mean()), 3),
                        "kl": round(float(pred.kl.mean()), 2),
                        "image": round(float(pred.recon["image:image"].mean()), 2),
                        "saturated": round(
                            float((torch.cat(hidden, -1).abs() > 0.99).float().mean()), 3
                        ),
                        "image_code": round(float(codes["image"]), 3),
                        "text_code": round(float(codes["text"]), 3),
                        **settings,
                    }
                )
            print(json.dumps(rows[-1]), flush=True)
        if step == steps:
            break
        obs = mbp.codec.to_tensors(first_views(env, seed * 10**5 + step, share), "cpu")
        out, _ = agent.step(obs, agent.initial_state(batch))
        pred = agent.evaluate([out])
        loss = sum(w[k] * v.mean() for k, v in pred.recon.items())
        if kl:
            loss = loss + cfg.kl_weight * pred.kl_objective.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.mbp_clip != "off":  # as learner.Learner clips MERLIN's MBP
            for group in mbp.clip_groups() if cfg.mbp_clip == "kind" else [params]:
                torch.nn.utils.clip_grad_norm_(group, cfg.grad_clip)
        opt.step()
    return rows


def loop(updates: int, seed: int, every: int = 50, **overrides) -> list[dict]:
    """The MBP alone in the real training loop (the policy frozen); returns the printed rows."""
    from merlin_rl.train import Trainer

    path = Path(__file__).with_name("cue_probe.py")
    spec = importlib.util.spec_from_file_location("cue_probe", path)
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    kw = dict(env=ENV, num_envs=32, seed=seed, total_steps=10**9, lr_policy=1e-12)
    cfg = make_config("small", **{**kw, **overrides})
    held = make_vector_env(ENV, HELD_OUT, cfg.env_kwargs)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, run_dir=tmp, progress=False)
        agent = trainer.agent
        for update in range(updates + 1):
            if update % every == 0 or update == updates:
                agent.eval()
                with torch.random.fork_rng():  # leaves the training's random stream alone
                    torch.manual_seed(0)
                    r = probe.instruction_probe(agent, held, 0)
                agent.train()
                rows.append(
                    {
                        "update": update,
                        "env_steps": trainer.env_steps,
                        **{k: r[f"drawn_{k}"] for k in ("nll", "colour", "shape")},
                        "latent": cfg.latent,
                        "seed": seed,
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            if update < updates:
                trainer.update(trainer.rollout())
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--share", type=float, default=1 / 12)
    p.add_argument("--image-weight", type=float, default=None)
    p.add_argument("--text-weight", type=float, default=None)
    p.add_argument("--grad-clip", type=float, default=None)
    p.add_argument("--no-kl", action="store_true")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--loop", type=int, default=0, metavar="UPDATES")
    p.add_argument("--latent", choices=LATENTS, default=None)
    p.add_argument("--mbp-clip", choices=MBP_CLIPS, default=None)
    a = p.parse_args()
    if not 0.0 < a.share <= 1.0 or min(a.steps, a.loop) < 0 or a.batch < 1 or a.every < 1:
        p.error("--share must be in (0, 1], --steps and --loop >= 0, --batch and --every >= 1")
    overrides = {
        k: v
        for k, v in (
            ("image_weight", a.image_weight),
            ("text_weight", a.text_weight),
            ("grad_clip", a.grad_clip),
            ("latent", a.latent),
            ("mbp_clip", a.mbp_clip),
        )
        if v is not None
    }
    try:
        make_config("small", env=ENV, **overrides)
    except ConfigError as e:
        p.error(str(e))
    torch.set_num_threads(1)
    if a.loop:
        loop(a.loop, a.seed, every=a.every, **overrides)
        return
    run(a.share, a.steps, a.batch, a.seed, kl=not a.no_kl, every=a.every, **overrides)


if __name__ == "__main__":
    main()
