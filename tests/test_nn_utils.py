"""Shared building blocks (nn_utils): the deep LSTM's fused sequence path against stepping it."""

from __future__ import annotations

import pytest
import torch

from merlin_rl.nn_utils import DeepLSTM

torch.set_num_threads(1)


def stepped(lstm: DeepLSTM, x, h, c, starts):
    """The naive reference: one :meth:`DeepLSTM.forward` per step, zeroing the state of the
    environments whose episode starts at that step."""
    outs = []
    for t in range(x.shape[0]):
        keep = (~starts[t]).to(h.dtype).view(-1, 1, 1)
        h, c = h * keep, c * keep
        out, h, c = lstm(x[t], h, c)
        outs.append(out)
    return torch.stack(outs), h, c


@pytest.mark.parametrize("pattern", ["none", "synchronous", "scattered", "first"])
def test_sequence_equals_stepping_with_resets(pattern):
    """DeepLSTM.sequence gives the stepped outputs, final state and gradients (to the inputs,
    the start state and every weight) to 1e-5, with episode starts at no step, at one step for
    all environments, at scattered (step, environment) pairs and at step 0."""
    torch.manual_seed(0)
    T, B, inp, hid = 9, 5, 6, 7
    lstm = DeepLSTM(inp, hid, 2)
    starts = torch.zeros(T, B, dtype=torch.bool)
    if pattern == "synchronous":
        starts[4] = True
    elif pattern == "scattered":
        starts[2, 1] = starts[5, 3] = starts[5, 0] = starts[8, 4] = True
    elif pattern == "first":
        starts[0, 2] = True
    x = torch.randn(T, B, inp, requires_grad=True)
    h0 = torch.randn(B, 2, hid, requires_grad=True)
    c0 = torch.randn(B, 2, hid, requires_grad=True)
    results = []
    for fn in (stepped, lambda *a: a[0].sequence(*a[1:])):
        lstm.zero_grad()
        x.grad = h0.grad = c0.grad = None
        out, h, c = fn(lstm, x, h0, c0, starts)
        w = torch.linspace(-1, 1, out.numel()).view_as(out)  # a loss that weighs every output
        ((out * w).sum() + h.pow(2).sum() + c.sum()).backward()
        grads = [x.grad, h0.grad, c0.grad] + [p.grad.clone() for p in lstm.parameters()]
        results.append((out.detach(), h.detach(), c.detach(), grads))
    (o1, h1, c1, g1), (o2, h2, c2, g2) = results
    assert o2.shape == (T, B, 2 * hid)
    torch.testing.assert_close(o2, o1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(h2, h1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c2, c1, atol=1e-5, rtol=1e-5)
    for a, b in zip(g2, g1):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if pattern != "none":  # the reset matters: without it the outputs differ
        out_noreset, _, _ = lstm.sequence(x, h0, c0, torch.zeros_like(starts))
        assert not torch.allclose(out_noreset.detach(), o1, atol=1e-4)


@pytest.mark.parametrize("beta0", [0.01, 1, 5.0, 49.9, 100.0, 1000.0])
def test_init_read_strength_gives_softplus_of_the_bias_beta0_at_any_scale(beta0):
    """softplus(bias) = beta0 for every head, also where float32's expm1 overflows (beta0 > 88,
    which used to give an infinite bias) and for an integer beta0."""
    from merlin_rl.nn_utils import init_read_strength

    layer = torch.nn.Linear(2, 2 * (3 + 1))
    init_read_strength(layer, 2, 3, beta0)
    got = torch.nn.functional.softplus(layer.bias.view(2, 4)[:, -1].double())
    assert torch.isfinite(layer.bias).all()
    torch.testing.assert_close(
        got, torch.full((2,), float(beta0), dtype=torch.float64), rtol=1e-5, atol=1e-6
    )


def test_read_strength_init_beyond_its_range_is_one_clear_error():
    from merlin_rl.config import ConfigError, make_config

    for bad in (10**30, 1e4, float("inf"), 0):
        with pytest.raises(ConfigError, match="--read-strength-init must"):
            make_config("small", read_strength_init=bad)
    assert make_config("small", read_strength_init=1000).read_strength_init == 1000
