"""Does z_t carry the observation, for every input kind? (DESIGN.md §2, "the latent must carry
the observation".) For each kind (Discrete, vector, text tokens, image, "codes": a uint8 grid of
small ids like MiniGrid's, and "multidiscrete": categories that are often 0, read as token ids) an env shows an input drawn at random every step (nothing about it can be predicted from the past), MERLIN's MBP trains for
``--updates`` updates, and the JSON reports, per kind and ELBO (``balanced``, the default, and
``literal``, the paper's): the mean reconstruction loss and KL over the last 20 updates beside the
loss of the best input-independent guess and of a perfect prediction, each under the likelihood
the config uses (``loss_bounds``), times the modality weight. Informative: recon well below the
first; the fraction reported is (recon - perfect) / (uninformed - perfect).

    python benchmarks/latent.py [--updates 300] [--kinds discrete vector text image codes multidiscrete]
                                [--seed 1] [--set text_weight=10 ...]

``--set KEY=JSON`` changes a config setting (e.g. a modality weight) for every run.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

TOKENS, TOKEN_LEN, VECTOR_DIM, IMAGE = 8, 4, 4, 8
CATEGORIES = 3  # per entry of the "multidiscrete" kind (TOKEN_LEN entries, each 0..2)


class RandomInputEnv(gym.Env):
    """A fresh random input every step, 16-step episodes, actions ignored, no reward."""

    def __init__(self, kind: str = "discrete") -> None:
        self.kind = kind
        self.observation_space = {
            "discrete": gym.spaces.Discrete(4),
            "vector": gym.spaces.Box(-np.inf, np.inf, (VECTOR_DIM,), np.float32),
            "text": gym.spaces.Box(0, TOKENS - 1, (TOKEN_LEN,), np.int64),
            "image": gym.spaces.Box(0, 255, (IMAGE, IMAGE, 3), np.uint8),
            "codes": gym.spaces.Box(0, 255, (IMAGE, IMAGE, 3), np.uint8),
            "multidiscrete": gym.spaces.MultiDiscrete([CATEGORIES] * TOKEN_LEN),
        }[kind]
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def _obs(self):
        rng = self.np_random
        if self.kind == "discrete":
            return int(rng.integers(4))
        if self.kind == "vector":
            return rng.standard_normal(VECTOR_DIM).astype(np.float32)
        if self.kind == "text":
            return rng.integers(1, TOKENS, TOKEN_LEN).astype(np.int64)  # ids 1..7 (0 = padding)
        if self.kind == "multidiscrete":  # a 0 anywhere, as a product of categoricals has
            return rng.integers(0, CATEGORIES, TOKEN_LEN).astype(np.int64)
        if self.kind == "codes":  # one id 1..6 for the whole grid (MiniGrid's ids go up to 10)
            return np.full((IMAGE, IMAGE, 3), rng.integers(1, 7), np.uint8)
        colour = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])[rng.integers(4)]
        return np.broadcast_to(colour, (IMAGE, IMAGE, 3)).astype(np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), 0.0, self.t >= 16, False, {}


def loss_bounds(kind: str, cfg, image_scale: float = 255.0) -> tuple[float, float]:
    """(uninformed, perfect): the modality's reconstruction loss, under the likelihood the config
    uses, of the best prediction that ignores the input, and of a perfect prediction; unweighted.

    Discrete and tokens: the entropy and 0. Vectors (N(0, 1) per dimension): the squared error
    D and 0, or with a learned scale (``vector_sigma`` learned, loss (x - mu)^2 / (2 sigma^2) +
    log sigma) D / 2 at sigma = 1 and D log sigma_min. Images: the summed variance and 0 under
    the squared error; the cross-entropy of the mean pixel and the pixels' own entropy under
    ``image_output`` bernoulli (not 0 for values strictly inside (0, 1)); categorical codes: the
    codes' entropy and 0."""
    n = IMAGE * IMAGE * 3
    if kind == "discrete":
        return math.log(4), 0.0
    if kind == "text":
        return TOKEN_LEN * math.log(TOKENS - 1), 0.0
    if kind == "multidiscrete":
        return TOKEN_LEN * math.log(CATEGORIES), 0.0
    if kind == "vector":
        if cfg.vector_sigma == "learned":
            return 0.5 * VECTOR_DIM, VECTOR_DIM * math.log(cfg.vector_sigma_min)
        return float(VECTOR_DIM), 0.0  # unit variance per dimension
    if kind == "codes":  # one id 1..6 for the whole grid, uniform, divided by the image scale
        values = np.arange(1, 7) / image_scale
        if cfg.image_codes == "categorical":
            return n * math.log(6), 0.0
    else:  # 4 equally likely solid colours: each channel value is 1 w.p. 1/4, else 0
        values = np.array([0.0, 0.0, 0.0, 1.0])
    if cfg.image_output == "bernoulli":  # the pixels' cross-entropy (torch clamps log 0)
        x = torch.as_tensor(values, dtype=torch.float64)
        uninformed = F.binary_cross_entropy(x.mean().expand_as(x), x)
        return n * float(uninformed), n * float(F.binary_cross_entropy(x, x))
    return n * float(values.var()), 0.0


def run(kind: str, elbo: str, updates: int, seed: int, overrides: dict | None = None) -> dict:
    from merlin_rl.config import make_config
    from merlin_rl.train import Trainer

    env_id = f"merlin_rl_bench/Random{kind.title()}-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=RandomInputEnv, kwargs={"kind": kind})
    tiny = dict(z_dim=8, enc_dim=16, mlp_hidden=32, mbp_hidden=32, policy_hidden=16, memory_rows=16)
    settings = {**tiny, "num_envs": 8, "tau": 10, **(overrides or {})}  # --set may change these
    cfg = make_config("small", **settings, env=env_id, seed=seed, elbo=elbo)
    key = {
        "discrete": "discrete:obs",
        "vector": "vector:obs",
        "text": "text:obs",
        "image": "image:obs",
        "codes": "image:obs",
        "multidiscrete": "text:obs",
    }[kind]
    recon, kl = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, run_dir=tmp, progress=False)
        image_scale = tr.cfg.image_scale
        for i in range(updates):
            logs = tr.update(tr.rollout())
            if i >= updates - 20:
                recon.append(logs["loss/recon_" + key])
                kl.append(logs["loss/kl"])
        tr.env.close()
    weight_of = {"codes": "image_weight", "multidiscrete": "text_weight"}
    weight = float(getattr(cfg, weight_of.get(kind, f"{kind}_weight")))
    base, perfect = (weight * b for b in loss_bounds(kind, cfg, image_scale))
    r = float(np.mean(recon)) * weight
    return {
        "kind": kind,
        "elbo": elbo,
        "updates": updates,
        "weight": weight,
        "recon_weighted": round(r, 4),
        "uninformed_loss": round(base, 4),
        "perfect_loss": round(perfect, 4),
        # how much of the way from the uninformed loss to a perfect one is left: 1 = nothing
        # about the input is in z, 0 = all of it
        "recon_fraction_of_uninformed": round((r - perfect) / (base - perfect), 4),
        "kl_nats": round(float(np.mean(kl)), 4),
        "image_scale": image_scale,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--updates", type=int, default=300)
    p.add_argument(
        "--kinds",
        nargs="+",
        default=["discrete", "vector", "text", "image", "codes", "multidiscrete"],
    )
    p.add_argument("--elbos", nargs="+", default=["balanced", "literal"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=JSON",
        help="Config overrides, e.g. text_weight=10",
    )
    a = p.parse_args()
    from merlin_rl.config import make_config

    overrides = {}
    for item in a.set:
        key, sep, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            sep = ""
        if not sep:
            p.error(f"--set {item!r}: expected KEY=JSON, e.g. text_weight=10")
        if key in ("env", "seed", "elbo"):
            p.error(f"--set {key}: the benchmark sets it (its own env; --seed, --elbos)")
    try:
        make_config("small", **overrides)
    except ValueError as e:  # ConfigError
        p.error(f"--set: {e}")
    torch.set_num_threads(1)
    rows = [run(k, e, a.updates, a.seed, overrides) for k in a.kinds for e in a.elbos]
    out = {"benchmark": "latent", "seed": a.seed, "results": rows}
    if overrides:
        out["set"] = overrides
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
