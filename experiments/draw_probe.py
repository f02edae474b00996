"""What does MERLIN's image decoder draw on InstructedGoal? Squared error per pixel class.

    python experiments/draw_probe.py --checkpoint RUN/checkpoints/final.pt [--episodes 64]

Runs ``--episodes`` copies of the checkpoint's InstructedGoal (as trained: sampled actions) for
12 steps and splits the squared error of the image drawn from z_t, mu_q and the prior's mu_p by
what the target pixel shows: the agent (white), an object (coloured) or the floor (black). Also
the decoder's raw outputs on the objects' bright channels (target > 0.5): with
``--image-output sigmoid`` these are logits, and far below 0 the sigmoid gives them no gradient
(docs/learning.md, nineteenth session). Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from merlin_rl.agent import Agent

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import _Stepper, load_probe_args, merlin_on  # noqa: E402  (experiments/ is not a package)

STEPS = 12  # InstructedGoal episodes last at least this long only rarely; autoreset keeps going


@torch.no_grad()
def probe(agent: Agent, env, seed: int) -> dict:
    stepper = _Stepper(agent, env, seed)
    image = agent.mbp.codec.modality("image")
    errors: dict[str, list[float]] = {}
    bright_out = []
    for _ in range(STEPS):
        _, out = stepper.act()
        x = out.obs["image"]  # (B, C, H, W) in [0, 1]
        white = x.min(1).values > 0.99
        black = x.max(1).values < 0.01
        classes = {"agent": white, "floor": black, "object": ~white & ~black}
        # what the image decoder reads of each (its own slice with --latent factored)
        sources = {"z": out.z, "mu_q": out.dist["mu_q"], "mu_p": out.dist["mu_p"]}
        latents = {k: agent.mbp.decoder_input(z, "image") for k, z in sources.items()}
        for source, z in latents.items():
            err = (image.reconstruct(z) - x).pow(2).sum(1)  # (B, H, W)
            for name, mask in classes.items():
                errors.setdefault(f"{source}_{name}", []).append(
                    float((err * mask).flatten(1).sum(-1).mean())
                )
        bright = classes["object"][:, None].expand_as(x) & (x > 0.5)
        bright_out.append(image.decoder(latents["mu_q"])[bright])
        stepper.advance(out)
    raw = torch.cat(bright_out)
    q = torch.quantile(raw, torch.tensor([0.1, 0.5, 0.9])).tolist()
    return {
        "image_output": agent.cfg.image_output,
        **{f"sq_error_{k}": round(float(np.mean(v)), 3) for k, v in sorted(errors.items())},
        "object_bright_output_mean": round(float(raw.mean()), 3),
        "object_bright_output_q10_50_90": [round(v, 3) for v in q],
    }


def main() -> None:
    a, agent, env = load_probe_args(
        __doc__.splitlines()[0], merlin_on("merlin_rl/InstructedGoal-v0")
    )
    print(json.dumps({"checkpoint": a.checkpoint, "seed": a.seed, **probe(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
