"""MemoryGame: the concentration rules, the local view against a pixel-by-pixel reference, the
vectorised step against a plain one-copy reference, the oracle's bound, and knob validation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import merlin_rl.envs  # noqa: F401  (registers merlin_rl/MemoryGame-v0)
from merlin_rl.envs.memory_game import (
    CARD_BACK,
    COLOURS,
    DOWN,
    FACE_DOWN,
    FACE_UP,
    FACE_UP_BG,
    FLIP,
    LEFT,
    MATCHED,
    MATCHED_BG,
    NUM_FACES,
    RIGHT,
    UP,
    WALL,
    MemoryGameCore,
    MemoryGameEnv,
    MemoryGameVectorEnv,
    _shape_mask,
)

ENV_ID = "merlin_rl/MemoryGame-v0"


def core_with_board(faces: list[list[int]], row: int = 0, col: int = 0, **knobs) -> MemoryGameCore:
    """A one-copy core with a hand-made board (face ids), all cards face down."""
    face = np.array(faces)
    core = MemoryGameCore(1, rows=face.shape[0], cols=face.shape[1], **knobs)
    core.rng.seed(np.array([0]))
    core.reset(np.ones(1, bool))
    core.face[0] = face.ravel()
    core.status[:] = FACE_DOWN
    core.row[0], core.col[0] = row, col
    return core


def play(core: MemoryGameCore, *actions: int) -> list[tuple[float, bool, bool]]:
    out = []
    for a in actions:
        r, te, tr = core.step(np.array([a]), np.ones(1, bool))
        out.append((float(r[0]), bool(te[0]), bool(tr[0])))
    return out


# ------------------------------------------------------------------------------ rules
def test_match_gives_one_and_both_stay_up_as_matched():
    core = core_with_board([[3, 5], [5, 3]])
    assert play(core, FLIP) == [(0.0, False, False)]
    assert core.status[0].tolist() == [FACE_UP, FACE_DOWN, FACE_DOWN, FACE_DOWN]
    assert play(core, DOWN, RIGHT) == [(0.0, False, False)] * 2
    assert play(core, FLIP) == [(1.0, False, False)]  # (1, 1) holds the twin of (0, 0)
    assert core.status[0].tolist() == [MATCHED, FACE_DOWN, FACE_DOWN, MATCHED]
    play(core, LEFT)
    assert core.status[0].tolist() == [MATCHED, FACE_DOWN, FACE_DOWN, MATCHED]  # stay up


def test_mismatch_is_shown_one_step_then_turns_face_down():
    core = core_with_board([[3, 5], [5, 3]])
    assert play(core, FLIP, RIGHT, FLIP) == [(0.0, False, False)] * 3
    assert core.status[0].tolist() == [FACE_UP, FACE_UP, FACE_DOWN, FACE_DOWN]  # both shown
    obs = core.observation()["image"][0]
    assert play(core, DOWN) == [(0.0, False, False)]
    assert core.status[0].tolist() == [FACE_DOWN] * 4
    assert not (obs == core.observation()["image"][0]).all()
    # the hiding happens whatever the next action, also a flip (which then flips anew)
    core = core_with_board([[3, 5], [5, 3]])
    play(core, FLIP, RIGHT, FLIP, FLIP)
    assert core.status[0].tolist() == [FACE_DOWN, FACE_UP, FACE_DOWN, FACE_DOWN]


def test_flipping_a_face_up_or_matched_card_does_nothing():
    core = core_with_board([[3, 3], [5, 5]])
    play(core, FLIP, FLIP)
    assert core.status[0].tolist() == [FACE_UP, FACE_DOWN, FACE_DOWN, FACE_DOWN]
    assert play(core, RIGHT, FLIP) == [(0.0, False, False), (1.0, False, False)]
    assert play(core, FLIP, LEFT, FLIP) == [(0.0, False, False)] * 3
    assert core.status[0].tolist() == [MATCHED, MATCHED, FACE_DOWN, FACE_DOWN]


def test_moves_stop_at_the_edge():
    core = core_with_board([[0, 0, 1], [1, 2, 2]], row=0, col=0)
    play(core, UP, LEFT)
    assert (core.row[0], core.col[0]) == (0, 0)
    play(core, RIGHT, RIGHT, RIGHT, DOWN, DOWN)
    assert (core.row[0], core.col[0]) == (1, 2)


def test_terminated_when_all_matched_and_truncated_at_max_steps():
    core = core_with_board([[3, 3], [5, 5]], max_steps=50)
    steps = play(core, FLIP, RIGHT, FLIP, DOWN, FLIP, LEFT)
    assert steps[-1] == (0.0, False, False)
    assert play(core, FLIP) == [(1.0, True, False)]
    core = core_with_board([[3, 3], [5, 5]], max_steps=4)
    assert play(core, RIGHT, LEFT, RIGHT, LEFT) == [(0.0, False, False)] * 3 + [(0.0, False, True)]
    # matching the last pair on the last allowed step ends the episode as terminated only
    core = core_with_board([[3, 3]], max_steps=3)
    assert play(core, FLIP, RIGHT, FLIP) == [(0.0, False, False)] * 2 + [(1.0, True, False)]


def test_episode_via_gym_make_with_oracle_and_reset_layout():
    env = gym.make(ENV_ID)
    for seed in range(5):
        env.reset(seed=seed)
        core = env.unwrapped.core
        counts = np.bincount(core.face[0], minlength=NUM_FACES)
        assert sorted(counts[counts > 0].tolist()) == [2] * core.pairs  # each face twice
        total, done, steps = 0.0, False, 0
        while not done:
            _, r, term, trunc, _ = env.step(int(core.oracle()[0]))
            total, done, steps = total + r, term or trunc, steps + 1
            assert not trunc
        assert total == core.pairs == 6
    faces = []
    for s in range(6):
        env.reset(seed=s)
        faces.append(tuple(env.unwrapped.core.face[0]))
    assert len(set(faces)) == 6  # the layout changes with the seed


@pytest.mark.parametrize("rows,cols", [(1, 2), (2, 2), (1, 6), (3, 4), (5, 6), (6, 8)])
def test_oracle_matches_all_pairs_within_the_documented_bound(rows: int, cols: int):
    class Core(MemoryGameCore):
        _estimate_random = False  # (skip estimating the random return: not needed here)

    class Env(MemoryGameVectorEnv):
        core_cls = Core

    bound = rows * cols // 2 * (2 * (rows + cols - 2) + 2)
    env = Env(num_envs=8, rows=rows, cols=cols, max_steps=bound)  # never truncated
    env.reset(seed=rows * 10 + cols)
    core = env.core
    total, ended = np.zeros(8), np.zeros(8, bool)
    for _ in range(bound):
        _, r, term, trunc, _ = env.step(core.oracle())
        total += np.where(ended, 0.0, r)  # NEXT_STEP: ended copies are reset, not counted
        assert not trunc.any()
        ended |= term
        if ended.all():
            break
    assert ended.all(), f"oracle not done within {bound} steps"
    assert total.tolist() == [core.pairs] * 8


# ------------------------------------------------------------------------------ references
def reference_step(face, status, row, col, t, action, rows, cols, max_steps):
    """One plain-Python step of one copy (the rules as written in the docstring)."""
    status = list(status)
    up = [i for i, s in enumerate(status) if s == FACE_UP]
    if len(up) == 2:
        for i in up:
            status[i] = FACE_DOWN
    if action == UP:
        row = max(row - 1, 0)
    elif action == DOWN:
        row = min(row + 1, rows - 1)
    elif action == LEFT:
        col = max(col - 1, 0)
    elif action == RIGHT:
        col = min(col + 1, cols - 1)
    reward = 0.0
    here = row * cols + col
    if action == FLIP and status[here] == FACE_DOWN:
        status[here] = FACE_UP
        up = [i for i, s in enumerate(status) if s == FACE_UP]
        if len(up) == 2:
            other = up[0] if up[1] == here else up[1]
            if face[other] == face[here]:
                status[here] = status[other] = MATCHED
                reward = 1.0
    t += 1
    term = all(s == MATCHED for s in status)
    trunc = not term and t >= max_steps
    return status, row, col, t, reward, term, trunc


@pytest.mark.parametrize("rows,cols,max_steps", [(3, 4, 100), (2, 3, 40), (1, 4, 25)])
def test_vectorised_step_equals_plain_reference(rows: int, cols: int, max_steps: int):
    b = 8
    core = MemoryGameCore(b, rows=rows, cols=cols, max_steps=max_steps)
    core.rng.seed(np.arange(b) + 100)
    core.reset(np.ones(b, bool))
    rng = np.random.default_rng(3)
    ends = 0
    for _ in range(400):
        # a random subset of copies steps (the mask), biased to flips so pairs get matched
        acts = np.where(rng.random(b) < 0.4, FLIP, rng.integers(4, size=b))
        mask = rng.random(b) < 0.8
        before = [
            (
                core.face[i].tolist(),
                core.status[i].tolist(),
                int(core.row[i]),
                int(core.col[i]),
                int(core.t[i]),
            )
            for i in range(b)
        ]
        reward, term, trunc = core.step(acts, mask)
        for i in range(b):
            f, s, r, c, t = before[i]
            if mask[i]:
                s, r, c, t, rew, te, tr = reference_step(
                    f, s, r, c, t, int(acts[i]), rows, cols, max_steps
                )
            else:
                rew, te, tr = 0.0, False, False
            assert core.status[i].tolist() == s
            assert (core.row[i], core.col[i], core.t[i]) == (r, c, t)
            assert (float(reward[i]), bool(term[i]), bool(trunc[i])) == (rew, te, tr)
        done = term | trunc
        ends += int(done.sum())
        if done.any():
            core.reset(done)
    assert ends > 0


def reference_view(core: MemoryGameCore, i: int) -> np.ndarray:
    """The observation of copy ``i`` drawn pixel by pixel from the rules in the docstring."""
    v, s = core.view, core.image_size
    img = np.zeros((s, s, 3), np.uint8)
    h = v // 2
    for y in range(s):
        for x in range(s):
            cy, cx = y * v // s, x * v // s
            y0, y1 = -(-cy * s // v), -(-(cy + 1) * s // v)  # the cell's first and end pixel
            x0, x1 = -(-cx * s // v), -(-(cx + 1) * s // v)
            assert y0 <= y < y1 and x0 <= x < x1
            r, c = core.row[i] + cy - h, core.col[i] + cx - h
            if (y == y0 and y1 - y0 >= 4) or (x == x0 and x1 - x0 >= 4):
                img[y, x] = WALL  # grid line
                continue
            if not (0 <= r < core.rows and 0 <= c < core.cols):
                img[y, x] = WALL
                continue
            cell = r * core.cols + c
            status, f = core.status[i, cell], core.face[i, cell]
            if status == FACE_DOWN:
                img[y, x] = CARD_BACK
                continue
            u, w = (x - x0 + 0.5) / (x1 - x0), (y - y0 + 0.5) / (y1 - y0)
            inside = _shape_mask(f // len(COLOURS), np.array(u), np.array(w))
            bg = FACE_UP_BG if status == FACE_UP else MATCHED_BG
            img[y, x] = COLOURS[f % len(COLOURS)] if inside else bg
    return img


@pytest.mark.parametrize("view,image_size", [(3, 24), (3, 20), (5, 17), (1, 6), (3, 3)])
def test_observation_equals_pixel_reference(view: int, image_size: int):
    b = 4
    env = MemoryGameVectorEnv(num_envs=b, view=view, image_size=image_size)
    env.reset(seed=5)
    core = env.core
    rng = np.random.default_rng(0)
    for step in range(60):
        obs, *_ = env.step(np.where(rng.random(b) < 0.5, FLIP, rng.integers(4, size=b)))
        if step % 15 == 14:
            for i in range(b):
                np.testing.assert_array_equal(obs["image"][i], reference_view(core, i))
    assert (core.status != FACE_DOWN).any()  # some faces were drawn


def test_walls_show_where_the_board_ends():
    core = core_with_board([[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]], row=0, col=0)
    img = core.observation()["image"][0]
    assert (img[:8] == WALL).all() and (img[:, :8] == WALL).all()  # top row, left column
    assert (img[9:16, 9:16] == CARD_BACK).all()
    core.row[0], core.col[0] = 1, 1
    img = core.observation()["image"][0]
    assert not (img[1:8, 1:8] == WALL).all()  # no wall in the middle of the board


def test_set_state_into_a_fresh_env_continues_exactly():
    a = MemoryGameVectorEnv(num_envs=3)
    a.reset(seed=1)
    acts = np.random.default_rng(2).integers(5, size=(80, 3))
    for x in acts[:30]:
        a.step(x)
    b = MemoryGameVectorEnv(num_envs=3)
    b.reset(seed=99)
    b.set_state(a.get_state())
    for x in acts[30:]:
        oa, ra, *_ = a.step(x)
        ob, rb, *_ = b.step(x)
        np.testing.assert_array_equal(oa["image"], ob["image"])
        np.testing.assert_array_equal(ra, rb)


def test_render_shows_board_and_view():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[0] >= 96 and frame.shape[2] == 3


# ------------------------------------------------------------------------------ knobs
@pytest.mark.parametrize(
    "knobs,word",
    [
        ({"rows": 0}, "rows"),
        ({"rows": 7}, "rows"),
        ({"cols": 9}, "cols"),
        ({"rows": 2.0}, "rows"),
        ({"rows": 3, "cols": 3}, "even"),
        ({"max_steps": 0}, "max_steps"),
        ({"view": 2}, "view"),
        ({"view": 11}, "view"),
        ({"view": 5, "image_size": 4}, "image_size"),
        ({"image_size": True}, "image_size"),
    ],
)
def test_bad_knobs_are_clear_errors(knobs: dict, word: str):
    with pytest.raises(ValueError, match=word):
        MemoryGameEnv(**knobs)


@pytest.mark.parametrize("image_size", [24, 64])
def test_all_faces_look_different(image_size: int):
    """Every face, face up and matched, the card back and the wall: all distinct tiles, and the
    shapes really differ (at least 4 pixels between any two tiles of the same colour)."""
    core = MemoryGameCore(1, image_size=image_size)
    tiles = core.painter.tiles[4]  # the centre cell's tile of every kind
    flat = tiles.reshape(len(tiles), -1, 3)
    for i in range(len(flat)):
        for j in range(i):
            differ = (flat[i] != flat[j]).any(-1).sum()
            assert differ >= 4, (i, j, differ)


def test_random_return_is_estimated_for_the_knobs_in_use():
    from merlin_rl.envs.memory_game import random_return

    assert abs(MemoryGameCore(1).random_return - 0.64) < 0.03  # documented default
    small = MemoryGameCore(2, rows=2, cols=2, max_steps=30, image_size=6).random_return
    assert small == random_return(2, 2, 30) and 0.0 < small < 2.0


def test_in_view_is_the_board_cells_the_view_shows():
    """MemoryGameCore.in_view against a loop over cells, and against the view's tiles: as many
    cells in view as tiles that are not wall."""
    from merlin_rl.envs.memory_game import K_WALL, MemoryGameCore

    core = MemoryGameCore(16, rows=3, cols=4, view=3)
    core.rng.seed(np.arange(16))
    core.reset(np.ones(16, bool))
    rng = np.random.default_rng(0)
    for _ in range(5):
        core.step(rng.integers(4, size=16), np.ones(16, bool))
        got = core.in_view()
        for i in range(16):
            for cell in range(core.cells):
                r, c = divmod(cell, core.cols)
                near = abs(r - core.row[i]) <= 1 and abs(c - core.col[i]) <= 1
                assert got[i, cell] == near
        assert (got.sum(1) == (core.view_kinds() != K_WALL).sum(1)).all()
