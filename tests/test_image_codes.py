"""--image-codes categorical: an integer image of small codes (MiniGrid's object, colour and state
ids, found by the auto --image-scale) is scored as one categorical per cell and channel, not as
pixels. Checked against a hand-written loop over cells; pixel images keep their likelihood; the
setting is recorded, and older runs were "scaled" (docs/learning.md, twenty-sixth session: under
the scaled likelihood a key (5/7) and a ball (6/7) are neighbouring greys, and MERLIN's z on
MiniGrid-MemoryS7 did not tell them apart)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.encoders import PIXEL_SCALE, ImageModality

SHAPE = (3, 4, 2)  # (H, W, C)


def _modality(scale: float, codes: str = "categorical", integer: bool = True) -> ImageModality:
    torch.manual_seed(0)
    m = ImageModality(SHAPE, channels=2, out_dim=8, scale=scale, integer=integer)
    m.build_decoder(6, 16, "mlp", "bernoulli", codes)
    return m


def test_loss_against_a_loop_over_cells():
    m = _modality(7.0)
    assert m.codes == 8
    g = torch.Generator().manual_seed(1)
    b = 3
    codes = torch.randint(0, 8, (b, 2, 3, 4), generator=g)  # (B, C, H, W)
    codes[0, 0, 0, 0] = 9  # above the K - 1 found at the start: counts as K - 1
    z = torch.randn(b, 6, generator=g)
    loss = m.recon_loss(z, codes.float() / 7.0)
    out = m.decoder(z).detach()  # (B, K x C, H, W): K blocks of C channels
    for e in range(b):
        total = 0.0
        for c in range(2):
            for y in range(3):
                for x in range(4):
                    logits = [float(out[e, k * 2 + c, y, x]) for k in range(8)]
                    top = max(logits)
                    log_z = top + math.log(sum(math.exp(v - top) for v in logits))
                    total += log_z - logits[min(int(codes[e, c, y, x]), 7)]
        assert float(loss[e]) == pytest.approx(total, rel=1e-5)
    shown = m.reconstruct(z)
    assert shown.shape == (b, 2, 3, 4) and 0 <= shown.min() and shown.max() <= 1
    k = out.view(b, 8, 2, 3, 4).argmax(1)
    torch.testing.assert_close(shown, k.float() / 7.0)


def test_a_wrong_neighbouring_code_costs_what_a_wrong_far_one_does():
    """The point of it: under "scaled" a key (5) drawn as a ball (6) costs a fraction of what a
    key drawn as a wall (2) does; as categories both cost the same."""
    cat, scaled = _modality(7.0), _modality(7.0, "scaled")
    z = torch.zeros(1, 6)
    with torch.no_grad():  # both decoders: certain of code 5 everywhere
        cat.decoder.net[-1].weight.zero_()
        cat.decoder.net[-1].bias.copy_(
            torch.tensor([0.0] * 10 + [20.0] * 2 + [0.0] * 4).repeat_interleave(12)
        )
        scaled.decoder.net[-1].weight.zero_()
        scaled.decoder.net[-1].bias.fill_(math.log(5 / 2))  # sigmoid = 5/7
    for m in (cat, scaled):
        base = m.recon_loss(z, torch.full((1, 2, 3, 4), 5 / 7))
        near = m.recon_loss(z, torch.full((1, 2, 3, 4), 6 / 7)) - base
        far = m.recon_loss(z, torch.full((1, 2, 3, 4), 2 / 7)) - base
        if m is cat:
            torch.testing.assert_close(near, far)
        else:
            assert float(near) < 0.25 * float(far)


def test_pixel_images_keep_their_likelihood():
    for m in (_modality(PIXEL_SCALE), _modality(7.0, integer=False)):
        assert not m.symbolic and m.codes == 0
        assert m.decoder.shape == (2, 3, 4)  # C channels, as before
    assert _modality(7.0, "scaled").codes == 0


def test_the_agent_builds_it_and_older_runs_were_scaled():
    space = gym.spaces.Dict({"image": gym.spaces.Box(0, 255, (5, 5, 3), np.uint8)})
    cfg = make_config("small", image_codes="categorical", image_scale=15.0, z_dim=8, enc_dim=16)
    assert Agent(space, gym.spaces.Discrete(3), cfg).mbp.codec.modality("image").codes == 16
    cfg = make_config("small", image_codes="categorical", image_scale=255.0, z_dim=8, enc_dim=16)
    assert Agent(space, gym.spaces.Discrete(3), cfg).mbp.codec.modality("image").codes == 0
    assert LEGACY_SETTINGS["image_codes"] == "scaled"
    with pytest.raises(ConfigError, match="--image-codes 'onehot' is not known"):
        make_config("small", image_codes="onehot").validate()
