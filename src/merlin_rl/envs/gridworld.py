"""Shared grid-world machinery of the three-phase tasks (Key-to-Door, Active Visual Match).

An episode visits three square rooms in turn (Hung et al. 2019, "Optimizing agent behavior over
long time scales by transporting value"):

1. explore room (``explore_steps`` steps): holds the thing to pick up or to look at;
2. distractor room (``distractor_steps`` steps): ``num_apples`` apples, each worth
   ``apple_reward`` when walked onto (then gone);
3. final room (up to ``final_steps`` steps): where the earlier phase pays off or not.

A phase lasts a fixed number of steps; then the agent is teleported to the middle of the next room.
The episode ends (``terminated``) when the final phase times out or when the task ends it earlier.

Every room is a ``room_size`` x ``room_size`` interior of floor inside walls. The agent moves
up / down / left / right (actions 0-3); walls (and whatever the task says is blocked) stop it.
It sees an egocentric window of 5 x 5 cells centred on itself (cells beyond the room are walls):
each cell is drawn as a c x c-pixel tile (:func:`tile_shapes`), c = ceil(image_size / 5), and
the 5c x 5c drawing is cropped to its centre, ``image_size`` x
``image_size`` pixels (an odd pixel is cut at the bottom / right; no crop when image_size is a
multiple of 5, as the default 20). Each room has its own floor tint, so the agent can tell the
phases apart.

:class:`RoomsCore` holds B copies as NumPy arrays: ``rooms`` int8 [B, 3, P, P] (cell codes of the
three rooms, padded with walls to P = room_size + 4 so that the view window never leaves the
array), ``pos`` int64 [B] (the agent's cell in its room, flat: row * P + column in padded
coordinates), ``phase`` and ``t`` (step within the phase). Subclasses fill the rooms in
:meth:`RoomsCore._populate` and say what entering a cell does in :meth:`RoomsCore._enter`.
All of it is vectorised over copies; the observation is two gathers: the 5 x 5 window of cell
codes, then one ``np.take`` of c-pixel tile rows (row strips).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, check_int, estimate_return, estimating, upscale

# cell codes
FLOOR, WALL, AGENT, APPLE, KEY, DOOR, COLOUR0 = range(7)
PALETTE = np.array(
    [
        [230, 25, 25],
        [25, 200, 40],
        [30, 60, 230],
        [240, 220, 20],
        [220, 30, 220],
        [20, 220, 220],
        [250, 130, 10],
        [170, 255, 90],
    ],
    dtype=np.uint8,
)
NUM_CODES = COLOUR0 + len(PALETTE)
NUM_ROOMS = 3
VIEW_RADIUS = 2  # the egocentric window is (2r+1) x (2r+1) = 5 x 5 cells
TILE = 16  # pixels per cell side in render()
# actions: 0 up, 1 down, 2 left, 3 right
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)
KEY_RGB = (255, 200, 0)
FLOOR_TINTS = np.array([[15, 15, 40], [12, 38, 12], [42, 14, 14]], dtype=np.uint8)
_INF = 1 << 20

# random-return estimates for non-default knobs, keyed by (task, knobs)


def check_reward(task: str, name: str, value: Any) -> float:
    """Validate a reward knob (a finite number > 0); ValueError names the task and the knob."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{task}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def _texture(rows: list[str]) -> np.ndarray:
    return np.array([[ch == "#" for ch in row] for row in rows])


# 8 x 8 textures, sampled (nearest) to the tile size
_KEY = _texture(
    ["........", ".###....", ".#.#####", ".###.#.#", "........", "........", "........", "........"]
)
_MORTAR = _texture(
    ["########", "...#....", "...#....", "...#....", "########", ".......#", ".......#", ".......#"]
)
_DOOR_FRAME = _texture(["#......#"] * 8)


def tile_shapes(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mask [size, size] bool, colour [size, size, 3] uint8) for every cell code, drawn at
    ``size`` pixels; the floor shows where the mask is False. Below 4 pixels every object is a
    plain cell of its colour (so that nothing vanishes), from 8 pixels on squares are inset."""
    c = size
    u, v = (np.mgrid[0:c, 0:c] + 0.5) / c  # pixel centres in (0, 1)
    texture = (np.minimum(u * 8, 7).astype(np.int64), np.minimum(v * 8, 7).astype(np.int64))
    full = np.ones((c, c), bool)
    small = c < 4

    def disc(cy: float, cx: float, r: float) -> np.ndarray:
        return (u - cy) ** 2 + (v - cx) ** 2 <= r * r

    def solid(rgb) -> np.ndarray:
        return np.broadcast_to(np.asarray(rgb, np.uint8), (c, c, 3)).copy()

    wall = solid((105, 105, 115))
    wall[_MORTAR[texture] & (c >= 8)] = (75, 75, 85)
    apple = solid((255, 110, 120))
    stalk = (u < 0.3) & (abs(v - 0.55) < 0.08)
    apple[stalk] = (40, 160, 40)
    door = solid((130, 75, 25))
    door[_DOOR_FRAME[texture]] = (90, 50, 15)
    if c >= 4:
        door[int(0.55 * c), int(0.72 * c)] = (255, 215, 0)  # the handle
    inset = (u > 0.125) & (u < 0.875) & (v > 0.125) & (v < 0.875) if c >= 8 else full
    shapes = {
        FLOOR: (~full, solid((0, 0, 0))),
        WALL: (full, wall),
        AGENT: (full if small else disc(0.5, 0.5, 0.42), solid((255, 255, 255))),
        APPLE: (full if small else disc(0.58, 0.5, 0.3) | stalk, apple),
        KEY: (full if small else _KEY[texture], solid(KEY_RGB)),
        DOOR: (full, door),
    }
    for i, rgb in enumerate(PALETTE):
        shapes[COLOUR0 + i] = (inset, solid(rgb))
    return [shapes[k] for k in range(NUM_CODES)]


def tile_table(size: int = TILE) -> np.ndarray:
    """Tiles of every cell code on every room's floor: uint8 [rooms, codes, size, size, 3]."""
    table = np.zeros((NUM_ROOMS, NUM_CODES, size, size, 3), np.uint8)
    shapes = tile_shapes(size)
    for r in range(NUM_ROOMS):
        for k, (mask, colour) in enumerate(shapes):
            table[r, k] = np.where(mask[:, :, None], colour, FLOOR_TINTS[r])
    return table


def strip_table(size: int, cells: int = 2 * VIEW_RADIUS + 1) -> tuple[np.ndarray, int, int]:
    """The observation's tiles as row strips: every tile drawn at c x c pixels, c =
    ceil(size / cells), one row of c pixels per item (a NumPy void of 3c bytes), so that a whole
    image is one ``np.take`` of [S, cells] strips.
    Returns (strips [NUM_ROOMS * NUM_CODES * c], c, crop), ``crop`` = the pixels cut from the top
    and left of the cells * c drawing to centre an S x S image."""
    c = -(-size // cells)
    tiles = tile_table(c)  # [R, K, c, c, 3]
    strips = np.ascontiguousarray(tiles.reshape(-1, c * 3)).view(f"V{3 * c}").reshape(-1)
    return strips, c, (cells * c - size) // 2


class RoomsCore(TaskCore):
    """B copies of a three-room, three-phase grid world (see the module docstring).

    Subclasses set ``name``, the class defaults below, call ``super().__init__`` with their
    knobs (their own, validated, in ``extra_knobs``), and implement :meth:`_populate`,
    :meth:`_draw_sizes`, :meth:`_enter`, :meth:`_status` and :meth:`oracle` (usually via
    :meth:`_path_actions`); they may override :meth:`_blocked`."""

    state_keys: ClassVar[tuple[str, ...]] = ("rooms", "pos", "phase", "t")
    default_random_return: ClassVar[float] = 0.0  # measured at the default knobs
    defaults: ClassVar[dict[str, Any]] = {}  # the game knobs (everything but image_size)

    def __init__(
        self,
        num_envs: int,
        *,
        room_size: int,
        explore_steps: int,
        distractor_steps: int,
        final_steps: int,
        num_apples: int,
        apple_reward: float,
        final_reward: float,
        image_size: int,
        extra_knobs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(num_envs)
        name = self.name
        self.n = n = check_int(name, "room_size", room_size, 3, 15)
        self.phase_steps = np.array(
            [
                check_int(name, "explore_steps", explore_steps, 1),
                check_int(name, "distractor_steps", distractor_steps, 1),
                check_int(name, "final_steps", final_steps, 1),
            ],
            np.int64,
        )
        self.episode_length = int(self.phase_steps.sum())  # the final phase may end it earlier
        self.num_apples = check_int(name, "num_apples", num_apples, 0, n * n - 1)
        self.apple_reward = check_reward(name, "apple_reward", apple_reward)
        self.final_reward = check_reward(name, "final_reward", final_reward)
        self.image_size = s = check_int(name, "image_size", image_size, 5, 256)
        self.knobs = dict(
            room_size=n,
            explore_steps=explore_steps,
            distractor_steps=distractor_steps,
            final_steps=final_steps,
            num_apples=self.num_apples,
            apple_reward=self.apple_reward,
            final_reward=self.final_reward,
            **(extra_knobs or {}),
        )
        self.observation_space = spaces.Dict({"image": spaces.Box(0, 255, (s, s, 3), np.uint8)})
        self.action_space = spaces.Discrete(len(MOVES))
        self.max_return = self.final_reward + self.num_apples * self.apple_reward

        r = VIEW_RADIUS
        self.pad = r
        self.p = p = n + 2 * r
        blank = np.full((NUM_ROOMS, p, p), WALL, np.int8)
        blank[:, r : r + n, r : r + n] = FLOOR
        self.blank = blank
        self.start = (r + n // 2) * p + r + n // 2  # positions are flat: row * P + column
        iy, ix = np.mgrid[r : r + n, r : r + n]
        self.interior = (iy * p + ix).reshape(-1)  # flat padded index of every interior cell
        self.free_cells = self.interior[self.interior != self.start]  # where things may go
        self.delta = MOVES[:, 0] * p + MOVES[:, 1]  # flat moves
        dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
        self.window = (dy * p + dx).reshape(-1)  # flat offsets of the view window
        self.centre = (2 * r + 1) ** 2 // 2
        w = 2 * r + 1
        self.tiles = tile_table(TILE)  # for render
        self.strips, c, crop = strip_table(s, w)
        rows = np.arange(crop, crop + s)  # the output rows in the w*c drawing
        # strip (y, j) of the image: sub-row y % c of window cell (y // c, j)
        self.strip_cell = ((rows // c)[:, None] * w + np.arange(w)).reshape(-1)
        self.strip_sub = np.repeat(rows % c, w)
        self.col_crop = slice(crop, crop + s) if w * c != s else None
        self.cell_px = c
        self._buf: np.ndarray | None = None
        # oracle's guarantees: Manhattan distances from the start / across the room
        self.d_start = 2 * max(n // 2, n - 1 - n // 2)
        self.d_room = 2 * (n - 1)

        b = self.num_envs
        self.ar = np.arange(b)
        self.room_base = self.ar * (NUM_ROOMS * p * p)  # flat offset of each copy's rooms
        self.rooms = np.repeat(blank[None], b, axis=0)
        self.pos = np.full(b, self.start, np.int64)
        self.phase = np.zeros(b, np.int64)
        self.t = np.zeros(b, np.int64)
        self.random_return = self._random_return()

    # ---- subclass hooks -------------------------------------------------------------------
    def _populate(self, mask: np.ndarray) -> None:
        """Fill the three rooms of the copies in ``mask`` (already blank) for a new episode;
        the base places the apples afterwards."""
        raise NotImplementedError

    def _draw_sizes(self) -> list[tuple[int, int]]:
        """The (m, k) of every :meth:`_distinct` draw of :meth:`_populate`, in order."""
        raise NotImplementedError

    def _blocked(self, code: np.ndarray) -> np.ndarray:
        """Which target cells (codes [B], current room) stop the agent, besides walls."""
        return np.zeros(code.shape, bool)

    def _enter(self, code: np.ndarray, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The agent of the copies in ``moved`` has just stepped onto a cell holding ``code``
        (apples already handled): returns (reward float32 [B], terminated bool [B])."""
        raise NotImplementedError

    def _status(self, index: int) -> list[int]:
        """Cell codes to show next to the phase boxes in :meth:`render` (hidden state)."""
        return []

    # ---- helpers for subclasses -----------------------------------------------------------
    @staticmethod
    def _numbers_for(m: int, k: int) -> int:
        """Random numbers that :meth:`_distinct` takes for k of m."""
        return k if k <= 1 else m

    def _distinct(self, m: int, k: int, mask: np.ndarray) -> np.ndarray:
        """k distinct integers in [0, m) per copy, uniformly: int64 [B, k], filled for the
        copies in ``mask`` only: one uniform number for k = 1, else the first k of a random
        permutation (m numbers). The numbers come from the batch drawn at the start of
        :meth:`reset`."""
        need = self._numbers_for(m, k)
        u = self._u[:, self._u_at : self._u_at + need]
        self._u_at += need
        if k == 1:
            return np.minimum((u * m).astype(np.int64), m - 1)
        out = np.zeros((self.num_envs, k), np.int64)
        out[mask] = np.argsort(u[mask], axis=1, kind="stable")[:, :k]
        return out

    def _draw_cells(self, candidates: np.ndarray, k: int, mask: np.ndarray) -> np.ndarray:
        """k distinct cells per copy drawn from ``candidates`` (flat padded indices, the same for
        every copy): int64 [B, k], for the copies in ``mask``."""
        return candidates[self._distinct(len(candidates), k, mask)]

    def _put(self, room: int, cells: np.ndarray, codes: np.ndarray | int, mask: np.ndarray) -> None:
        """Write ``codes`` ([B, k] or a scalar) at ``cells`` ([B, k] flat) of ``room``, for the
        copies in ``mask``."""
        idx = np.nonzero(mask)[0]
        flat = self.rooms.reshape(self.num_envs, NUM_ROOMS, self.p * self.p)
        flat[idx[:, None], room, cells[idx]] = codes if np.isscalar(codes) else codes[idx]

    def _current(self) -> np.ndarray:
        """The current room of every copy: int8 [B, P, P] (a copy)."""
        return self.rooms[self.ar, self.phase]

    def _here(self) -> np.ndarray:
        """Flat index (into ``rooms.reshape(-1)``) of every copy's agent cell."""
        return self.room_base + self.phase * (self.p * self.p) + self.pos

    def _path_actions(self, goal: np.ndarray, passable: np.ndarray) -> np.ndarray:
        """Actions [B] along a shortest path (4-neighbour BFS, vectorised over copies) from each
        agent to its nearest ``goal`` cell ([B, P, P] bool), through ``passable`` cells; action 0
        where no goal is reachable. Ties go to the first of up, down, left, right."""
        d = np.where(goal, 0, _INF).astype(np.int32)
        free = (passable | goal)[:, 1:-1, 1:-1]
        while True:
            nb = np.minimum(
                np.minimum(d[:, :-2, 1:-1], d[:, 2:, 1:-1]),
                np.minimum(d[:, 1:-1, :-2], d[:, 1:-1, 2:]),
            )
            inner = np.where(free, np.minimum(d[:, 1:-1, 1:-1], nb + 1), _INF)
            if np.array_equal(inner, d[:, 1:-1, 1:-1]):
                break
            d[:, 1:-1, 1:-1] = inner
        nd = d.reshape(len(d), -1)[self.ar[:, None], self.pos[:, None] + self.delta]  # [B, 4]
        return np.argmin(nd, axis=1).astype(np.int64)

    # ---- TaskCore -------------------------------------------------------------------------
    def reset(self, mask: np.ndarray) -> None:
        sizes = self._draw_sizes() + [(len(self.free_cells), self.num_apples)]  # apples last
        total = sum(self._numbers_for(m, k) for m, k in sizes)
        self._u, self._u_at = self.rng.random((total,), mask), 0  # all of them in one go
        self.rooms[mask] = self.blank
        self._populate(mask)
        if self.num_apples:
            self._put(1, self._draw_cells(self.free_cells, self.num_apples, mask), APPLE, mask)
        assert self._u_at == total, "_draw_sizes() does not match _populate()"
        self.pos[mask] = self.start
        self.phase[mask] = 0
        self.t[mask] = 0

    def step(self, actions: np.ndarray, mask: np.ndarray):
        flat = self.rooms.reshape(-1)
        target = self.pos + self.delta[actions]
        cell = self.room_base + self.phase * (self.p * self.p) + target  # flat, in rooms
        code = flat[cell]
        moved = mask & (code != WALL) & ~self._blocked(code)
        self.pos = np.where(moved, target, self.pos)
        entered = np.where(moved, code, FLOOR)
        eat = entered == APPLE
        reward = eat * np.float32(self.apple_reward)
        if eat.any():
            flat[cell[eat]] = FLOOR
        r2, term = self._enter(entered, moved)
        reward = (reward + r2).astype(np.float32)
        self.t = self.t + mask
        timeout = mask & ~term & (self.t >= self.phase_steps[self.phase])
        if timeout.any():  # the phase is over: next room, or the end of the episode
            last = timeout & (self.phase == NUM_ROOMS - 1)
            term = term | last
            advance = timeout & ~last
            self.phase = self.phase + advance
            self.t = np.where(advance, 0, self.t)
            self.pos = np.where(advance, self.start, self.pos)
        return reward, term, np.zeros(self.num_envs, bool)

    def _window(self) -> np.ndarray:
        """Cell codes of every copy's 5 x 5 view, the agent in the middle: int [B, 25]."""
        win = self.rooms.reshape(-1)[self._here()[:, None] + self.window]
        win[:, self.centre] = AGENT
        return win

    def observation(self) -> dict[str, np.ndarray]:
        w, s, c = 2 * VIEW_RADIUS + 1, self.image_size, self.cell_px
        first = (self._window() + (self.phase * NUM_CODES)[:, None]) * c  # first strip of tiles
        idx = (first[:, self.strip_cell] + self.strip_sub).reshape(-1, s, w)  # [B, S, w] strips
        if self.col_crop is None:
            img = np.take(self.strips, idx).view(np.uint8).reshape(self.num_envs, s, s, 3)
        else:  # draw into a reused buffer, return a fresh cropped copy
            if self._buf is None or self._buf.shape != idx.shape:
                self._buf = np.empty(idx.shape, self.strips.dtype)
            np.take(self.strips, idx, out=self._buf, mode="clip")
            full = self._buf.view(np.uint8).reshape(self.num_envs, s, w * c, 3)
            img = np.ascontiguousarray(full[:, :, self.col_crop])
        return {"image": img}

    def render(self, index: int = 0) -> np.ndarray:
        """All three rooms top-down (the current one framed, the others dimmed; the agent's view
        window outlined), then the agent's observation and a status strip: the three phases
        (current one white) and the hidden state of the task."""
        n, r, cell = self.n, self.pad, TILE
        side = (n + 2) * cell
        panels = []
        for room in range(NUM_ROOMS):
            codes = self.rooms[index, room, r - 1 : r + n + 1, r - 1 : r + n + 1].astype(np.int64)
            current = room == self.phase[index]
            yx = np.array(divmod(int(self.pos[index]), self.p))
            if current:
                y, x = yx - (r - 1)
                codes[y, x] = AGENT
            img = self.tiles[room, codes].transpose(0, 2, 1, 3, 4).reshape(side, side, 3)
            if current:
                y0, x0 = (yx - (r - 1) - r) * cell
                y1, x1 = y0 + (2 * r + 1) * cell, x0 + (2 * r + 1) * cell
                y0, x0, y1, x1 = max(y0, 0), max(x0, 0), min(y1, side), min(x1, side)
                for yy in (y0, y1 - 1):
                    img[yy, x0:x1] = 255
                for xx in (x0, x1 - 1):
                    img[y0:y1, xx] = 255
            else:
                img = (img * 0.45).astype(np.uint8)
            frame = np.full((side + 8, side + 8, 3), 255 if current else 40, np.uint8)
            frame[4:-4, 4:-4] = img
            panels.append(frame)
        height = side + 8
        obs = self.observation()["image"][index]
        obs = upscale(obs, max(1, 96 // self.image_size))
        status = [
            np.full((cell, cell, 3), 255 if i == self.phase[index] else 70, np.uint8)
            for i in range(NUM_ROOMS)
        ]
        status += [self.tiles[self.phase[index], k] for k in self._status(index)]
        col_w = max(obs.shape[1], len(status) * (cell + 4))
        column = np.zeros((height, col_w + 8, 3), np.uint8)
        column[4 : 4 + obs.shape[0], 4 : 4 + obs.shape[1]] = obs
        y = min(8 + obs.shape[0], height - cell)
        for i, tile in enumerate(status):
            column[y : y + cell, 4 + i * (cell + 4) : 4 + i * (cell + 4) + cell] = tile
        gap = np.zeros((height, 4, 3), np.uint8)
        parts = []
        for pnl in panels:
            parts += [pnl, gap]
        return np.concatenate(parts + [column], axis=1)

    # ---- random return --------------------------------------------------------------------
    def _random_return(self) -> float:
        """The documented measurement at the default knobs; otherwise a Monte Carlo estimate
        (1024 episodes of uniformly random actions, fixed seed, cached; small images)."""
        if self.knobs == self.defaults:
            return self.default_random_return
        if estimating():
            return float("nan")
        return estimate_return(type(self), {**self.knobs, "image_size": 5})
