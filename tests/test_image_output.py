"""--image-output: what the image decoder's outputs are scored as. "sigmoid" (as before) scores
sigmoid(output), "linear" the output itself; both against a hand-written loop over pixels. The
reason for "linear": a pixel whose logit has run far below zero gets no gradient through the
sigmoid, so an object the decoder did not learn to draw early is never drawn (docs/learning.md,
nineteenth session); through "linear" it still gets 2 (y - x), through "bernoulli" (the pixels'
cross-entropy under Bernoulli(sigmoid(output))) p - x. The reconstruction shown is in [0, 1]
either way."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.encoders import ImageModality

SHAPE = (4, 5, 3)  # (H, W, C)


def _modality(output: str) -> ImageModality:
    torch.manual_seed(0)
    m = ImageModality(SHAPE, channels=2, out_dim=8)
    m.build_decoder(6, 16, "mlp", output)
    return m


@pytest.mark.parametrize("output", ["sigmoid", "linear", "bernoulli"])
def test_loss_against_a_hand_written_sum_over_pixels(output):
    m = _modality(output)
    z, x = torch.randn(3, 6), torch.rand(3, 3, 4, 5)
    got = m.recon_loss(z, x).detach()
    y = m.decoder(z).detach()
    for b in range(3):
        ref = 0.0
        for c in range(3):
            for i in range(4):
                for j in range(5):
                    v = float(y[b, c, i, j])
                    mean = v if output == "linear" else 1 / (1 + math.exp(-v))
                    t = float(x[b, c, i, j])
                    if output == "bernoulli":
                        ref -= t * math.log(mean) + (1 - t) * math.log(1 - mean)
                    else:
                        ref += (mean - t) ** 2
        assert float(got[b]) == pytest.approx(ref, rel=1e-5)


def test_a_pixel_far_below_zero_still_learns_under_linear_not_under_sigmoid():
    """The saturation measured on InstructedGoal: a bright target pixel whose output sits at -50
    (the object's logits there: -52 on average) gets a gradient of ~1e-20 through the sigmoid
    and 2 (y - x) = -102 through "linear"; "bernoulli" (the pixels' cross-entropy, a candidate
    that keeps the sigmoid's bounded mean) gives it p - x = -1."""
    for output, expect in (("sigmoid", 0.0), ("linear", -102.0), ("bernoulli", -1.0)):
        m = _modality(output)
        with torch.no_grad():
            m.decoder.net[-1].weight.zero_()
            m.decoder.net[-1].bias.fill_(-50.0)
        out = m.decoder.net[-1].bias
        x = torch.ones(1, 3, 4, 5)
        (g,) = torch.autograd.grad(m.recon_loss(torch.zeros(1, 6), x).sum(), out)
        assert g.abs().max().item() == pytest.approx(abs(expect), abs=1e-6)
        assert float(g[0]) == pytest.approx(expect, abs=1e-6)


@pytest.mark.parametrize("output", ["sigmoid", "linear", "bernoulli"])
def test_the_reconstruction_shown_is_an_image(output):
    m = _modality(output)
    with torch.no_grad():
        m.decoder.net[-1].bias.copy_(torch.linspace(-30, 30, 60))
    rec = m.reconstruct(torch.randn(2, 6))
    assert rec.shape == (2, 3, 4, 5) and rec.min() >= 0 and rec.max() <= 1


def test_the_agent_builds_it_the_default_is_bernoulli_and_older_runs_are_sigmoid():
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)})
    for output in ("sigmoid", "linear", "bernoulli"):
        cfg = make_config("small", image_output=output, z_dim=8, enc_dim=16, image_channels=4)
        agent = Agent(space, gym.spaces.Discrete(3), cfg)
        assert agent.mbp.codec.modality("image").output == output
    assert make_config("small").image_output == "bernoulli"  # the twentieth session's default
    assert make_config("paper").image_output == "linear"
    assert LEGACY_SETTINGS["image_output"] == "sigmoid"
    with pytest.raises(ConfigError, match="--image-output .tanh. is not known"):
        make_config("small", image_output="tanh")
