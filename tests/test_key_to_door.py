"""KeyToDoor: the layout of new episodes, the key, apples, the door (locked without the key),
phase changes after exactly their number of steps, the end of the episode, knob validation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from merlin_rl.envs.gridworld import APPLE, DOOR, FLOOR, KEY, WALL
from merlin_rl.envs.key_to_door import KeyToDoorCore

UP, DOWN, LEFT, RIGHT = range(4)


def _new(b: int = 1, **knobs) -> KeyToDoorCore:
    core = KeyToDoorCore(b, **knobs)
    core.rng.seed(np.arange(b) + 100)
    core.reset(np.ones(b, bool))
    return core


def _scripted(core: KeyToDoorCore, key: bool = True) -> None:
    """Copy 0: key right of the start (or none), one apple right of the start, door right of
    the start."""
    flat = core.rooms[0].reshape(3, -1)
    flat[flat > WALL] = FLOOR
    right = core.start + 1
    if key:
        flat[0, right] = KEY
    flat[1, right] = APPLE
    flat[2, right] = DOOR


def _step(core: KeyToDoorCore, a: int) -> tuple[float, bool, bool]:
    r, te, tr = core.step(np.array([a]), np.ones(1, bool))
    return float(r[0]), bool(te[0]), bool(tr[0])


def test_new_episodes_hold_one_key_apples_and_one_door() -> None:
    b = 300
    core = _new(b)
    rooms = core.rooms.reshape(b, 3, -1)
    assert ((rooms[:, 0] == KEY).sum(1) == 1).all()
    assert ((rooms[:, 1] == APPLE).sum(1) == core.num_apples).all()
    assert ((rooms[:, 2] == DOOR).sum(1) == 1).all()
    assert (rooms[:, :, core.start] == FLOOR).all()  # nothing where the agent starts
    assert (rooms[:, 0] != WALL).sum(1).min() == 49 and (core.rooms[:, :, :2] == WALL).all()
    assert (core.pos == core.start).all() and (core.phase == 0).all() and not core.has_key.any()
    # the key is spread over the room (not always in the same few cells)
    assert len(np.unique(np.argmax(rooms[:, 0] == KEY, 1))) >= 40


def test_key_apple_and_door_with_exact_phase_timing() -> None:
    core = _new()
    _scripted(core)
    assert _step(core, RIGHT) == (0.0, False, False)  # picks the key up: no reward
    assert core.has_key[0] and (core.rooms[0, 0] == KEY).sum() == 0
    for t in range(2, core.knobs["explore_steps"] + 1):
        assert core.phase[0] == 0
        assert _step(core, UP) == (0.0, False, False)
    assert core.phase[0] == 1 and core.t[0] == 0 and core.pos[0] == core.start  # teleported
    assert _step(core, RIGHT) == (1.0, False, False)  # the apple
    assert (core.rooms[0, 1] == APPLE).sum() == 0
    assert _step(core, LEFT) == (0.0, False, False)
    assert _step(core, RIGHT) == (0.0, False, False)  # eaten: nothing left
    for t in range(4, core.knobs["distractor_steps"] + 1):
        assert core.phase[0] == 1
        _step(core, DOWN)
    assert core.phase[0] == 2 and core.pos[0] == core.start
    assert _step(core, RIGHT) == (5.0, True, False)  # opens the door: final reward, the end


def test_locked_door_and_timeout() -> None:
    core = _new(final_steps=7)
    _scripted(core, key=False)
    for _ in range(core.knobs["explore_steps"] + core.knobs["distractor_steps"]):
        _step(core, UP)
    assert core.phase[0] == 2
    for t in range(1, 7):
        assert _step(core, RIGHT) == (0.0, False, False), t  # locked: blocked like a wall
        assert core.pos[0] == core.start
    assert _step(core, RIGHT) == (0.0, True, False)  # the final phase times out: terminated


def test_walls_stop_the_agent() -> None:
    core = _new()
    for _ in range(core.n // 2):
        _step(core, LEFT)
    left = int(core.pos[0])
    assert _step(core, LEFT)[0] == 0.0 and core.pos[0] == left  # against the wall
    assert core.rooms[0, 0].reshape(-1)[left - 1] == WALL


def test_gym_episode_length_and_return_bounds() -> None:
    env = gym.make("merlin_rl/KeyToDoor-v0")
    obs, _ = env.reset(seed=4)
    assert obs["image"].shape == (20, 20, 3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        total, steps, done = 0.0, 0, False
        while not done:
            _, r, te, tr, _ = env.step(int(rng.integers(4)))
            total, steps, done = total + r, steps + 1, te or tr
            assert not tr
        assert steps <= 75 and 0.0 <= total <= 9.0
        env.reset()


@pytest.mark.parametrize(
    "knobs, name",
    [
        (dict(room_size=2), "room_size"),
        (dict(room_size=16), "room_size"),
        (dict(room_size=7.0), "room_size"),
        (dict(explore_steps=0), "explore_steps"),
        (dict(distractor_steps=-3), "distractor_steps"),
        (dict(final_steps=True), "final_steps"),
        (dict(num_apples=49), "num_apples"),
        (dict(num_apples=-1), "num_apples"),
        (dict(apple_reward=0), "apple_reward"),
        (dict(final_reward=float("nan")), "final_reward"),
        (dict(final_reward="5"), "final_reward"),
        (dict(image_size=4), "image_size"),
    ],
)
def test_bad_knobs_are_clear_errors(knobs, name) -> None:
    with pytest.raises(ValueError, match=f"KeyToDoor: {name} must be"):
        KeyToDoorCore(1, **knobs)
