"""KeyToDoor: pick up a key, eat apples for a long while, then open a door with the key.

A three-phase temporal credit assignment task after Hung et al. 2019 ("Optimizing agent behavior
over long time scales by transporting value"), on the grid world of :mod:`merlin_rl.envs.gridworld`.
The agent walks through three ``room_size`` x ``room_size`` rooms (default 7 x 7), one per phase;
each phase lasts a fixed number of steps, then the agent is teleported to the middle of the next
room (each room has its own floor tint):

1. explore, ``explore_steps`` (15) steps: the room holds a key at a random cell; walking onto it
   picks it up (no reward; the key is not shown afterwards);
2. distractor, ``distractor_steps`` (45) steps: ``num_apples`` (4) apples at random cells, each
   worth ``apple_reward`` (1) when walked onto;
3. final, up to ``final_steps`` (15) steps: a door at a random cell. Walking into it with the key
   gives ``final_reward`` (5) and ends the episode; without the key the door is locked (it blocks
   like a wall). The episode ends (``terminated``) when this phase times out.

Episodes last at most 15 + 45 + 15 = 75 steps at the defaults.

Observations: ``{"image": uint8 (S, S, 3)}``, S = ``image_size`` (default 20): the 5 x 5 cells
around the agent (egocentric; the agent is the white blob in the middle, cells beyond the room are
walls), each cell a ceil(S / 5)-pixel tile (:mod:`merlin_rl.envs.gridworld`). Actions:
Discrete(4): up, down, left, right.

Maximum return: ``final_reward + num_apples * apple_reward`` = 9 at the defaults. The oracle
(:meth:`KeyToDoorCore.oracle`: walk to the key, greedily to the nearest apple, then to the door)
reaches it whenever every phase is long enough for the worst case of these walks, which holds at
the defaults (the key and the door are at most 6 steps from the start; 4 apples take at most
6 + 3 * 12 = 42 <= 45 steps), so at the defaults 9 is both the hard bound and the oracle's return
(with other knobs, the core's ``oracle_reaches_max`` says whether the worst case fits).
A uniformly random policy: 1.62 at the defaults (measured over 100,000 episodes: it eats 1.46
apples and opens the door in 3.2 % of the episodes); with other knobs ``random_return`` is a
Monte Carlo estimate (1,024 episodes) made when the env is built. A policy that eats the apples
and walks to the door but never fetches the key gets 4 (its door is locked).

Why memory: picking up the key earns nothing at the time; its reward comes 45+ steps later, after
an apple phase whose rewards have nothing to do with the key. The distractor phase is longer than
the truncation window of backpropagation through time (tau = 20 by default) and the apples' reward
noise swamps the key's share of the return, so an agent that can carry "I have the key" (and the
credit for fetching it) only in its recurrent state learns to eat the apples and walk to the door,
but not to fetch the key; to learn that, the fact must be kept in memory across the distractor
phase and linked to the door's reward.

Knobs (defaults): ``room_size`` (7, in [3, 15]), ``explore_steps`` (15), ``distractor_steps``
(45), ``final_steps`` (15), ``num_apples`` (4, at most room_size**2 - 1), ``apple_reward``
(1.0), ``final_reward`` (5.0), ``image_size`` (20, in [5, 256]).
The batched :class:`KeyToDoorVectorEnv` steps all copies in NumPy at once (autoreset ``NEXT_STEP``);
:class:`KeyToDoorEnv` is the single env; copy i of a batched env seeded s behaves exactly like a
single env seeded s + i.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from merlin_rl.envs.base import TaskEnv, TaskVectorEnv
from merlin_rl.envs.gridworld import APPLE, DOOR, FLOOR, KEY, WALL, RoomsCore

DEFAULTS = dict(
    room_size=7,
    explore_steps=15,
    distractor_steps=45,
    final_steps=15,
    num_apples=4,
    apple_reward=1.0,
    final_reward=5.0,
)


class KeyToDoorCore(RoomsCore):
    """Game state of B KeyToDoor copies as NumPy arrays (rooms, position, phase, key)."""

    name = "KeyToDoor"
    state_keys: ClassVar[tuple[str, ...]] = RoomsCore.state_keys + ("has_key",)
    defaults = DEFAULTS
    default_random_return = 1.62

    def __init__(
        self,
        num_envs: int,
        room_size: int = 7,
        explore_steps: int = 15,
        distractor_steps: int = 45,
        final_steps: int = 15,
        num_apples: int = 4,
        apple_reward: float = 1.0,
        final_reward: float = 5.0,
        image_size: int = 20,
    ) -> None:
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
        )
        self.has_key = np.zeros(self.num_envs, bool)
        d0, d1, k = self.d_start, self.d_room, self.num_apples
        self.oracle_reaches_max = bool(
            self.phase_steps[0] >= d0
            and self.phase_steps[2] >= d0
            and (k == 0 or self.phase_steps[1] >= d0 + (k - 1) * d1)
        )

    def _draw_sizes(self) -> list[tuple[int, int]]:
        return [(len(self.free_cells), 1)] * 2

    def _populate(self, mask: np.ndarray) -> None:
        self._put(0, self._draw_cells(self.free_cells, 1, mask), KEY, mask)
        self._put(2, self._draw_cells(self.free_cells, 1, mask), DOOR, mask)
        self.has_key[mask] = False

    def _blocked(self, code: np.ndarray) -> np.ndarray:
        return (code == DOOR) & ~self.has_key  # the door is locked without the key

    def _enter(self, code: np.ndarray, moved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        got = code == KEY
        if got.any():
            self.has_key |= got
            self.rooms.reshape(-1)[self._here()[got]] = FLOOR  # phase 0: the key room
        opened = code == DOOR  # only enterable with the key
        return np.where(opened, np.float32(self.final_reward), np.float32(0.0)), opened

    def _status(self, index: int) -> list[int]:
        return [KEY] if self.has_key[index] else []

    def oracle(self) -> np.ndarray:
        """Walk to the key, then greedily to the nearest apple, then to the door."""
        room = self._current()
        goal = np.where(
            (self.phase == 1)[:, None, None],
            room == APPLE,
            room == np.where(self.phase == 0, KEY, DOOR)[:, None, None],
        )
        return self._path_actions(goal, room != WALL)


class KeyToDoorEnv(TaskEnv):
    """Single KeyToDoor environment (see the module docstring)."""

    core_cls = KeyToDoorCore


class KeyToDoorVectorEnv(TaskVectorEnv):
    """B copies of KeyToDoor stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = KeyToDoorCore
