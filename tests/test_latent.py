"""The latent carries the observation (DESIGN.md §2): on an input that is random every step, the
MBP's reconstruction loss ends well below the input's entropy. With the paper's literal ELBO on a
Discrete input the KL wins (posterior collapse) and it stays at ln|obs|; the defaults (free nats,
KL balancing) must not collapse."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl import losses
from merlin_rl.config import make_config
from merlin_rl.train import Trainer
from scripts import load_script


class FreshEachStepEnv(gym.Env):
    """A new observation (``_obs``) every step, nothing to predict from the past, no reward,
    16-step episodes, two actions that change nothing."""

    action_space = gym.spaces.Discrete(2)
    t = 0

    def _obs(self):
        raise NotImplementedError

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), 0.0, self.t >= 16, False, {}


class RandomSymbolEnv(FreshEachStepEnv):
    """A uniformly random symbol each step."""

    def __init__(self, n: int = 4) -> None:
        self.observation_space = gym.spaces.Discrete(n)
        self.n = n

    def _obs(self) -> int:
        return int(self.np_random.integers(self.n))


gym.register("merlin_rl_test/RandomSymbol-v0", entry_point=RandomSymbolEnv)


class CueBesideImageEnv(FreshEachStepEnv):
    """A random cue (Discrete(8)) beside an 8 x 8 image of two random coloured blocks, both new
    each step: ActiveVisualMatch's shown cue in small."""

    observation_space = gym.spaces.Dict(
        {"image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), "cue": gym.spaces.Discrete(8)}
    )

    def _obs(self) -> dict:
        image = np.zeros((8, 8, 3), np.uint8)
        for i, j in self.np_random.integers(0, 7, (2, 2)):
            image[i : i + 2, j : j + 2] = self.np_random.integers(0, 2, 3) * 255
        return {"image": image, "cue": int(self.np_random.integers(8))}


gym.register("merlin_rl_test/CueBesideImage-v0", entry_point=CueBesideImageEnv)

TINY = dict(
    env="merlin_rl_test/RandomSymbol-v0",
    z_dim=8,
    enc_dim=16,
    mlp_hidden=32,
    mbp_hidden=32,
    policy_hidden=16,
    memory_rows=16,
    num_envs=8,
    tau=10,
    seed=1,
    epochs=1,  # one gradient step per segment: the ELBO is what is tested (and it is fast)
    minibatches=1,
)


def _recon_after_training(
    tmp_path, updates: int, key: str = "discrete:obs", **overrides
) -> tuple[float, float]:
    tr = Trainer(make_config("small", **{**TINY, **overrides}), run_dir=tmp_path, progress=False)
    recon, kl = [], []
    for i in range(updates):
        logs = tr.update(tr.rollout())
        if i >= updates - 10:
            recon.append(logs[f"loss/recon_{key}"])
            kl.append(logs["loss/kl"])
    tr.env.close()
    return float(np.mean(recon)), float(np.mean(kl))


def test_discrete_input_is_encoded_with_the_default_elbo(tmp_path):
    recon, kl = _recon_after_training(tmp_path / "default", updates=250)
    assert recon < math.log(4) - 0.5, recon  # well below the marginal entropy ln 4 = 1.386
    assert kl > 0.5, kl


def _cue_beside_image(tmp_path, **overrides) -> float:
    recon, _ = _recon_after_training(
        tmp_path,
        updates=250,
        key="discrete:cue",
        env="merlin_rl_test/CueBesideImage-v0",
        decoder_hidden=64,
        image_channels=4,
        policy_epochs=0,  # the ELBO is what is tested
        lr_mbp=0.005,
        **overrides,
    )
    return recon


def test_a_discrete_input_beside_an_image_gets_into_z_at_the_defaults(tmp_path):
    """The defaults (the factored latent, --discrete-weight 100; 10 from the thirtieth session)
    encode a random cue beside an image; the joint latent at weight 1 (the default before) leaves
    it at its marginal entropy ln 8, as on ActiveVisualMatch with the cue shown (docs/learning.md)."""
    assert _cue_beside_image(tmp_path / "default") < math.log(8) - 0.4
    old = _cue_beside_image(tmp_path / "old", latent="joint", discrete_weight=1.0)
    assert old > math.log(8) - 0.15, old


def test_literal_elbo_collapses_on_a_discrete_input(tmp_path):
    """The reason for the defaults: the paper's ELBO with weight 1 does not encode the symbol."""
    recon, kl = _recon_after_training(
        tmp_path / "literal", updates=150, elbo="literal", discrete_weight=1.0
    )
    assert recon > math.log(4) - 0.15, recon


def test_kl_objective_balance_and_free_nats_against_hand_formula():
    """Value max(f, KL); ``balance`` of the KL gradient goes to the prior and the rest to the
    posterior; below ``free_nats`` a step's KL has no gradient at all."""
    g = torch.Generator().manual_seed(1)
    mu_q, ls_q, mu_p, ls_p = [
        torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(4)
    ]
    alpha = 0.8
    obj = losses.kl_objective(mu_q, ls_q, mu_p, ls_p, free_nats=0.0, balance=alpha)
    kl = losses.gaussian_kl(mu_q, ls_q, mu_p, ls_p)
    torch.testing.assert_close(obj, kl)  # same value
    grads = torch.autograd.grad(obj.sum(), [mu_q, ls_q, mu_p, ls_p])
    ref = torch.autograd.grad(kl.sum(), [mu_q, ls_q, mu_p, ls_p])
    for i, (a, b) in enumerate(zip(grads, ref)):
        torch.testing.assert_close(a, (1 - alpha if i < 2 else alpha) * b)
    # free nats: the loss is max(f, KL) per step; steps below f get no gradient
    f = float(kl.detach().median())
    obj = losses.kl_objective(mu_q, ls_q, mu_p, ls_p, free_nats=f, balance=alpha)
    for i in range(6):
        assert float(obj[i].detach()) == pytest.approx(max(f, float(kl[i].detach())), rel=1e-9)
    low = (kl.detach() < f).nonzero().flatten()
    gq, gp = torch.autograd.grad(obj.sum(), [mu_q, mu_p])
    assert low.numel() > 0 and torch.all(gq[low] == 0) and torch.all(gp[low] == 0)
    high = (kl.detach() > f).nonzero().flatten()
    assert torch.all(gq[high].abs().sum(-1) > 0)


class RandomCodeGridEnv(FreshEachStepEnv):
    """MiniGrid-like: a 4x4x3 uint8 grid of small codes (1..6), a fresh uniform code each step
    (the whole grid at once), 16-step episodes."""

    observation_space = gym.spaces.Box(0, 255, (4, 4, 3), np.uint8)

    def _obs(self):
        return np.full((4, 4, 3), self.np_random.integers(1, 7), np.uint8)


gym.register("merlin_rl_test/RandomCodeGrid-v0", entry_point=RandomCodeGridEnv)


def _image_recon_share(tmp_path, updates: int, **overrides) -> tuple[float, float]:
    """(reconstruction loss / the best input-independent guess's loss, the chosen image scale)."""
    cfg = make_config("small", **{**TINY, "env": "merlin_rl_test/RandomCodeGrid-v0", **overrides})
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    scale = tr.cfg.image_scale
    codes = np.arange(1, 7) / scale
    floor, uninformed = 0.0, 48 * codes.var()  # squared error of predicting the mean, 48 values
    if cfg.image_output == "bernoulli":  # cross-entropy: its floor is the codes' own entropy

        def bce(x, q):
            return -(x * np.log(q) + (1 - x) * np.log(1 - q))

        floor = 48 * bce(codes, codes).mean()
        uninformed = 48 * bce(codes, codes.mean()).mean() - floor
    recon = []
    for i in range(updates):
        logs = tr.update(tr.rollout())
        if i >= updates - 10:
            recon.append(logs["loss/recon_image:obs"])
    tr.env.close()
    return (float(np.mean(recon)) - floor) / uninformed, scale


@pytest.mark.parametrize("output", ["linear", "bernoulli"])
def test_a_grid_of_small_codes_is_scaled_and_encoded(tmp_path, output):
    """--image-scale 0 (auto) divides codes 1..6 by 7, so their errors count and z carries them
    (under both image likelihoods; the cross-entropy's share is measured above its floor, the
    codes' own entropy); divided by 255 (the scale before, kept with --image-scale 255) the image
    is left out of z (the squared error's case, where it was found)."""
    share, scale = _image_recon_share(tmp_path / "auto", updates=80, image_output=output)
    assert scale == 7.0
    assert share < 0.5, share  # 0.31 on one development machine (below 0.3 on others); 255: > 0.8
    if output == "bernoulli":
        return
    share_255, scale = _image_recon_share(
        tmp_path / "pixels", updates=80, image_scale=255.0, image_output=output
    )
    assert scale == 255.0
    assert share_255 > 0.8, share_255


memory_chain = load_script("experiments/memory_chain.py")  # registers experiments/MemoryChain-v0


def _context_drawn_from_z0(tmp_path, updates: int, **overrides) -> float:
    """After ``updates`` updates on MemoryChain (length 30: the context is 1 value in 90 of the
    vector input), the share of 256 fresh first views whose context the MBP's vector decoder
    gives back (its sign) from z_0; chance 0.5."""
    cfg = make_config(
        "small", **{**TINY, "env": "experiments/MemoryChain-v0", "baseline": "mbp", **overrides}
    )
    tr = Trainer(cfg, run_dir=tmp_path, progress=False)
    for _ in range(updates):
        tr.update(tr.rollout())
    tr.env.close()
    agent, mbp = tr.agent, tr.agent.mbp
    context = np.random.default_rng(5).choice([-1.0, 1.0], 256).astype(np.float32)
    first = np.stack([np.ones_like(context), np.zeros_like(context), context], -1)
    with torch.no_grad():
        out, _ = agent.step(mbp.codec.to_tensors(first, "cpu"), agent.initial_state(256))
        drawn = mbp.codec.modality("obs").decoder(mbp.decoder_input(out.z, "obs"))[:, 2]
    return float((torch.sign(drawn).numpy() == context).mean())


def test_a_rare_vector_cue_gets_into_z_with_a_learned_scale(tmp_path):
    """--vector-sigma learned: the context's dimension is 0 at all but one step, so its scale
    shrinks and a miss at step 0 costs far more than its share of the squared error; with the
    fixed squared error (weight 1) z_0 does not hold it after as many updates (docs/learning.md,
    seventeenth session: 0.97 against 0.58 on this seed, 1.0 against 0.78 on seed 2). Measured
    with the prior's and posterior's inputs as they are (`--latent-input-norm none`, the default
    before the thirty-first session): under the layer norm this tiny check gives 0.75 after 300
    updates (docs/runs/learning/session31/memory_chain.sh measures the task itself). With the
    MBP's V as the baseline (`--baseline mbp`, the default before the thirty-sixth session)."""
    plain = dict(latent_input_norm="none")
    assert _context_drawn_from_z0(tmp_path / "learned", 300, vector_sigma="learned", **plain) > 0.9
    assert _context_drawn_from_z0(tmp_path / "fixed", 300, vector_sigma="fixed", **plain) < 0.75
