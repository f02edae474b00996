"""InstructedGoal: read an instruction once ("go to the blue key"), then walk to that object.

Episode: a ``size`` x ``size`` room (default 5 x 5, seen from above) holds the agent and
``num_objects`` objects (default 3) of distinct (colour, shape) kinds out of 6 colours (red,
green, blue, yellow, purple, cyan) x 3 shapes (key, ball, box). One of them, drawn uniformly, is
the goal, named by a five-token instruction ``go to the <colour> <shape>``.

1. step 0: the ``text`` observation holds the instruction; from step 1 on it is all padding (0);
2. for the first ``delay`` steps (default 0) the agent cannot move (its actions do nothing);
3. then actions 0..3 move up / down / left / right (into a wall: stay put). Stepping onto the
   goal gives reward 1 and ends the episode (terminated); stepping onto another object ends it
   with reward 0. After ``delay + max_steps`` steps (default 20) it is truncated.

Layouts: the agent on a uniform cell, then the objects one at a time, each on a uniform cell that
is not the agent's and touches no earlier object, not even diagonally. Then the free cells are
connected and the goal is at most ``2 * (size - 1) + 2 * num_objects`` moves away around the other
objects (the lower bound of ``max_steps``), so the maximum return is exactly 1; the oracle (the
shortest path around the other objects, from a distance field over the room) always gets it. A
random policy gets 0.26 (measured at the defaults over 12,800 episodes: 0.258 +- 0.004): it bumps
into some object in most episodes, the named one about a third of the time.

Why it needs memory: the instruction is shown only at step 0 and nothing in the room marks the
goal, so from step 1 on the agent has to carry which object was named (colour *and* shape: other
objects may share either) until it gets there. With ``delay`` above the truncation window (tau =
20) a recurrent state trained by truncated BPTT cannot learn to carry it; MERLIN can store the
instruction's encoding in memory and read it back.

Observations: ``{"image": uint8 (S, S, 3), "text": int64 (5,)}``, S = ``image_size`` (default
``3 * size``, i.e. 15: 3 x 3 pixels per cell; at least that). The image shows the room from above
on black: the agent as a white cell, each object in its colour in the pixel pattern of its shape
(``PATTERNS``: key a shaft with two teeth, ball a plus, box a hollow square; scaled up for larger
cells); when S is not a multiple of ``size`` the room is centred on grey. Token ids (``VOCAB``):
0 padding, 1 "go", 2 "to", 3 "the", 4..9 the colours, 10..12 the shapes
(:func:`words_to_tokens` and :func:`tokens_to_words` convert). ``render`` draws the room larger
with grid lines and the goal's cell framed, under a strip showing the goal object (what the
instruction named: the agent itself sees it only at step 0).

Knobs (defaults): ``size`` (5, in [3, 10]), ``num_objects`` (3, in [1, ``max_objects(size)``]:
3 at size 5, 4 at 6, 6 at 7, 11 at 10), ``max_steps`` (20, at least
``2 * (size - 1) + 2 * num_objects``), ``delay`` (0), ``image_size`` (``3 * size``, at least
that), ``always_show`` (false; true shows the instruction at every step: the memoryless control,
which measures how much of the task is finding the named object rather than remembering it).

The batched :class:`InstructedGoalVectorEnv` steps all copies with NumPy at once (autoreset mode
``NEXT_STEP``); :class:`InstructedGoalEnv` is the single env; both wrap
:class:`InstructedGoalCore` (see :mod:`merlin_rl.envs.base`), so copy i of a batched env seeded
with s behaves exactly like a single env seeded with s + i.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import (
    TaskCore,
    TaskEnv,
    TaskVectorEnv,
    check_int,
    estimate_return,
    estimating,
    upscale,
)

COLOURS = ("red", "green", "blue", "yellow", "purple", "cyan")
SHAPES = ("key", "ball", "box")
VOCAB = ("<pad>", "go", "to", "the", *COLOURS, *SHAPES)
TOKEN = {w: i for i, w in enumerate(VOCAB)}
TEXT_LENGTH = 5
NUM_PAIRS = len(COLOURS) * len(SHAPES)  # object kind = colour * len(SHAPES) + shape
PALETTE = np.array(
    [[230, 30, 30], [30, 200, 50], [50, 90, 255], [240, 220, 30], [200, 60, 230], [30, 220, 220]],
    dtype=np.uint8,
)
AGENT_RGB = np.array([255, 255, 255], np.uint8)
OUTSIDE_RGB = np.array([90, 90, 90], np.uint8)
GRID_RGB = np.array([70, 70, 70], np.uint8)  # render only: grid lines
FRAME_RGB = np.array([170, 170, 170], np.uint8)  # render only: frame of the goal's cell
# 3 x 3 pixel patterns of the shapes (scaled up to larger cells by nearest neighbour)
PATTERNS = np.array(
    [
        [[0, 1, 1], [0, 1, 0], [0, 1, 1]],  # key: shaft and two teeth
        [[0, 1, 0], [1, 1, 1], [0, 1, 0]],  # ball
        [[1, 1, 1], [1, 0, 1], [1, 1, 1]],  # box
    ],
    dtype=bool,
)
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], np.int64)  # up, down, left, right
INSTRUCTIONS = np.array(
    [
        [TOKEN["go"], TOKEN["to"], TOKEN["the"], TOKEN[COLOURS[k // 3]], TOKEN[SHAPES[k % 3]]]
        for k in range(NUM_PAIRS)
    ],
    np.int64,
)
FAR = 1 << 20  # "unreachable" in distance fields


def words_to_tokens(text: str, length: int = TEXT_LENGTH) -> np.ndarray:
    """Words ("go to the blue key") -> int64 token ids, padded with 0 to ``length``."""
    words = text.split()
    unknown = [w for w in words if w not in TOKEN or w == "<pad>"]
    if unknown or len(words) > length:
        raise ValueError(
            f"InstructedGoal: cannot tokenise {text!r} (vocabulary {VOCAB[1:]}, "
            f"at most {length} words)"
        )
    ids = np.zeros(length, np.int64)
    ids[: len(words)] = [TOKEN[w] for w in words]
    return ids


def tokens_to_words(ids: np.ndarray) -> str:
    """Token ids -> the words they stand for (padding dropped)."""
    return " ".join(VOCAB[int(i)] for i in np.asarray(ids).reshape(-1) if int(i) != 0)


def cell_tiles(k: int) -> np.ndarray:
    """RGB tiles of k x k pixels: 0 empty, 1 agent, 2 + kind for the objects."""
    idx = np.arange(k) * 3 // k
    pats = PATTERNS[:, idx[:, None], idx[None, :]]  # (3, k, k)
    tiles = np.zeros((2 + NUM_PAIRS, k, k, 3), np.uint8)
    tiles[1] = AGENT_RGB
    for kind in range(NUM_PAIRS):
        tiles[2 + kind][pats[kind % 3]] = PALETTE[kind // 3]
    return tiles


def max_objects(size: int) -> int:
    """The most objects a ``size`` x ``size`` room takes: placed one by one, each object rules
    out at most 9 cells (itself and its 8 neighbours), so this many always fit."""
    return min(NUM_PAIRS, (size * size - 2) // 9 + 1)


def distance_field(board: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Moves from each cell to the goal cell without entering another object, for every copy.

    ``board`` int [B, H, W] (0 empty, > 0 an object), ``goal`` int [B] (flat cell index). Cells
    that cannot reach the goal, and the other objects, get ``FAR``. Relaxation over the whole batch
    until nothing changes (used by the oracle and the tests, not in the hot path)."""
    b, h, w = board.shape
    rows, gy, gx = np.arange(b), goal // w + 1, goal % w + 1
    dist = np.full((b, h + 2, w + 2), FAR, np.int64)  # a border of FAR cells
    dist[rows, gy, gx] = 0
    blocked = np.pad(board > 0, ((0, 0), (1, 1), (1, 1)), constant_values=True)
    blocked[rows, gy, gx] = False
    for _ in range(h * w):
        inner = dist[:, 1:-1, 1:-1]
        near = (
            np.minimum(
                np.minimum(dist[:, :-2, 1:-1], dist[:, 2:, 1:-1]),
                np.minimum(dist[:, 1:-1, :-2], dist[:, 1:-1, 2:]),
            )
            + 1
        )
        new = np.where(blocked[:, 1:-1, 1:-1], FAR, np.minimum(inner, near))
        if np.array_equal(new, inner):
            break
        dist[:, 1:-1, 1:-1] = new
    return dist[:, 1:-1, 1:-1]


class InstructedGoalCore(TaskCore):
    """Game state of B InstructedGoal copies as NumPy arrays.

    Cells are numbered ``y * size + x``. ``board`` [B, size^2] holds 0 for an empty cell and
    ``2 + kind`` for an object (kind = colour * 3 + shape; 1 is the agent's image tile), ``pos``
    and ``goal`` [B] are the agent's and the goal's cells, ``goal_kind`` [B] the named kind and
    ``t`` [B] the step count."""

    name = "InstructedGoal"
    state_keys = ("t", "pos", "board", "goal", "goal_kind")

    def __init__(
        self,
        num_envs: int,
        size: int = 5,
        num_objects: int = 3,
        max_steps: int = 20,
        delay: int = 0,
        image_size: int | None = None,
        always_show: bool = False,
    ) -> None:
        super().__init__(num_envs)
        n = self.size = check_int(self.name, "size", size, 3, 10)
        self.num_objects = check_int(self.name, "num_objects", num_objects, 1, max_objects(n))
        self.max_steps = check_int(
            self.name, "max_steps", max_steps, 2 * (n - 1) + 2 * self.num_objects
        )
        self.delay = check_int(self.name, "delay", delay, 0)
        if not isinstance(always_show, bool):
            raise ValueError(f"{self.name}: always_show must be true or false, got {always_show!r}")
        self.always_show = always_show
        self.episode_length = self.delay + self.max_steps  # truncated then, unless it hit an object
        s = check_int(self.name, "image_size", 3 * n if image_size is None else image_size, 3 * n)
        self.image_size, self.k = s, s // n  # k x k pixels per cell
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
                "text": spaces.Box(0, len(VOCAB) - 1, (TEXT_LENGTH,), np.int64),
            }
        )
        self.action_space = spaces.Discrete(len(MOVES))
        # random return: measured at the default knobs (12,800 episodes); estimated otherwise
        game = (n, self.num_objects, self.max_steps, self.delay)
        self.max_return = 1.0
        if game == (5, 3, 20, 0):
            self.random_return = 0.26
        elif estimating():
            self.random_return = float("nan")
        else:
            self.random_return = estimate_return(
                type(self),
                {
                    "size": n,
                    "num_objects": self.num_objects,
                    "max_steps": self.max_steps,
                    "delay": self.delay,
                },
            )
        yy, xx = np.divmod(np.arange(n * n), n)
        # next cell for (cell, action), walls stop the agent; king-move neighbourhood of each cell
        ny = np.clip(yy[:, None] + MOVES[None, :, 0], 0, n - 1)
        nx = np.clip(xx[:, None] + MOVES[None, :, 1], 0, n - 1)
        self.next_cell = ny * n + nx
        self.near8 = (np.abs(yy[:, None] - yy[None, :]) <= 1) & (
            np.abs(xx[:, None] - xx[None, :]) <= 1
        )
        # image rows: tile_rows[code * k + dy] is pixel row dy of tile `code` ((k * 3) bytes)
        self.tile_rows = cell_tiles(self.k).reshape(-1, self.k * 3)
        self.dy = np.arange(self.k)
        # text: row 0 blank, row 1 + kind the instruction naming that kind
        self.texts = np.concatenate([np.zeros((1, TEXT_LENGTH), np.int64), INSTRUCTIONS])
        b = self.num_envs
        self.t = np.zeros(b, np.int64)
        self.pos = np.zeros(b, np.int64)
        self.board = np.zeros((b, n * n), np.int64)
        self.goal = np.zeros(b, np.int64)
        self.goal_kind = np.zeros(b, np.int64)
        self._rows = np.arange(b)

    def reset(self, mask: np.ndarray) -> None:
        n, m = self.size, self.num_objects
        u = self.rng.random((n * n + NUM_PAIRS + 1,), mask=mask)  # one draw per copy
        idx = np.flatnonzero(mask)
        u = u[idx]
        rows = np.arange(len(idx))
        keys, kinds = u[:, : n * n], np.argsort(u[:, n * n : -1], axis=1)[:, :m]  # m distinct kinds
        which = np.minimum((u[:, -1] * m).astype(np.int64), m - 1)
        # the agent on the cell with the largest key, then the objects one at a time, each on the
        # free cell with the largest key (uniform over the free cells) where free = not the
        # agent's and touching no earlier object, not even diagonally: the free cells stay connected
        agent = keys.argmax(1)
        keys[rows, agent] = -1.0
        board = np.zeros((len(idx), n * n), np.int64)
        cells = np.zeros((len(idx), m), np.int64)
        for j in range(m):
            cell = keys.argmax(1)
            cells[:, j] = cell
            board[rows, cell] = 2 + kinds[:, j]
            keys[self.near8[cell]] = -1.0
        self.board[idx] = board
        self.pos[idx] = agent
        self.goal[idx] = cells[rows, which]
        self.goal_kind[idx] = kinds[rows, which]
        self.t[idx] = 0

    def step(self, actions: np.ndarray, mask: np.ndarray):
        moving = mask & (self.t >= self.delay)
        self.pos = np.where(moving, self.next_cell[self.pos, actions], self.pos)
        here = self.board[self._rows, self.pos]
        hit = moving & (here > 0)
        reward = (hit & (here == self.goal_kind + 2)).astype(np.float32)
        self.t = self.t + mask
        truncated = mask & ~hit & (self.t >= self.delay + self.max_steps)
        return reward, hit, truncated

    def _codes(self) -> np.ndarray:
        """Image tile codes [B, size^2]: 0 empty, 1 agent, 2 + kind for an object."""
        codes = self.board.copy()
        codes[self._rows, self.pos] = 1
        return codes

    def observation(self) -> dict[str, np.ndarray]:
        n, k, s, b = self.size, self.k, self.image_size, self.num_envs
        # rows [B, y, dy, x] of the pixel rows: the gather is already in image order
        codes = self._codes().reshape(b, n, 1, n)
        room = np.take(self.tile_rows, codes * k + self.dy[:, None], axis=0)
        room = room.reshape(b, n * k, n * k, 3)
        if n * k == s:
            image = room
        else:  # the room centred on a grey image
            off = (s - n * k) // 2
            image = np.empty((b, s, s, 3), np.uint8)
            image[:] = OUTSIDE_RGB
            image[:, off : off + n * k, off : off + n * k] = room
        shown = self.always_show | (self.t == 0)
        text = self.texts[np.where(shown, self.goal_kind + 1, 0)]
        return {"image": image, "text": text}

    def instruction(self, index: int = 0) -> str:
        """The instruction of copy ``index`` as words (shown to the agent at step 0 only)."""
        return tokens_to_words(INSTRUCTIONS[self.goal_kind[index]])

    def render(self, index: int = 0) -> np.ndarray:
        """The room (grid lines, the goal's cell framed) under a strip showing the goal object."""
        k, n = 15, self.size
        tiles = cell_tiles(k - 3)
        cells = np.zeros((n * n, k, k, 3), np.uint8)
        cells[:, :] = GRID_RGB
        cells[:, 2:-1, 2:-1] = tiles[self._codes()[index]]  # grey lines between the cells
        g = self.goal[index]
        cells[g, :2], cells[g, -1:], cells[g, :, :2], cells[g, :, -1:] = (FRAME_RGB,) * 4
        room = cells.reshape(n, n, k, k, 3).transpose(0, 2, 1, 3, 4).reshape(n * k, n * k, 3)
        room = np.pad(room, ((0, 2), (0, 2), (0, 0)))
        room[-2:], room[:, -2:] = GRID_RGB, GRID_RGB
        strip = np.zeros((k + 6, room.shape[1], 3), np.uint8)  # the goal object, centred on top
        x0 = (room.shape[1] - k) // 2
        strip[3 : 3 + k - 3, x0 : x0 + k - 3] = tiles[2 + self.goal_kind[index]]
        return upscale(np.concatenate([strip, room]), 2)

    def oracle(self) -> np.ndarray:
        n = self.size
        dist = distance_field(self.board.reshape(-1, n, n), self.goal).reshape(-1, n * n)
        near = np.take_along_axis(dist, self.next_cell[self.pos], axis=1)  # [B, actions]
        return near.argmin(1)


class InstructedGoalEnv(TaskEnv):
    """Single InstructedGoal environment (see the module docstring)."""

    core_cls = InstructedGoalCore


class InstructedGoalVectorEnv(TaskVectorEnv):
    """B copies of InstructedGoal stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = InstructedGoalCore
