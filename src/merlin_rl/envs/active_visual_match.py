"""ActiveVisualMatch: find a coloured square, eat apples for a long while, then pick its colour.

A three-phase memory task after Hung et al. 2019 ("Optimizing agent behavior over long time scales
by transporting value"), on the grid world of :mod:`merlin_rl.envs.gridworld`. The agent walks
through three ``room_size`` x ``room_size`` rooms (default 7 x 7), one per phase; each phase lasts
a fixed number of steps, then the agent is teleported to the middle of the next room (each room has
its own floor tint):

1. explore, ``explore_steps`` (15) steps: one square of a random colour (of a palette of 8) at a
   random cell that is NOT in view from the start (the agent sees only 5 x 5 cells around itself),
   so the agent has to walk until the square comes into view (with ``room_size`` <= 5 every cell
   is in view from the start cell, and the square is placed on any free cell). Nothing is rewarded;
2. distractor, ``distractor_steps`` (45) steps: ``num_apples`` (4) apples at random cells, each
   worth ``apple_reward`` (1) when walked onto;
3. final, up to ``final_steps`` (15) steps: ``num_colours`` (4) squares of different colours at
   random cells (never next to each other), one of them the colour of phase 1. Walking onto the
   matching one gives ``final_reward`` (5), onto another one 0; either ends the episode, as does
   the end of the phase (``terminated``).

Episodes last at most 15 + 45 + 15 = 75 steps at the defaults.

Observations: ``{"image": uint8 (S, S, 3)}``, S = ``image_size`` (default 20): the 5 x 5 cells
around the agent (egocentric; the agent is the white blob in the middle, cells beyond the room are
walls), each cell a ceil(S / 5)-pixel tile (:mod:`merlin_rl.envs.gridworld`). Actions:
Discrete(4): up, down, left, right.

Maximum return: ``final_reward + num_apples * apple_reward`` = 9 at the defaults. The oracle
(:meth:`ActiveVisualMatchCore.oracle`: walk to the cue square, greedily to the nearest apple, then
to the matching square around the others) reaches it whenever the distractor and final phases are
long enough for the worst case of these walks, which holds at the defaults (4 apples take at most
6 + 3 * 12 = 42 <= 45 steps; the matching square is at most 6 + 2 steps away), so at the defaults
9 is both the hard bound and the oracle's return (with other knobs, the core's
``oracle_reaches_max`` says whether the worst case fits).

A uniformly random policy: 2.08 at the defaults (measured over 100,000 episodes: 1.46 apples,
the match in 12.3 % of the episodes); with other knobs ``random_return`` is a Monte Carlo estimate
(1,024 episodes) made when the env is built. An agent that eats every apple and always reaches
some square but has forgotten the colour gets 4 + 5 / num_colours = 5.25 on average.

Why memory: the colour is seen only in phase 1 and must be recalled 45+ steps later, after an
apple phase whose rewards are noise with respect to it; the agent also has to learn to go and look
(seeing the colour earns nothing at the time). The distractor phase is longer than the truncation
window of backpropagation through time (tau = 20 by default), so an agent without memory to carry
the colour (and the credit for looking) across it chooses at chance.

Knobs (defaults): ``room_size`` (7, in [3, 15]), ``explore_steps`` (15), ``distractor_steps``
(45), ``final_steps`` (15), ``num_apples`` (4, at most room_size**2 - 1), ``num_colours`` (4, in
[2, 8], at most the cells with even coordinates in the room), ``apple_reward`` (1.0),
``final_reward`` (5.0), ``image_size`` (20, in [5, 256]), ``show_cue`` (false; true adds
``"cue"``, the cue's colour index (Discrete(8), PALETTE's order), to every observation: the
memoryless control, which measures how much of the task is the choice by colour rather than
remembering the colour).
The batched :class:`ActiveVisualMatchVectorEnv` steps all copies in NumPy at once (autoreset
``NEXT_STEP``); :class:`ActiveVisualMatchEnv` is the single env; copy i of a batched env seeded s
behaves exactly like a single env seeded s + i.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskEnv, TaskVectorEnv, check_int
from merlin_rl.envs.gridworld import APPLE, COLOUR0, PALETTE, VIEW_RADIUS, WALL, RoomsCore

DEFAULTS = dict(
    room_size=7,
    explore_steps=15,
    distractor_steps=45,
    final_steps=15,
    num_apples=4,
    apple_reward=1.0,
    final_reward=5.0,
    num_colours=4,
)


class ActiveVisualMatchCore(RoomsCore):
    """Game state of B ActiveVisualMatch copies as NumPy arrays (rooms, position, phase, colour)."""

    name = "ActiveVisualMatch"
    state_keys: ClassVar[tuple[str, ...]] = RoomsCore.state_keys + ("target",)
    defaults = DEFAULTS
    default_random_return = 2.08

    def __init__(
        self,
        num_envs: int,
        room_size: int = 7,
        explore_steps: int = 15,
        distractor_steps: int = 45,
        final_steps: int = 15,
        num_apples: int = 4,
        num_colours: int = 4,
        apple_reward: float = 1.0,
        final_reward: float = 5.0,
        image_size: int = 20,
        show_cue: bool = False,
    ) -> None:
        # squares of the final room go on cells with even interior coordinates (never adjacent,
        # so each stays reachable around the others); the start cell is never used
        n = check_int(self.name, "room_size", room_size, 3, 15)
        even = (n + 1) // 2
        slots = even * even - (1 if (n // 2) % 2 == 0 else 0)
        self.num_colours = check_int(
            self.name, "num_colours", num_colours, 2, min(len(PALETTE), slots)
        )
        if not isinstance(show_cue, bool):
            raise ValueError(f"{self.name}: show_cue must be true or false, got {show_cue!r}")
        self.show_cue = show_cue
        extra = {"num_colours": self.num_colours, **({"show_cue": True} if show_cue else {})}
        super().__init__(
            num_envs,
            room_size=room_size,
            explore_steps=explore_steps,
            distractor_steps=distractor_steps,
            final_steps=final_steps,
            num_apples=num_apples,
            apple_reward=apple_reward,
            final_reward=final_reward,
            image_size=image_size,
            extra_knobs=extra,
        )
        if show_cue:  # the memoryless control: the cue's colour index at every step
            self.observation_space = spaces.Dict(
                {**self.observation_space.spaces, "cue": spaces.Discrete(len(PALETTE))}
            )
        self.target = np.full(self.num_envs, COLOUR0, np.int8)  # code of the cue colour
        r, p = self.pad, self.p
        cy, cx = self.interior // p, self.interior % p
        sy, sx = divmod(self.start, p)
        away = np.maximum(abs(cy - sy), abs(cx - sx)) > VIEW_RADIUS
        self.cue_cells = self.interior[away] if away.any() else self.free_cells
        even_cells = ((cy - r) % 2 == 0) & ((cx - r) % 2 == 0)
        self.square_cells = self.interior[even_cells & (self.interior != self.start)]
        self.oracle_reaches_max = bool(
            self.phase_steps[2] >= self.d_start + 2
            and (
                self.num_apples == 0
                or self.phase_steps[1] >= self.d_start + (self.num_apples - 1) * self.d_room
            )
        )

    def _draw_sizes(self) -> list[tuple[int, int]]:
        k = self.num_colours
        return [(len(PALETTE), k), (len(self.cue_cells), 1), (len(self.square_cells), k)]

    def _populate(self, mask: np.ndarray) -> None:
        k = self.num_colours
        colours = (COLOUR0 + self._distinct(len(PALETTE), k, mask)).astype(np.int8)
        self.target = np.where(mask, colours[:, 0], self.target)
        self._put(0, self._draw_cells(self.cue_cells, 1, mask), colours[:, :1], mask)
        self._put(2, self._draw_cells(self.square_cells, k, mask), colours, mask)

    def _enter(self, code: np.ndarray, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        chose = (self.phase == 2) & (code >= COLOUR0)
        right = chose & (code == self.target)
        return np.where(right, np.float32(self.final_reward), np.float32(0.0)), chose

    def observation(self) -> dict[str, np.ndarray]:
        obs = super().observation()
        if self.show_cue:
            obs["cue"] = (self.target - COLOUR0).astype(np.int64)
        return obs

    def _status(self, index: int) -> list[int]:
        return [int(self.target[index])]

    def oracle(self) -> np.ndarray:
        """Walk to the cue square, then greedily to the nearest apple, then to the matching
        square, around the other squares."""
        room = self._current()
        phase = self.phase[:, None, None]
        is_target = room == self.target[:, None, None]
        goal = np.where(phase == 1, room == APPLE, is_target)
        passable = (room != WALL) & ((phase != 2) | (room < COLOUR0))
        return self._path_actions(goal, passable)


class ActiveVisualMatchEnv(TaskEnv):
    """Single ActiveVisualMatch environment (see the module docstring)."""

    core_cls = ActiveVisualMatchCore


class ActiveVisualMatchVectorEnv(TaskVectorEnv):
    """B copies of ActiveVisualMatch stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = ActiveVisualMatchCore
