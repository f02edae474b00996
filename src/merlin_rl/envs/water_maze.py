"""WaterMaze: find a hidden platform in a square arena from a first-person view, again and again.

A version of the Morris water maze (Morris 1981; the MERLIN paper's "Water Maze"). The arena is the
square [0, 1]^2, seen from above with y pointing up; heading 0 faces +x (east) and grows
counter-clockwise. Each wall is split into 3 segments of distinct colours (12 distal cues in all, a
hue wheel running counter-clockwise from red at the west end of the south wall), so the view
tells where the agent is and which way it faces.

Episode (``episode_steps`` steps, default 200, then truncated; it never terminates):

* at the start a goal disc of radius ``goal_radius`` is placed at random (centre uniform in
  ``[goal_radius + 0.05, 0.95 - goal_radius]^2``), fixed for the whole episode and never drawn in
  the agent's view (it is "under the water");
* the agent starts at a random position (uniform over the arena, at least ``goal_radius + 0.2``
  from the goal centre) and a random heading;
* each step the agent turns and/or swims ``STEP`` = 0.05 along its new heading; positions are
  clipped to ``[MARGIN, 1 - MARGIN]`` (MARGIN = 0.02), so it slides along the walls;
* when the step's path (the segment from the old to the new position) enters the goal disc the
  agent gets reward +1 and is teleported to a new random start position and heading (a new trial,
  same goal). Several trials fit in an episode.

Observations (``Dict``):

* ``"image"``: uint8 (S, S, 3), S = ``image_size`` (default 16): a "2.5D" ray-cast first-person
  view with a 90 degree field of view, one ray per column; each column shows a wall slice of height
  proportional to 1 / (perpendicular distance) (fish-eye corrected), coloured by the cue segment the
  ray hits and darkened with distance, over a grey sky and a blue floor;
* ``"velocity"``: float32 (3,) in [-1, 1], the agent's own motion over the last step in its new
  egocentric frame: [forward, leftward, counter-clockwise turn], the displacement in units of
  ``STEP`` and the turn in units of ``TURN`` (30 degrees). It is zero after a reset or a
  teleport; sliding along a wall gives a smaller forward and a non-zero lateral value.

Actions (``Discrete(5)``): 0 swim forward, 1 turn left, 2 turn right, 3 turn left and swim,
4 turn right and swim (the turn comes first).

Rewards: +1 per trial completed (goal reached), 0 otherwise.

Knobs (defaults): ``image_size`` (16), ``episode_steps`` (200, at least 1), ``goal_radius``
(0.1, in [0.02, 0.25]).

Returns. ``max_return`` is the expected return of :meth:`WaterMazeCore.oracle` (turn towards the
goal, swim straight to it; about 11.6 steps per trial), not a hard bound (``max_return_is_mean =
True``): 17.22 with the defaults (20,480 episodes, standard deviation 2.05). ``random_return``
(uniform random actions): 0.549 with the defaults (20,480 episodes, sd 0.74). The defaults' values
are the table ``MEASURED_RETURNS``; for other knob values both are estimated when a core is made,
by simulating 128 oracle and 1024 random episodes with fixed seeds (no images; cached per
(episode_steps, goal_radius), a fraction of a second of CPU).

Why it needs memory: the platform is invisible and moves every episode, so the first trial is a
search. After that, an agent that remembers where it found the platform (relative to the wall cues,
or by integrating its velocity) can swim straight back from any start, about 11.6 steps a trial;
a memoryless agent has to search anew each trial (a random walk finds the platform about once in
200 steps; even a systematic sweep of the arena, which the cues make possible, is of order a hundred
steps long).

The batched :class:`WaterMazeVectorEnv` steps all copies with NumPy at once (autoreset mode
``NEXT_STEP``); :class:`WaterMazeEnv` is the single env. Both wrap :class:`WaterMazeCore` (see
:mod:`merlin_rl.envs.base`), so copy i of a batched env seeded with s behaves exactly like a single
env seeded with s + i.
"""

from __future__ import annotations

import colorsys
import functools
import math

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, TaskEnv, TaskVectorEnv, check_int, upscale

STEP = 0.05  # distance swum by a forward action
TURN = math.radians(30.0)  # heading change of a turning action
FOV = math.radians(90.0)  # horizontal field of view of the image
MARGIN = 0.02  # the agent's centre stays this far from the walls
SEGMENTS = 3  # cue segments per wall
WALL_HEIGHT = 0.25  # a wall this far away (perpendicular) fills the image height
SHADE = 0.4  # a wall sqrt(2) away is darkened by this fraction
START_GAP = 0.2  # starts are at least goal_radius + START_GAP from the goal centre
START_CANDIDATES = 8  # rejection sampling of starts: candidates drawn per start
SOUTH, EAST, NORTH, WEST = 0, 1, 2, 3
# action -> turn (in units of TURN, counter-clockwise) and whether it swims
ACTION_TURN = np.array([0, 1, -1, 1, -1], np.int64)
ACTION_SWIM = np.array([1, 0, 0, 1, 1], np.int64)
ACTION_NAMES = ("forward", "left", "right", "forward+left", "forward+right")

# wall w, segment s -> CUE_COLOURS[w * SEGMENTS + s]: a hue wheel, counter-clockwise from red
CUE_COLOURS = np.array(
    [
        [round(255 * c) for c in colorsys.hsv_to_rgb(k / (4 * SEGMENTS), 1.0, 1.0)]
        for k in range(4 * SEGMENTS)
    ],
    np.float64,
)
SHADE_LEVELS = 32
_FAR = math.sqrt(2)
# cue colour k at distance level l (0 near .. SHADE_LEVELS-1 at sqrt(2) or more): row k*L + l
SHADED_CUES = np.concatenate(
    [
        (CUE_COLOURS[k] * (1.0 - SHADE * np.linspace(0, 1, SHADE_LEVELS))[:, None]).astype(np.uint8)
        for k in range(len(CUE_COLOURS))
    ]
)
SKY = np.array([200, 200, 205], np.float64)
FLOOR = np.array([40, 80, 140], np.float64)


# ray quadrant q (0 south, 1 north, 2 west, 3 east) -> wall, and along = BASE + SIGN * hit x or y
_Q_WALL = np.array([SOUTH, NORTH, WEST, EAST])
_Q_BASE = np.array([0.0, 1.0, 1.0, 0.0])
_Q_SIGN = np.array([1.0, -1.0, -1.0, 1.0])


def cast_rays(pos: np.ndarray, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cast rays from positions ``pos`` [B, 2] (inside the unit square) at absolute angles
    ``angles`` [B, W]; returns (distance [B, W], wall hit [B, W] in SOUTH/EAST/NORTH/WEST, position
    along that wall in [0, 1] [B, W], measured counter-clockwise: south x, east y, north 1 - x,
    west 1 - y)."""
    dx, dy = np.cos(angles), np.sin(angles)
    x, y = pos[:, 0:1], pos[:, 1:2]
    with np.errstate(divide="ignore"):  # a ray parallel to a wall: t = inf
        tx = np.where(dx > 0, 1.0 - x, x) / np.abs(dx)
        ty = np.where(dy > 0, 1.0 - y, y) / np.abs(dy)
    vertical = tx < ty  # an east or west wall comes first
    dist = np.minimum(tx, ty)
    # q: 0 south, 1 north, 2 west, 3 east; the hit point's x (south/north) or y (west/east)
    q = 2 * vertical + np.where(vertical, dx > 0, dy > 0)
    hit = np.where(vertical, y + dist * dy, x + dist * dx)
    wall = _Q_WALL[q]
    along = np.clip(_Q_BASE[q] + _Q_SIGN[q] * hit, 0.0, 1.0)
    return dist, wall, along


def segment_of(along: np.ndarray) -> np.ndarray:
    """Cue segment (0 .. SEGMENTS-1) of positions along a wall in [0, 1]."""
    return np.minimum((along * SEGMENTS).astype(np.int64), SEGMENTS - 1)


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles mapped to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


def steer(pos: np.ndarray, heading: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Actions [B] that head from ``pos`` [B, 2] at ``heading`` [B] towards ``target`` [B, 2]:
    swim straight when the bearing is within half a turn, turn and swim within one and a half,
    else turn on the spot."""
    bearing = np.arctan2(target[:, 1] - pos[:, 1], target[:, 0] - pos[:, 0])
    diff = wrap_angle(bearing - heading)
    left = diff > 0
    swim_turn = np.where(left, 3, 4)
    turn_only = np.where(left, 1, 2)
    return np.where(
        np.abs(diff) <= TURN / 2, 0, np.where(np.abs(diff) <= 1.5 * TURN, swim_turn, turn_only)
    ).astype(np.int64)


def _check_radius(task: str, value: object) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not 0.02 <= float(value) <= 0.25:
        raise ValueError(f"{task}: goal_radius must be a number in [0.02, 0.25], got {value!r}")
    return float(value)


class _Maze(TaskCore):
    """The game itself (everything but the expected returns, which are estimated with it)."""

    name = "WaterMaze"
    state_keys = ("pos", "heading", "goal", "velocity", "t", "trials")

    def __init__(
        self,
        num_envs: int,
        image_size: int = 16,
        episode_steps: int = 200,
        goal_radius: float = 0.1,
    ) -> None:
        super().__init__(num_envs)
        s = self.image_size = check_int(self.name, "image_size", image_size, 1)
        self.episode_steps = check_int(self.name, "episode_steps", episode_steps, 1)
        self.episode_length = self.episode_steps  # every episode (truncated; never terminates)
        self.goal_radius = _check_radius(self.name, goal_radius)
        self.observation_space = spaces.Dict(
            {
                "image": spaces.Box(0, 255, (s, s, 3), np.uint8),
                "velocity": spaces.Box(-1.0, 1.0, (3,), np.float32),
            }
        )
        self.action_space = spaces.Discrete(len(ACTION_TURN))
        # column c looks at heading + offsets[c]: the leftmost column at +FOV/2
        self.offsets = FOV / 2 - (np.arange(s) + 0.5) * FOV / s
        self.cos_offsets = np.cos(self.offsets)
        rows = np.arange(s) + 0.5 - s / 2  # pixel rows from the horizon
        self.row_offsets = np.abs(rows)
        floor = FLOOR * (0.6 + 0.4 * np.clip(rows / (s / 2), 0, 1))[:, None]  # darker far away
        self.background_rows = np.where(rows[:, None] < 0, SKY, floor).astype(np.uint8)  # [S, 3]
        self._background: dict[int, np.ndarray] = {}
        b = self.num_envs
        self.pos = np.full((b, 2), 0.5)
        self.heading = np.zeros(b)
        self.goal = np.full((b, 2), 0.5)
        self.velocity = np.zeros((b, 3), np.float32)
        self.t = np.zeros(b, np.int64)
        self.trials = np.zeros(b, np.int64)

    # ------------------------------------------------------------------ dynamics
    def _new_starts(self, mask: np.ndarray) -> None:
        """Random start positions (away from the goal) and headings for the copies in ``mask``."""
        lo, hi = MARGIN, 1.0 - MARGIN
        u = self.rng.random((2 * START_CANDIDATES + 1,), mask)
        cx = lo + (hi - lo) * u[:, 0:START_CANDIDATES]  # [B, K]
        cy = lo + (hi - lo) * u[:, START_CANDIDATES : 2 * START_CANDIDATES]
        gx, gy = self.goal[:, 0:1], self.goal[:, 1:2]
        ok = (cx - gx) ** 2 + (cy - gy) ** 2 >= (self.goal_radius + START_GAP) ** 2
        k = np.argmax(ok, axis=1)  # the first candidate far enough away
        rows = np.arange(self.num_envs)
        start = np.stack([cx[rows, k], cy[rows, k]], axis=1)
        corner = np.where(self.goal < 0.5, hi, lo)  # (never needed in practice) the far corner
        start = np.where(ok[rows, k][:, None], start, corner)
        self.pos = np.where(mask[:, None], start, self.pos)
        self.heading = np.where(mask, (2 * np.pi * u[:, -1]) % (2 * np.pi), self.heading)
        self.velocity[mask] = 0.0

    def reset(self, mask: np.ndarray) -> None:
        lo = self.goal_radius + 0.05
        goal = lo + (0.95 - self.goal_radius - lo) * self.rng.random((2,), mask)
        self.goal = np.where(mask[:, None], goal, self.goal)
        self.t[mask] = 0
        self.trials[mask] = 0
        self._new_starts(mask)

    def step(self, actions: np.ndarray, mask: np.ndarray):
        b = self.num_envs
        actions = np.asarray(actions, np.int64)
        turn = np.take(ACTION_TURN, actions) * mask  # copies outside the mask do not move
        heading = self.heading + TURN * turn
        heading %= 2 * np.pi
        fwd = np.empty((b, 2))  # unit vector along the new heading
        np.cos(heading, out=fwd[:, 0])
        np.sin(heading, out=fwd[:, 1])
        old = self.pos
        new = old + (STEP * np.take(ACTION_SWIM, actions) * mask)[:, None] * fwd
        np.maximum(new, MARGIN, out=new)
        np.minimum(new, 1.0 - MARGIN, out=new)
        move = new - old
        # own motion in the new egocentric frame: forward, leftward (units of STEP), turn
        velocity = np.empty((b, 3), np.float32)
        velocity[:, 0] = (move[:, 0] * fwd[:, 0] + move[:, 1] * fwd[:, 1]) / STEP
        velocity[:, 1] = (move[:, 1] * fwd[:, 0] - move[:, 0] * fwd[:, 1]) / STEP
        velocity[:, 2] = turn
        # did the path from the old to the new position enter the goal disc? u: closest point
        to_goal = self.goal - old
        u = (to_goal * move).sum(1) / np.maximum((move * move).sum(1), 1e-12)
        miss = to_goal - np.minimum(np.maximum(u, 0.0), 1.0)[:, None] * move
        reached = mask & ((miss * miss).sum(1) < self.goal_radius**2)
        self.heading, self.pos = heading, new
        self.velocity = np.where(
            mask[:, None], np.minimum(np.maximum(velocity, -1), 1), self.velocity
        )
        self.t = self.t + mask
        self.trials = self.trials + reached
        if reached.any():
            self._new_starts(reached)
        truncated = mask & (self.t >= self.episode_steps)
        return reached.astype(np.float32), np.zeros(b, bool), truncated

    # ------------------------------------------------------------------ views
    def images(self, pos: np.ndarray, heading: np.ndarray) -> np.ndarray:
        """First-person views uint8 [B, S, S, 3] from positions [B, 2] and headings [B]."""
        b, s = len(pos), self.image_size
        dist, wall, along = cast_rays(pos, heading[:, None] + self.offsets)
        level = (np.minimum(dist, _FAR) * ((SHADE_LEVELS - 1) / _FAR) + 0.5).astype(np.int64)
        colour = SHADED_CUES[(wall * SEGMENTS + segment_of(along)) * SHADE_LEVELS + level]
        half = (0.5 * s * WALL_HEIGHT) / (dist * self.cos_offsets)  # [B, W], in pixel rows
        # composed as [S rows, B * W * 3] (long inner loops), then moved to [B, S, W, 3]
        on_wall = self.row_offsets[:, None] < np.repeat(half.reshape(-1), 3)[None, :]
        background = self._background.get(b)
        if background is None:
            background = self._background[b] = np.tile(self.background_rows, (1, b * s))
        image = background + on_wall.view(np.uint8) * (colour.reshape(1, -1) - background)
        image = np.ascontiguousarray(image.reshape(s, b, s * 3).transpose(1, 0, 2))
        return image.reshape(b, s, s, 3)

    def observation(self) -> dict[str, np.ndarray]:
        return {"image": self.images(self.pos, self.heading), "velocity": self.velocity.copy()}

    def render(self, index: int = 0) -> np.ndarray:
        """Top-down map (cue walls, hidden goal disc, agent, field of view) | the agent's view."""
        view = self.images(self.pos[index : index + 1], self.heading[index : index + 1])[0]
        view = upscale(view, max(1, -(-128 // self.image_size)))
        m = view.shape[0]
        bt = max(3, m // 24)  # wall band, pixels
        n = m - 2 * bt  # arena side, pixels
        ii, jj = np.mgrid[0:m, 0:m]
        x, y = (jj - bt + 0.5) / n, 1.0 - (ii - bt + 0.5) / n
        canvas = np.empty((m, m, 3))
        canvas[:] = FLOOR * 1.5
        for wall, band, along in (
            (SOUTH, ii >= m - bt, x),
            (NORTH, ii < bt, 1 - x),
            (EAST, jj >= m - bt, y),
            (WEST, jj < bt, 1 - y),
        ):
            idx = wall * SEGMENTS + segment_of(np.clip(along, 0, 1))
            canvas[band] = CUE_COLOURS[idx[band]]
        inside = (ii >= bt) & (ii < m - bt) & (jj >= bt) & (jj < m - bt)
        gx, gy = self.goal[index]
        d = np.hypot(x - gx, y - gy)
        disc = inside & (d < self.goal_radius)
        canvas[disc] = 0.5 * canvas[disc] + 0.5 * 255
        canvas[disc & (d > self.goal_radius - 1.5 / n)] = 255
        px, py = self.pos[index]
        h = self.heading[index]

        def line(x1: float, y1: float, colour: np.ndarray) -> None:
            for u in np.linspace(0, 1, 2 * m):
                i = int((1 - (py + u * (y1 - py))) * n + bt)
                j = int((px + u * (x1 - px)) * n + bt)
                if bt <= i < m - bt and bt <= j < m - bt:
                    canvas[i, j] = colour

        edges = h + np.array([FOV / 2, -FOV / 2])
        dist, _, _ = cast_rays(self.pos[index : index + 1], edges[None])
        for a, dd in zip(edges, dist[0]):
            line(px + dd * math.cos(a), py + dd * math.sin(a), np.array([230.0, 230, 230]))
        canvas[inside & (np.hypot(x - px, y - py) < 0.035)] = 0
        line(px + 0.09 * math.cos(h), py + 0.09 * math.sin(h), np.zeros(3))
        gap = np.full((m, 4, 3), 40, np.uint8)
        return np.concatenate([canvas.astype(np.uint8), gap, view], axis=1)

    def oracle(self) -> np.ndarray:
        """Turn towards the goal (swimming too once that leaves the heading within half a turn
        of it) and swim straight to it."""
        return steer(self.pos, self.heading, self.goal)


# (episode_steps, goal_radius) -> (oracle, random) mean returns measured over 20,480 episodes each
MEASURED_RETURNS = {(200, 0.1): (17.22, 0.549)}


@functools.lru_cache(maxsize=64)
def estimate_returns(
    episode_steps: int, goal_radius: float, oracle_episodes: int = 128, random_episodes: int = 1024
) -> tuple[float, float]:
    """(oracle, random) mean returns, one simulated episode per copy with fixed seeds, no images."""
    means = []
    for episodes, oracle in ((oracle_episodes, True), (random_episodes, False)):
        core = _Maze(episodes, image_size=1, episode_steps=episode_steps, goal_radius=goal_radius)
        core.rng.seed(np.arange(episodes) + (1_000_003 if oracle else 2_000_003))
        every = np.ones(episodes, bool)
        core.reset(every)
        actions = np.random.default_rng(0).integers(
            len(ACTION_TURN), size=(episode_steps, episodes)
        )
        total = np.zeros(episodes)
        for t in range(episode_steps):
            total += core.step(core.oracle() if oracle else actions[t], every)[0]
        means.append(float(total.mean()))
    return means[0], means[1]


class WaterMazeCore(_Maze):
    """Game state of B WaterMaze copies as NumPy arrays (see the module docstring)."""

    max_return_is_mean = True  # max_return is the oracle's expected return, not a bound
    oracle_tolerance = 1.2  # ~3 standard errors of a 32-episode oracle mean (sd 2.05)
    random_tolerance = 0.15  # ~4 standard errors of a 400-episode random mean (sd 0.74)

    def __init__(
        self,
        num_envs: int,
        image_size: int = 16,
        episode_steps: int = 200,
        goal_radius: float = 0.1,
    ) -> None:
        super().__init__(num_envs, image_size, episode_steps, goal_radius)
        key = (self.episode_steps, self.goal_radius)
        self.max_return, self.random_return = (
            MEASURED_RETURNS[key] if key in MEASURED_RETURNS else estimate_returns(*key)
        )


class WaterMazeEnv(TaskEnv):
    """Single WaterMaze environment (see the module docstring)."""

    core_cls = WaterMazeCore


class WaterMazeVectorEnv(TaskVectorEnv):
    """B copies of WaterMaze stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = WaterMazeCore
