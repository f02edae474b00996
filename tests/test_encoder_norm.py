"""--encoder-norm: each input kind's encoding layer-normalised before e_t is joined (against a
hand-written reference), the default leaves e_t and the parameters as they were, the setting
reaches every agent, checkpoints of either kind load, and a bad value is one line."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.encoders import ObservationCodec

SPACE = gym.spaces.Dict(
    {
        "image": gym.spaces.Box(0, 255, (12, 12, 3), "uint8"),
        "text": gym.spaces.MultiDiscrete([13] * 5),
    }
)


def _obs(codec: ObservationCodec, b: int = 6) -> dict:
    space = gym.vector.utils.batch_space(SPACE, b)
    space.seed(0)
    return codec.to_tensors(space.sample(), torch.device("cpu"))


def test_layer_norm_per_modality_against_a_reference():
    torch.manual_seed(0)
    codec = ObservationCodec(SPACE, image_channels=4, enc_dim=8, norm="layer")
    with torch.no_grad():  # a gain and bias away from the identity, per modality
        for ln in codec.norms.values():
            ln.weight.uniform_(0.5, 2.0)
            ln.bias.uniform_(-1.0, 1.0)
    obs = _obs(codec)
    e = codec.encode(obs)
    assert e.shape == (6, 16)
    parts = []
    for (key, m), ln in zip(codec.items(), codec.norms.values()):
        x = m.encoder(obs[key])
        rows = []
        for row in x:  # by hand: (x - mean) / sqrt(var + eps) * gain + bias, row by row
            mean = sum(row) / len(row)
            var = sum((v - mean) ** 2 for v in row) / len(row)
            rows.append(torch.stack([(v - mean) / (var + ln.eps) ** 0.5 for v in row]))
        parts.append(torch.stack(rows) * ln.weight + ln.bias)
    torch.testing.assert_close(e, torch.cat(parts, -1), rtol=1e-5, atol=1e-5)


def test_every_kind_enters_at_a_like_scale():
    """The point of the setting: a kind whose encoder output is tiny still enters e_t at unit
    scale (with the LayerNorm at its initial gain 1 and bias 0)."""
    torch.manual_seed(0)
    plain = ObservationCodec(SPACE, image_channels=4, enc_dim=8)
    normed = ObservationCodec(SPACE, image_channels=4, enc_dim=8, norm="layer")
    normed.modalities.load_state_dict(plain.modalities.state_dict())
    for codec in (plain, normed):  # the text encoder's output shrinks, as on InstructedGoal
        codec.modality("text").encoder.register_forward_hook(lambda mod, inp, out: out * 0.2)
    obs = _obs(plain)
    with torch.no_grad():
        image = plain.encode(obs)[:, :8].pow(2).mean().sqrt()
        small = plain.encode(obs)[:, 8:].pow(2).mean().sqrt()
        unit = normed.encode(obs)[:, 8:].pow(2).mean().sqrt()
        image_normed = normed.encode(obs)[:, :8].pow(2).mean().sqrt()
    assert small < 0.05 and float(unit) == pytest.approx(1.0, abs=0.05)
    assert float(image_normed) == pytest.approx(1.0, abs=0.05) and image > 0


def test_default_keeps_e_t_and_the_parameters():
    torch.manual_seed(0)
    plain = ObservationCodec(SPACE, image_channels=4, enc_dim=8)
    assert plain.norms is None
    assert not any("norms" in k for k in plain.state_dict())
    assert make_config("small").encoder_norm == LEGACY_SETTINGS["encoder_norm"] == "none"


@pytest.mark.parametrize("agent", ["merlin", "rl-mem", "rl-lstm"])
def test_every_agent_gets_it_and_gradients_reach_the_gain(agent):
    cfg = make_config(
        "small", agent=agent, encoder_norm="layer", z_dim=8, enc_dim=8, image_channels=4,
        mlp_hidden=16, mbp_hidden=16, policy_hidden=16, memory_rows=4,
    )  # fmt: skip
    model = Agent(SPACE, gym.spaces.Discrete(3), cfg)
    norms = model.mbp.codec.norms
    assert norms is not None and len(norms) == 2
    obs = _obs(model.mbp.codec, b=2)
    out, _ = model.step(obs, model.initial_state(2))
    out.z.sum().backward()  # z_t is a function of e_t in every agent
    assert all(
        ln.weight.grad is not None and ln.weight.grad.abs().sum() > 0 for ln in norms.values()
    )


def test_bad_value_is_one_line():
    with pytest.raises(
        ConfigError, match="--encoder-norm 'batch' is not known; allowed: none, layer"
    ):
        make_config("small", encoder_norm="batch")
