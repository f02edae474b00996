"""ActiveVisualMatch: the cue starts out of view and has the target colour, the final room's
squares (distinct colours, one match, never adjacent), rewards for the match / another square /
a timeout, the cue does nothing in phase 1, colours uniform over the palette, knob validation."""

from __future__ import annotations

import numpy as np
import pytest

from merlin_rl.envs.active_visual_match import ActiveVisualMatchCore
from merlin_rl.envs.gridworld import COLOUR0, FLOOR, PALETTE, VIEW_RADIUS, WALL

UP, DOWN, LEFT, RIGHT = range(4)


def _new(b: int = 1, **knobs) -> ActiveVisualMatchCore:
    core = ActiveVisualMatchCore(b, **knobs)
    core.rng.seed(np.arange(b) + 200)
    core.reset(np.ones(b, bool))
    return core


def _step(core: ActiveVisualMatchCore, a: int) -> tuple[float, bool, bool]:
    r, te, tr = core.step(np.array([a]), np.ones(1, bool))
    return float(r[0]), bool(te[0]), bool(tr[0])


def _to_final_room(core: ActiveVisualMatchCore) -> None:
    for _ in range(core.knobs["explore_steps"] + core.knobs["distractor_steps"]):
        _step(core, UP)
    assert core.phase[0] == 2 and core.pos[0] == core.start


def _place(core: ActiveVisualMatchCore, right: int, down: int) -> None:
    """Final room of copy 0: ``right`` colour code right of the start, ``down`` below it."""
    room = core.rooms[0, 2].reshape(-1)
    room[room > WALL] = FLOOR
    room[core.start + 1] = right
    room[core.start + core.p] = down


def test_new_episodes_layout() -> None:
    b = 400
    core = _new(b)
    p, k = core.p, core.num_colours
    rooms = core.rooms.reshape(b, 3, -1)
    cue = rooms[:, 0] >= COLOUR0
    assert (cue.sum(1) == 1).all()
    cue_cell = np.argmax(cue, 1)
    np.testing.assert_array_equal(rooms[np.arange(b), 0, cue_cell], core.target)
    cy, cx = np.divmod(cue_cell, p)
    sy, sx = divmod(core.start, p)
    assert (np.maximum(abs(cy - sy), abs(cx - sx)) > VIEW_RADIUS).all()  # not in view at first
    squares = rooms[:, 2] >= COLOUR0
    assert (squares.sum(1) == k).all()
    for i in range(b):
        cells = np.nonzero(squares[i])[0]
        colours = rooms[i, 2, cells]
        assert len(set(colours.tolist())) == k and core.target[i] in colours
        ys, xs = np.divmod(cells, p)
        dist = abs(ys[:, None] - ys) + abs(xs[:, None] - xs)
        assert (dist + 2 * np.eye(k, dtype=int) >= 2).all()  # never next to each other
        assert core.start not in cells


def test_first_view_hides_the_cue_and_the_oracle_finds_it() -> None:
    b = 64
    core = _new(b)
    img = core.observation()["image"]
    colour = PALETTE[core.target - COLOUR0]  # [B, 3]
    seen = (img == colour[:, None, None]).all(-1).any((1, 2))
    assert not seen.any()
    for _ in range(core.knobs["explore_steps"]):
        core.step(core.oracle(), np.ones(b, bool))
        img = core.observation()["image"]
        seen |= (img == colour[:, None, None]).all(-1).any((1, 2)) & (core.phase == 0)
    assert seen.all()


def test_match_pays_and_ends() -> None:
    core = _new()
    target = int(core.target[0])
    other = COLOUR0 + (target - COLOUR0 + 1) % len(PALETTE)
    _to_final_room(core)
    _place(core, target, other)
    assert _step(core, RIGHT) == (5.0, True, False)


def test_other_square_ends_with_nothing() -> None:
    core = _new()
    target = int(core.target[0])
    other = COLOUR0 + (target - COLOUR0 + 1) % len(PALETTE)
    _to_final_room(core)
    _place(core, target, other)
    assert _step(core, DOWN) == (0.0, True, False)


def test_timeout_ends_with_nothing() -> None:
    core = _new(final_steps=5)
    _to_final_room(core)
    for _ in range(4):
        assert _step(core, UP) == (0.0, False, False)
    assert _step(core, UP) == (0.0, True, False)


def test_the_cue_does_nothing_in_the_first_room() -> None:
    core = _new()
    room = core.rooms[0, 0].reshape(-1)
    room[room >= COLOUR0] = FLOOR
    room[core.start + 1] = core.target[0]  # the cue right of the start
    assert _step(core, RIGHT) == (0.0, False, False)
    assert core.pos[0] == core.start + 1 and room[core.start + 1] == core.target[0]


def test_colours_are_uniform_over_the_palette() -> None:
    b = 4000
    core = _new(b)
    freq = np.bincount(core.target - COLOUR0, minlength=len(PALETTE)) / b
    assert np.abs(freq - 1 / len(PALETTE)).max() < 0.03


@pytest.mark.parametrize(
    "knobs, name",
    [
        (dict(num_colours=1), "num_colours"),
        (dict(num_colours=9), "num_colours"),
        (dict(room_size=3, num_colours=5), "num_colours"),
        (dict(room_size=4, num_colours=4), "num_colours"),
        (dict(room_size=1), "room_size"),
        (dict(final_steps=0), "final_steps"),
        (dict(num_apples=50), "num_apples"),
        (dict(apple_reward=-1.0), "apple_reward"),
        (dict(image_size=300), "image_size"),
    ],
)
def test_bad_knobs_are_clear_errors(knobs, name) -> None:
    with pytest.raises(ValueError, match=f"ActiveVisualMatch: {name} must be"):
        ActiveVisualMatchCore(1, **knobs)


def test_show_cue_adds_the_cue_colour_to_every_observation():
    """show_cue (the memoryless control): "cue" holds the index in PALETTE of the colour the
    final room's match has (the cue square's), at every step and after every reset; the image is
    the one without the knob; the default observation has no "cue"; the knob is checked."""
    from merlin_rl.envs.active_visual_match import ActiveVisualMatchVectorEnv

    b = 4
    shown = ActiveVisualMatchVectorEnv(num_envs=b, show_cue=True, distractor_steps=2)
    plain = ActiveVisualMatchVectorEnv(num_envs=b, distractor_steps=2)
    assert "cue" not in plain.single_observation_space.spaces
    assert shown.single_observation_space["cue"].n == len(PALETTE)
    o, _ = shown.reset(seed=3)
    p, _ = plain.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):  # more than one episode of every copy
        core = shown.core
        for i in range(b):
            room = core._current()[i] if core.phase[i] == 2 else None
            assert o["cue"][i] == core.target[i] - COLOUR0
            if room is not None:  # the final room holds a square of that colour
                assert (room == COLOUR0 + o["cue"][i]).any()
        np.testing.assert_array_equal(o["image"], p["image"])
        a = rng.integers(0, 4, b)
        o, *_ = shown.step(a)
        p, *_ = plain.step(a)
    with pytest.raises(ValueError, match="show_cue"):
        ActiveVisualMatchCore(1, show_cue=1)
