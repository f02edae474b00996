"""MemoryGame (the paper's "Concentration"): match pairs of face-down cards, with a local view.

Board: ``rows`` x ``cols`` cards (an even number), ``rows * cols / 2`` pairs. Each episode draws
which card faces are used (from 24 faces: 6 colours x 4 shapes -- solid square, ring, plus, X)
and where the cards lie. A cursor starts on a random cell.

Actions (``Discrete(5)``): 0 up, 1 down, 2 left, 3 right (moving off the board does nothing), 4
flip the card under the cursor. Classic rules:

* flipping a face-down card turns it face up (flipping a face-up or matched card does nothing);
* when it is the second face-up unmatched card, a match gives reward +1 and both stay face up as
  matched; a mismatch stays visible for that step and both turn face down again at the start of
  the next step (whatever the action).

The episode ends (terminated) when every pair is matched, and is truncated after ``max_steps``
steps.

Observation: ``{"image": uint8 (S, S, 3)}``, S = ``image_size`` (default 24): the ``view`` x
``view`` cells around the cursor (default 3 x 3; the cursor is always the centre cell). Off-board
cells are black (wall), face-down cards one brown card back, face-up cards their face on white,
matched cards their face on dark grey; cells are separated by a one-pixel black line when they are
at least 4 pixels wide.

Rewards: +1 per matched pair. Maximum return: the number of pairs (6 with the defaults), which the
oracle (walk to the nearest face-down card, flip it, walk to its twin, flip it) reaches within
``pairs * (2 * (rows + cols - 2) + 2)`` steps (72 with the defaults, under ``max_steps``). A
uniformly random policy gets about 0.64 with the defaults; the core's ``random_return`` is
estimated for the knobs in use when the env is made (see :func:`random_return`).

Why it needs memory: the agent sees each face only while its card is up and only when the card is
within its small view, and it does not see where on the board it is (except near the edges). To
match pairs efficiently it must remember which faces it has seen where (and its own position, by
path integration of its moves); a memoryless agent can only guess where a card's twin lies.

Knobs (defaults): ``rows`` (3, in [1, 6]), ``cols`` (4, in [1, 8]; ``rows * cols`` even),
``max_steps`` (100), ``view`` (3, odd, in [1, 9]), ``image_size`` (24, >= ``view``).
"""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, TaskEnv, TaskVectorEnv, check_int, upscale

COLOURS = np.array(
    [[230, 25, 25], [25, 200, 40], [30, 60, 230], [240, 220, 20], [220, 30, 220], [20, 220, 220]],
    dtype=np.uint8,
)
NUM_SHAPES = 4  # solid square, ring, plus, X
NUM_FACES = len(COLOURS) * NUM_SHAPES  # 24 = the pairs of the largest board (6 x 8)
WALL = np.array([0, 0, 0], np.uint8)
CARD_BACK = np.array([150, 105, 60], np.uint8)
FACE_UP_BG = np.array([255, 255, 255], np.uint8)
MATCHED_BG = np.array([70, 70, 70], np.uint8)
CURSOR = np.array([250, 140, 0], np.uint8)
FACE_DOWN, FACE_UP, MATCHED = 0, 1, 2  # card status
UP, DOWN, LEFT, RIGHT, FLIP = range(5)
_DR = np.array([-1, 1, 0, 0, 0])  # row change of each action
_DC = np.array([0, 0, -1, 1, 0])  # column change of each action
# tile kinds: 0 wall, 1 card back, 2+f face f up, 2+F+f face f matched, 2+2F+f (render only)
# card back with face f drawn small (the hidden face, for people)
K_WALL, K_BACK, K_UP, K_MATCHED, K_HINT = 0, 1, 2, 2 + NUM_FACES, 2 + 2 * NUM_FACES


def _shape_mask(shape: int, u: np.ndarray, v: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Pixels of ``shape`` at in-cell coordinates u, v in (0, 1), shrunk by ``scale``."""
    a, b = np.abs(u - 0.5) / scale, np.abs(v - 0.5) / scale
    m = np.maximum(a, b)
    if shape == 0:  # solid square
        return m < 0.4
    if shape == 1:  # ring
        return (m > 0.2) & (m < 0.4)
    if shape == 2:  # plus
        return (np.minimum(a, b) < 0.12) & (m < 0.4)
    return (np.abs(a - b) < 0.1) & (m < 0.4)  # X


class Painter:
    """Draws a grid of tiles into an H x W image (cells split the pixels as evenly as possible):
    ``tiles[cell][kind]`` is the picture of a tile of that kind at that cell, and painting copies
    one gathered tile per cell into place (a loop over the few cells, vectorised over copies)."""

    def __init__(
        self, grid_h: int, grid_w: int, height: int, width: int, kinds: int = K_HINT
    ) -> None:
        def axis(n_cells: int, n_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            bounds = (np.arange(n_cells + 1) * n_px + n_cells - 1) // n_cells  # cell starts
            px = np.arange(n_px)
            cell = np.searchsorted(bounds, px, side="right") - 1
            size = bounds[cell + 1] - bounds[cell]
            off = px - bounds[cell]
            return bounds, (off + 0.5) / size, (off == 0) & (size >= 4)

        by, v, ey = axis(grid_h, height)
        bx, u, ex = axis(grid_w, width)
        u = np.broadcast_to(u[None, :], (height, width))
        v = np.broadcast_to(v[:, None], (height, width))
        edge = ey[:, None] | ex[None, :]
        full = np.zeros((kinds, height, width, 3), np.uint8)  # every cell of one kind
        full[K_WALL] = WALL
        full[K_BACK] = CARD_BACK
        for f in range(NUM_FACES):
            colour, shape = COLOURS[f % len(COLOURS)], f // len(COLOURS)
            mask = _shape_mask(shape, u, v)
            for kind, bg in ((K_UP + f, FACE_UP_BG), (K_MATCHED + f, MATCHED_BG)):
                full[kind] = bg
                full[kind][mask] = colour
            if kinds > K_HINT:
                full[K_HINT + f] = CARD_BACK
                full[K_HINT + f][_shape_mask(shape, u, v, 0.5)] = colour
        full[:, edge] = WALL
        self.shape = (height, width)
        self.slices = [
            (slice(by[i], by[i + 1]), slice(bx[j], bx[j + 1]))
            for i in range(grid_h)
            for j in range(grid_w)
        ]
        self.tiles = [np.ascontiguousarray(full[:, ys, xs]) for ys, xs in self.slices]
        # equal cells (image side a multiple of the grid): one gather and a transpose do it all
        self.uniform = height % grid_h == 0 and width % grid_w == 0
        self.grid = (grid_h, grid_w, height // grid_h, width // grid_w)

    def paint(self, kinds: np.ndarray) -> np.ndarray:
        """Images [B, H, W, 3] for tile kinds [B, grid_h * grid_w]."""
        b = kinds.shape[0]
        if self.uniform:  # every cell has the same tiles
            gh, gw, ch, cw = self.grid
            img = self.tiles[0][kinds].reshape(b, gh, gw, ch, cw, 3)
            return img.transpose(0, 1, 3, 2, 4, 5).reshape(b, gh * ch, gw * cw, 3)
        out = np.empty((b, *self.shape, 3), np.uint8)
        for cell, (ys, xs) in enumerate(self.slices):
            out[:, ys, xs] = self.tiles[cell][kinds[:, cell]]
        return out


class MemoryGameCore(TaskCore):
    """Game state of B MemoryGame copies as NumPy arrays."""

    name = "MemoryGame"
    state_keys = ("t", "row", "col", "face", "status")
    _estimate_random = True  # False in the core that random_return() simulates

    def __init__(
        self,
        num_envs: int,
        rows: int = 3,
        cols: int = 4,
        max_steps: int = 100,
        view: int = 3,
        image_size: int = 24,
    ) -> None:
        super().__init__(num_envs)
        self.rows = check_int(self.name, "rows", rows, 1, 6)
        self.cols = check_int(self.name, "cols", cols, 1, 8)
        if (self.rows * self.cols) % 2:
            raise ValueError(
                f"{self.name}: rows * cols must be even (pairs of cards), got "
                f"{self.rows} x {self.cols}"
            )
        self.max_steps = check_int(self.name, "max_steps", max_steps, 1)
        self.episode_length = self.max_steps  # truncated then; ends earlier when all are matched
        self.view = check_int(self.name, "view", view, 1, 9)
        if self.view % 2 == 0:
            raise ValueError(
                f"{self.name}: view must be odd (the cursor is the centre cell), got {view}"
            )
        s = check_int(self.name, "image_size", image_size, self.view)
        self.image_size = s
        self.cells = self.rows * self.cols
        self.pairs = self.cells // 2
        self.observation_space = spaces.Dict({"image": spaces.Box(0, 255, (s, s, 3), np.uint8)})
        self.action_space = spaces.Discrete(5)
        self.max_return = float(self.pairs)
        self.random_return = (
            random_return(self.rows, self.cols, self.max_steps)
            if self._estimate_random
            else float("nan")
        )
        self.painter = Painter(self.view, self.view, s, s, kinds=K_HINT)
        # the board padded with view // 2 wall cells on each side, as flat cell indices
        h = self.view // 2
        self._padded_cols = self.cols + 2 * h
        self._padded_size = (self.rows + 2 * h) * self._padded_cols
        self._cell = np.arange(self.cells)
        self._cell_r = self._cell // self.cols
        self._cell_c = self._cell % self.cols
        self._interior = (self._cell_r + h) * self._padded_cols + self._cell_c + h
        vr, vc = np.divmod(np.arange(self.view * self.view), self.view)
        self._view_offsets = vr * self._padded_cols + vc  # view cell -> padded offset
        self._ar = np.arange(self.num_envs)
        self._render_cell = 24  # render: pixels per board cell
        self._render_painter: Painter | None = None  # made on the first render
        n = self.num_envs
        self.t = np.zeros(n, np.int64)
        self.row = np.zeros(n, np.int64)
        self.col = np.zeros(n, np.int64)
        self.face = np.zeros((n, self.cells), np.int64)
        self.status = np.zeros((n, self.cells), np.int64)

    # ------------------------------------------------------------------ game
    def reset(self, mask: np.ndarray) -> None:
        m = mask[:, None]
        faces = self.rng.permutation(NUM_FACES, mask=mask)[:, : self.pairs]  # faces in play
        layout = self.rng.permutation(self.cells, mask=mask) // 2  # pair at each cell
        self.face = np.where(m, np.take_along_axis(faces, layout, axis=1), self.face)
        start = self.rng.integers(self.cells, mask=mask)
        self.row = np.where(mask, start // self.cols, self.row)
        self.col = np.where(mask, start % self.cols, self.col)
        self.status = np.where(m, FACE_DOWN, self.status)
        self.t = np.where(mask, 0, self.t)

    def step(self, actions: np.ndarray, mask: np.ndarray):
        ar = self._ar
        up = self.status == FACE_UP
        # a mismatch shown last step turns face down now
        hide = (mask & (up.sum(1) == 2))[:, None] & up
        status = np.where(hide, FACE_DOWN, self.status)
        # moves (off the board: stay)
        self.row = np.minimum(np.maximum(self.row + _DR[actions] * mask, 0), self.rows - 1)
        self.col = np.minimum(np.maximum(self.col + _DC[actions] * mask, 0), self.cols - 1)
        # flip
        here = self.row * self.cols + self.col
        flip = mask & (actions == FLIP) & (status[ar, here] == FACE_DOWN)
        status[ar[flip], here[flip]] = FACE_UP
        up = status == FACE_UP
        second = flip & (up.sum(1) == 2)
        other = np.argmax(up & (self._cell != here[:, None]), axis=1)
        match = second & (self.face[ar, other] == self.face[ar, here])
        status[ar[match], here[match]] = MATCHED
        status[ar[match], other[match]] = MATCHED
        self.status = status
        self.t = self.t + mask
        terminated = mask & (status == MATCHED).all(1)
        truncated = mask & ~terminated & (self.t >= self.max_steps)
        return match.astype(np.float32), terminated, truncated

    # ------------------------------------------------------------------ pictures
    def _board_kinds(self, hint: bool = False) -> np.ndarray:
        """Tile kind of every board cell [B, cells] (``hint``: face-down cards show their face)."""
        back = K_HINT + self.face if hint else np.full_like(self.face, K_BACK)
        return np.where(
            self.status == FACE_UP,
            K_UP + self.face,
            np.where(self.status == MATCHED, K_MATCHED + self.face, back),
        )

    def in_view(self) -> np.ndarray:
        """Which board cells [B, cells] are in the view around the cursor."""
        h = self.view // 2
        return (np.abs(self._cell_r - self.row[:, None]) <= h) & (
            np.abs(self._cell_c - self.col[:, None]) <= h
        )

    def view_kinds(self) -> np.ndarray:
        """Tile kinds of the view x view cells around the cursor [B, view * view] (off the board:
        wall)."""
        padded = np.full((self.num_envs, self._padded_size), K_WALL, np.int64)
        padded[:, self._interior] = self._board_kinds()
        corner = self.row * self._padded_cols + self.col  # top-left view cell, in the padded board
        return padded[self._ar[:, None], corner[:, None] + self._view_offsets]

    def observation(self) -> dict[str, np.ndarray]:
        return {"image": self.painter.paint(self.view_kinds())}

    def render(self, index: int = 0) -> np.ndarray:
        """The whole board (hidden faces drawn small on the card backs, cursor framed in orange)
        beside the agent's view."""
        px, h = self._render_cell, self.view // 2
        gh, gw = self.rows + 2 * h, self.cols + 2 * h
        if self._render_painter is None:
            self._render_painter = Painter(gh, gw, gh * px, gw * px, kinds=K_HINT + NUM_FACES)
        board = np.full((gh, gw), K_WALL, np.int64)
        board[h : h + self.rows, h : h + self.cols] = self._board_kinds(hint=True)[index].reshape(
            self.rows, self.cols
        )
        img = self._render_painter.paint(board.reshape(1, -1))[0].copy()
        y, x = (self.row[index] + h) * px, (self.col[index] + h) * px
        ring = np.ones((px, px), bool)
        ring[3:-3, 3:-3] = False
        img[y : y + px, x : x + px][ring] = CURSOR
        obs = self.painter.paint(self.view_kinds()[index : index + 1])[0]
        obs = upscale(obs, max(1, img.shape[0] // self.image_size))
        height = max(img.shape[0], obs.shape[0])
        out = np.full((height, img.shape[1] + px // 2 + obs.shape[1], 3), 255, np.uint8)
        out[: img.shape[0], : img.shape[1]] = img
        out[: obs.shape[0], img.shape[1] + px // 2 :] = obs
        return out

    # ------------------------------------------------------------------ oracle
    def oracle(self) -> np.ndarray:
        """Walk to the nearest face-down card and flip it, then walk to its twin and flip it."""
        up = self.status == FACE_UP
        pending = up & (up.sum(1) == 2)[:, None]  # a shown mismatch: face down after this step
        status = np.where(pending, FACE_DOWN, self.status)
        up = status == FACE_UP
        first = np.argmax(up, axis=1)
        ar = self._ar
        dist = np.abs(self._cell_r - self.row[:, None]) + np.abs(self._cell_c - self.col[:, None])
        down = status == FACE_DOWN
        nearest = np.argmin(np.where(down, dist, 1 << 20), axis=1)
        twin = np.argmax(down & (self.face == self.face[ar, first][:, None]), axis=1)
        return walk(self, np.where(up.any(1), twin, nearest))


def walk(core: MemoryGameCore, target: np.ndarray) -> np.ndarray:
    """Actions [B] that move each copy's cursor one cell towards its ``target`` cell [B] (flat
    index), rows first, and flip once it is there."""
    tr, tc = target // core.cols, target % core.cols
    return np.select(
        [tr < core.row, tr > core.row, tc < core.col, tc > core.col],
        [UP, DOWN, LEFT, RIGHT],
        FLIP,
    ).astype(np.int64)


@functools.lru_cache(maxsize=None)
def random_return(rows: int, cols: int, max_steps: int, episodes: int | None = None) -> float:
    """Mean return of a uniformly random policy, estimated by simulating ``episodes`` episodes
    (default: 2048, fewer -- down to 64 -- when ``max_steps`` exceeds 100) with fixed seeds
    (deterministic; cached; about 0.1 s with the defaults)."""
    if episodes is None:
        episodes = max(64, min(2048, 204_800 // max_steps))

    class Simulated(MemoryGameCore):
        _estimate_random = False

    core = Simulated(episodes, rows=rows, cols=cols, max_steps=max_steps, view=1, image_size=1)
    core.rng.seed(np.arange(episodes) + 12345)
    core.reset(np.ones(episodes, bool))
    actions = np.random.default_rng(0)
    running, total = np.ones(episodes, bool), np.zeros(episodes)
    while running.any():
        reward, term, trunc = core.step(actions.integers(5, size=episodes), running)
        total += reward
        running &= ~(term | trunc)
    return round(float(total.mean()), 3)


class MemoryGameEnv(TaskEnv):
    """Single MemoryGame environment (see the module docstring)."""

    core_cls = MemoryGameCore


class MemoryGameVectorEnv(TaskVectorEnv):
    """B copies of MemoryGame stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = MemoryGameCore
