"""VisuomotorMapping: trial structure and rewards, feedback frames, a fixed mapping that can be
learned from reward, the observation against a pixel-by-pixel reference, and knob validation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import merlin_rl.envs  # noqa: F401  (registers merlin_rl/VisuomotorMapping-v0)
from merlin_rl.envs.visuomotor_mapping import (
    BLACK,
    COLOURS,
    FRAME_CORRECT,
    FRAME_GREY,
    FRAME_WRONG,
    GRID,
    PALETTE,
    VisuomotorMappingCore,
    VisuomotorMappingEnv,
    VisuomotorMappingVectorEnv,
)

ENV_ID = "merlin_rl/VisuomotorMapping-v0"


def frame_colour(image: np.ndarray) -> int:
    """Index in COLOURS of the frame colour (the top-left pixel), checking the whole frame."""
    s = image.shape[0]
    bw = max(1, s // 8)
    frame = np.concatenate(
        [
            image[:bw].reshape(-1, 3),
            image[-bw:].reshape(-1, 3),
            image[:, :bw].reshape(-1, 3),
            image[:, -bw:].reshape(-1, 3),
        ]
    )
    assert (frame == frame[0]).all()
    (idx,) = np.flatnonzero((COLOURS == frame[0]).all(1))
    return int(idx)


def inner(image: np.ndarray) -> bytes:
    bw = max(1, image.shape[0] // 8)
    return image[bw:-bw, bw:-bw].tobytes()


@pytest.mark.parametrize("trials,feedback", [(32, 1), (5, 0), (4, 3)])
def test_oracle_is_rewarded_on_every_response_step_only(trials: int, feedback: int):
    env = VisuomotorMappingEnv(trials=trials, feedback_steps=feedback)
    obs, _ = env.reset(seed=trials)
    core = env.core
    rewards, frames = [], [frame_colour(obs["image"])]
    term = False
    while not term:
        obs, r, term, trunc, _ = env.step(int(core.oracle()[0]))
        assert not trunc
        rewards.append(r)
        frames.append(frame_colour(obs["image"]))
    period = 1 + feedback
    assert len(rewards) == (trials - 1) * period + 1
    assert rewards == [1.0 if t % period == 0 else 0.0 for t in range(len(rewards))]
    expected = [FRAME_GREY if t % period == 0 else FRAME_CORRECT for t in range(len(rewards))]
    assert frames == expected + [BLACK]  # black after the end
    assert (obs["image"] == 0).all()


def test_wrong_response_gets_nothing_and_a_red_frame_and_feedback_steps_ignore_actions():
    env = VisuomotorMappingEnv(trials=20, feedback_steps=2)
    obs, _ = env.reset(seed=3)
    core = env.core
    for _ in range(20):
        shown = inner(obs["image"])
        correct = int(core.oracle()[0])
        obs, r, term, _, _ = env.step((correct + 1) % 4)  # wrong
        assert r == 0.0
        if term:
            break
        for _ in range(2):  # feedback: same image, red frame, even the right action pays nothing
            assert inner(obs["image"]) == shown and frame_colour(obs["image"]) == FRAME_WRONG
            obs, r, term, _, _ = env.step(correct)
            assert r == 0.0 and not term
        assert frame_colour(obs["image"]) == FRAME_GREY
    assert term


def test_mapping_is_fixed_in_an_episode_and_learnable_from_reward():
    """A learner that sees only images and rewards (try untried actions on an image until one is
    rewarded, then repeat it) never errs again on an image once rewarded, loses at most
    num_actions - 1 trials per image, and averages about the documented 26 of 32."""
    env = VisuomotorMappingEnv()
    returns = []
    for seed in range(100):
        obs, _ = env.reset(seed=seed)
        known: dict[bytes, int] = {}
        tried: dict[bytes, list[int]] = {}
        total, term, errors_after = 0.0, False, 0
        while not term:
            key = inner(obs["image"])
            if key in known:
                a = known[key]
            else:
                a = len(tried.setdefault(key, []))
                tried[key].append(a)
            obs, r, term, _, _ = env.step(a)
            total += r
            if key in known and r == 0.0:
                errors_after += 1
            if r == 1.0:
                known[key] = a
            if not term:
                obs, *_ = env.step(0)  # the feedback step
        assert errors_after == 0
        assert all(len(v) <= 4 for v in tried.values()) and len(tried) <= 4
        assert total >= 32 - 4 * 3
        returns.append(total)
    assert abs(np.mean(returns) - 26.0) < 0.75, np.mean(returns)  # 3 standard errors


def test_images_and_mapping_vary_between_episodes_and_images_are_uniform():
    core = VisuomotorMappingCore(64)
    core.rng.seed(np.arange(64))
    core.reset(np.ones(64, bool))
    assert len({core.patterns[i].tobytes() for i in range(64)}) == 64
    assert len({core.mapping[i].tobytes() for i in range(64)}) > 30
    # distinct images within an episode
    assert all(len({p.tobytes() for p in core.patterns[i]}) == 4 for i in range(64))
    counts = np.zeros(4)
    for _ in range(200):
        core.step(core.oracle(), np.ones(64, bool))
        counts += np.bincount(core.shown, minlength=4)
        done = core.t >= core.length
        core.reset(done)
    assert counts.min() > 0.2 * counts.sum() and counts.max() < 0.3 * counts.sum()


def reference_image(core: VisuomotorMappingCore, i: int) -> np.ndarray:
    """The observation of copy ``i`` drawn pixel by pixel from the docstring's description."""
    s = core.image_size
    bw = max(1, s // 8)
    inside = s - 2 * bw
    img = np.zeros((s, s, 3), np.uint8)
    if core.t[i] >= core.length:
        return img
    if core.t[i] % core.period == 0:
        frame = COLOURS[FRAME_GREY]
    else:
        frame = COLOURS[FRAME_CORRECT if core.correct[i] else FRAME_WRONG]
    for y in range(s):
        for x in range(s):
            if min(y, x) < bw or max(y, x) >= s - bw:
                img[y, x] = frame
            else:
                by, bx = (y - bw) * GRID // inside, (x - bw) * GRID // inside
                img[y, x] = PALETTE[core.patterns[i, core.shown[i], by * GRID + bx]]
    return img


@pytest.mark.parametrize("image_size", [16, 6, 23, 64])
def test_observation_equals_pixel_reference(image_size: int):
    b = 3
    env = VisuomotorMappingVectorEnv(num_envs=b, trials=3, image_size=image_size)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(12):
        for i in range(b):
            np.testing.assert_array_equal(obs["image"][i], reference_image(env.core, i))
        obs, *_ = env.step(rng.integers(4, size=b))


def test_set_state_into_a_fresh_env_redraws_the_images():
    a = VisuomotorMappingVectorEnv(num_envs=3)
    a.reset(seed=1)
    acts = np.random.default_rng(2).integers(4, size=(90, 3))
    for x in acts[:20]:
        a.step(x)
    b = VisuomotorMappingVectorEnv(num_envs=3)
    b.reset(seed=50)
    b.set_state(a.get_state())
    np.testing.assert_array_equal(a.core.observation()["image"], b.core.observation()["image"])
    for x in acts[20:]:
        oa, ra, ta, *_ = a.step(x)
        ob, rb, tb, *_ = b.step(x)
        np.testing.assert_array_equal(oa["image"], ob["image"])
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(ta, tb)


def test_render_shows_view_and_mapping():
    env = gym.make(ENV_ID, render_mode="rgb_array", num_images=9, num_actions=16)
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[0] >= 96 and frame.shape[2] == 3


@pytest.mark.parametrize(
    "knobs,word",
    [
        ({"num_images": 0}, "num_images"),
        ({"num_images": 65}, "num_images"),
        ({"num_actions": 1}, "num_actions"),
        ({"num_actions": 17}, "num_actions"),
        ({"trials": 0}, "trials"),
        ({"feedback_steps": -1}, "feedback_steps"),
        ({"image_size": 5}, "image_size"),
        ({"trials": 3.5}, "trials"),
    ],
)
def test_bad_knobs_are_clear_errors(knobs: dict, word: str):
    with pytest.raises(ValueError, match=word):
        VisuomotorMappingEnv(**knobs)


def _ceiling_script():
    from scripts import load_script

    return load_script("experiments/visuomotor_ceiling.py")


def test_perfect_memory_discoverer_loses_the_expected_trials():
    """experiments/visuomotor_ceiling.py: with one image and two actions the discoverer loses one
    trial half the time (expected trials - 0.5), never more than one, and never fewer than zero;
    with four images and four actions it stays within (num_actions - 1) * num_images of the top."""
    play = _ceiling_script().play
    r = play(400, 0, num_images=1, num_actions=2, trials=5)
    assert set(np.unique(r)) == {4.0, 5.0}
    assert abs(r.mean() - 4.5) < 0.1
    r = play(50, 1, trials=12)
    assert r.max() <= 12 and r.min() >= 12 - 3 * 4 and r.mean() < 12 - 1
