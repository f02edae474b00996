"""The shared grid world of KeyToDoor and ActiveVisualMatch against naive per-copy references:
game rules and observations (plain Python loops following the module docstrings), the oracle's
BFS, the oracle's guaranteed return for several room sizes, random-return estimates."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from merlin_rl.envs.active_visual_match import ActiveVisualMatchCore
from merlin_rl.envs.gridworld import (
    AGENT,
    APPLE,
    COLOUR0,
    DOOR,
    FLOOR,
    KEY,
    MOVES,
    NUM_CODES,
    WALL,
    RoomsCore,
    estimate_return,
    tile_table,
)
from merlin_rl.envs.key_to_door import KeyToDoorCore

CORES = [KeyToDoorCore, ActiveVisualMatchCore]


class NaiveCopy:
    """One copy of either task in plain Python, started from the core's state of copy ``i``."""

    def __init__(self, core: RoomsCore, i: int) -> None:
        self.core, self.kd = core, isinstance(core, KeyToDoorCore)
        self.rooms = core.rooms[i].tolist()
        self.y, self.x = divmod(int(core.pos[i]), core.p)
        self.phase, self.t = int(core.phase[i]), int(core.t[i])
        self.has_key = bool(core.has_key[i]) if self.kd else False
        self.target = None if self.kd else int(core.target[i])

    def step(self, a: int) -> tuple[float, bool]:
        c = self.core
        room = self.rooms[self.phase]
        ty, tx = self.y + int(MOVES[a][0]), self.x + int(MOVES[a][1])
        code = room[ty][tx]
        reward, term = 0.0, False
        blocked = code == WALL or (self.kd and code == DOOR and not self.has_key)
        if not blocked:
            self.y, self.x = ty, tx
            if code == APPLE:
                reward += c.apple_reward
                room[ty][tx] = FLOOR
            if self.kd and code == KEY:
                self.has_key = True
                room[ty][tx] = FLOOR
            if self.kd and code == DOOR:
                reward += c.final_reward
                term = True
            if not self.kd and self.phase == 2 and code >= COLOUR0:
                reward += c.final_reward if code == self.target else 0.0
                term = True
        self.t += 1
        if not term and self.t >= int(c.phase_steps[self.phase]):
            if self.phase == 2:
                term = True
            else:
                self.phase, self.t = self.phase + 1, 0
                self.y, self.x = divmod(c.start, c.p)
        return reward, term

    def image(self) -> np.ndarray:
        """The observation by the docstring's definition, pixel by pixel."""
        s = self.core.image_size
        c = -(-s // 5)
        crop = (5 * c - s) // 2
        tiles = tile_table(c)
        img = np.zeros((s, s, 3), np.uint8)
        for py in range(s):
            for px in range(s):
                yy, xx = py + crop, px + crop
                cy, cx = yy // c, xx // c
                sy, sx = yy % c, xx % c
                if (cy, cx) == (2, 2):
                    code = AGENT
                else:
                    code = self.rooms[self.phase][self.y + cy - 2][self.x + cx - 2]
                img[py, px] = tiles[self.phase, code, sy, sx]
        return img


@pytest.mark.parametrize("cls", CORES)
@pytest.mark.parametrize(
    "knobs",
    [
        dict(),
        dict(
            image_size=16,
            room_size=6,
            explore_steps=3,
            distractor_steps=6,
            final_steps=4,
            num_apples=6,
        ),
        dict(
            image_size=64,
            room_size=5,
            explore_steps=5,
            distractor_steps=4,
            final_steps=9,
            num_apples=2,
            apple_reward=0.5,
            final_reward=10.0,
        ),
    ],
)
def test_core_matches_naive_reference(cls, knobs) -> None:
    """Rewards, ends, positions, phases, rooms and images of the vectorised core equal the naive
    per-copy game over random actions, with random masks (copies outside the mask stay put)."""
    b = 5
    core = cls(b, **knobs)
    core.rng.seed(np.arange(b) + 40)
    core.reset(np.ones(b, bool))
    rng = np.random.default_rng(1)
    naive = [NaiveCopy(core, i) for i in range(b)]
    every = 15 if knobs.get("image_size") == 64 else 5  # the naive images are slow
    ends = 0
    for step in range(160):
        acts = rng.integers(4, size=b)
        mask = rng.random(b) < 0.8
        reward, term, trunc = core.step(acts, mask)
        assert not trunc.any() and reward.dtype == np.float32
        for i in range(b):
            r, te = naive[i].step(int(acts[i])) if mask[i] else (0.0, False)
            assert (float(reward[i]), bool(term[i])) == (r, te), i
            assert divmod(int(core.pos[i]), core.p) == (naive[i].y, naive[i].x)
            assert (int(core.phase[i]), int(core.t[i])) == (naive[i].phase, naive[i].t)
            np.testing.assert_array_equal(core.rooms[i], np.array(naive[i].rooms, np.int8))
        if step % every == 0 or term.any():
            images = core.observation()["image"]
            for i in range(b):
                np.testing.assert_array_equal(images[i], naive[i].image(), err_msg=str(i))
        if term.any():
            ends += int(term.sum())
            core.reset(term)
            for i in np.nonzero(term)[0]:
                naive[i] = NaiveCopy(core, i)
    assert ends >= 1


def _bfs(passable: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Distances to the nearest goal cell through passable cells (plain BFS, one grid)."""
    p = len(passable)
    dist = np.full((p, p), 10**9)
    q = deque()
    for y, x in zip(*np.nonzero(goal)):
        dist[y, x] = 0
        q.append((y, x))
    while q:
        y, x = q.popleft()
        for dy, dx in MOVES:
            ny, nx = y + dy, x + dx
            if passable[ny, nx] and not goal[ny, nx] and dist[ny, nx] > dist[y, x] + 1:
                dist[ny, nx] = dist[y, x] + 1
                q.append((ny, nx))
    return dist


def test_path_actions_follow_shortest_paths() -> None:
    b = 64
    core = KeyToDoorCore(b, room_size=7)
    rng = np.random.default_rng(2)
    p, r, n = core.p, core.pad, core.n
    passable = np.zeros((b, p, p), bool)
    passable[:, r : r + n, r : r + n] = rng.random((b, n, n)) < 0.7
    goal = np.zeros((b, p, p), bool)
    goal[:, r : r + n, r : r + n] = rng.random((b, n, n)) < 0.05
    core.pos = core.interior[rng.integers(len(core.interior), size=b)]
    yx = np.stack(np.divmod(core.pos, p), 1)
    passable[np.arange(b), yx[:, 0], yx[:, 1]] = True
    acts = core._path_actions(goal, passable)
    reachable = 0
    for i in range(b):
        d = _bfs(passable[i], goal[i])
        y, x = yx[i]
        nd = [
            d[y + dy, x + dx] if passable[i, y + dy, x + dx] or goal[i, y + dy, x + dx] else 10**9
            for dy, dx in MOVES
        ]
        if min(nd) >= 10**9:
            assert acts[i] == 0, i  # nothing reachable: action 0
        else:
            reachable += 1
            assert acts[i] == int(np.argmin(nd)), i  # first neighbour on a shortest path
    assert reachable > b // 2


@pytest.mark.parametrize("cls", CORES)
@pytest.mark.parametrize("n", [3, 4, 6, 9])
def test_oracle_reaches_the_bound_when_phases_are_long_enough(cls, n) -> None:
    """With phase lengths at the documented worst cases the oracle always reaches max_return."""
    knobs: dict = dict(room_size=n)
    if cls is ActiveVisualMatchCore:
        knobs["num_colours"] = 3 if n == 4 else 4  # a 4 x 4 room has 3 square slots
    probe = cls(1, **knobs)
    d0, d1, k = probe.d_start, probe.d_room, 3
    knobs.update(
        explore_steps=d0, distractor_steps=d0 + (k - 1) * d1, final_steps=d0 + 2, num_apples=k
    )
    core = cls(1, **knobs)
    assert core.oracle_reaches_max
    ret = estimate_return(cls, knobs, lambda c: c.oracle(), 400, seed=3)
    assert ret == pytest.approx(core.max_return)


@pytest.mark.parametrize("cls", CORES)
def test_oracle_reaches_max_at_defaults(cls) -> None:
    core = cls(1)
    assert core.oracle_reaches_max and core.max_return == 9.0
    assert estimate_return(cls, core.defaults, lambda c: c.oracle(), 1000, seed=4) == 9.0


@pytest.mark.parametrize("cls", CORES)
def test_documented_random_return(cls) -> None:
    """The documented random return (measured over 100,000 episodes) against 4,000 more."""
    core = cls(1)
    got = estimate_return(cls, core.defaults, None, 4000, seed=5)
    assert abs(got - core.random_return) < 0.12, (got, core.random_return)


@pytest.mark.parametrize("cls", CORES)
def test_random_return_of_other_knobs_is_estimated(cls) -> None:
    core = cls(2, num_apples=0, distractor_steps=30)
    assert core.max_return == 5.0
    assert 0.0 <= core.random_return < 1.0  # only the final reward, rarely reached at random
    again = cls(3, num_apples=0, distractor_steps=30, image_size=12)  # cached, same value
    assert again.random_return == core.random_return
    assert cls(1, image_size=64).random_return == core.default_random_return


@pytest.mark.parametrize("cls", CORES)
def test_render_shows_all_rooms_and_the_view(cls) -> None:
    core = cls(2)
    core.rng.seed(np.array([1, 2]))
    core.reset(np.ones(2, bool))
    frame = core.render(1)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[0] >= 96
    assert frame.shape[1] > 3 * frame.shape[0]  # three rooms side by side, then the view
    core.step(np.zeros(2, np.int64), np.ones(2, bool))
    assert not np.array_equal(core.render(1), frame)  # the agent moved up


def test_stepping_only_the_masked_copies_draws_no_numbers() -> None:
    core = KeyToDoorCore(3)
    core.rng.seed(np.arange(3))
    core.reset(np.ones(3, bool))
    counter = core.rng.counter.copy()
    for _ in range(20):
        core.step(np.full(3, 3), np.array([True, False, True]))
    np.testing.assert_array_equal(core.rng.counter, counter)  # randomness only at resets


@pytest.mark.parametrize("size", range(1, 53))
def test_every_tile_differs_from_the_floor_and_from_the_others(size) -> None:
    """At every cell size an observation can use (image_size 5..256) the objects stay visible
    and no two cell codes look alike."""
    tiles = tile_table(size).reshape(3, NUM_CODES, -1)
    for room in range(3):
        flat = tiles[room]
        assert len({t.tobytes() for t in flat}) == NUM_CODES, (room, size)
        assert (flat[[AGENT, APPLE, KEY, DOOR, WALL]] != flat[FLOOR]).any(1).all()
