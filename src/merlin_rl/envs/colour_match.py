"""ColourMatch: see a colour, wait through distractors, pick the matching colour.

Episode (length ``cue_steps + delay + 1``):

1. cue phase, ``cue_steps`` steps: the whole image is one of ``num_colours`` colours;
2. delay phase, ``delay`` steps: grey frames of random brightness (distractors);
3. choice step: a black-and-white checkerboard; action ``k`` chooses colour ``k``. Reward 1 if it
   is the cue colour, else 0, and the episode ends.

Actions outside the choice step do nothing. Maximum return: 1. A random (or memoryless) policy:
``1 / num_colours`` (0.25 with the defaults). With the default delay (24 steps) the episode is
longer than the default truncation window (tau = 20), so an agent that has to carry the colour in
its recurrent state cannot be taught by truncated BPTT to do so; MERLIN stores it in memory.

Observations: ``{"image": uint8 (S, S, 3)}``, S = ``image_size`` (default 16).
The batched :class:`ColourMatchVectorEnv` steps all copies with NumPy at once (autoreset mode
``NEXT_STEP``, as Gymnasium's own vector envs); :class:`ColourMatchEnv` is the single env. Both
wrap :class:`ColourMatchCore` (see :mod:`merlin_rl.envs.base`), so copy i of a batched env seeded
with s behaves exactly like a single env seeded with s + i.

Knobs (defaults): ``num_colours`` (4, at most 8), ``delay`` (24), ``cue_steps`` (1),
``image_size`` (16).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, TaskEnv, TaskVectorEnv, check_int, upscale

PALETTE = np.array(
    [
        [230, 25, 25],
        [25, 200, 40],
        [30, 60, 230],
        [240, 220, 20],
        [220, 30, 220],
        [20, 220, 220],
        [250, 130, 10],
        [120, 40, 160],
    ],
    dtype=np.uint8,
)
GREY_LEVELS = 8


class ColourMatchCore(TaskCore):
    """Game state of B ColourMatch copies as NumPy arrays."""

    name = "ColourMatch"
    state_keys = ("t", "colour", "frame")

    def __init__(
        self,
        num_envs: int,
        num_colours: int = 4,
        delay: int = 24,
        cue_steps: int = 1,
        image_size: int = 16,
    ) -> None:
        super().__init__(num_envs)
        self.k = check_int(self.name, "num_colours", num_colours, 2, len(PALETTE))
        self.delay = check_int(self.name, "delay", delay, 1)
        self.cue_steps = check_int(self.name, "cue_steps", cue_steps, 1)
        s = check_int(self.name, "image_size", image_size, 1)
        self.length = self.cue_steps + self.delay + 1
        self.episode_length = self.length  # every episode: cue, delay, choice
        self.observation_space = spaces.Dict({"image": spaces.Box(0, 255, (s, s, 3), np.uint8)})
        self.action_space = spaces.Discrete(self.k)
        self.max_return, self.random_return = 1.0, 1.0 / self.k
        # frame table: colours 0..K-1, grey levels, choice board, blank (final observation)
        frames = [np.broadcast_to(PALETTE[i], (s, s, 3)) for i in range(self.k)]
        frames += [
            np.full((s, s, 3), int(40 + 175 * g / (GREY_LEVELS - 1)), np.uint8)
            for g in range(GREY_LEVELS)
        ]
        yy, xx = np.mgrid[0:s, 0:s]
        board = (((yy // max(1, s // 4)) + (xx // max(1, s // 4))) % 2 * 255).astype(np.uint8)
        frames.append(np.repeat(board[:, :, None], 3, axis=2))
        frames.append(np.zeros((s, s, 3), np.uint8))
        self.frames = np.stack(frames)
        self.grey0 = self.k
        self.choice_frame, self.blank_frame = self.k + GREY_LEVELS, self.k + GREY_LEVELS + 1
        self.t = np.zeros(self.num_envs, np.int64)
        self.colour = np.zeros(self.num_envs, np.int64)
        self.frame = np.zeros(self.num_envs, np.int64)

    def reset(self, mask: np.ndarray) -> None:
        self.t[mask] = 0
        self.colour = np.where(mask, self.rng.integers(self.k, mask=mask), self.colour)
        self._update_frames(mask)

    def _update_frames(self, mask: np.ndarray) -> None:
        t = self.t
        grey = self.grey0 + self.rng.integers(GREY_LEVELS, mask=mask)
        frame = np.where(t < self.cue_steps, self.colour, grey)
        frame = np.where(t == self.length - 1, self.choice_frame, frame)
        frame = np.where(t >= self.length, self.blank_frame, frame)
        self.frame = np.where(mask, frame, self.frame)

    def step(self, actions: np.ndarray, mask: np.ndarray):
        at_choice = mask & (self.t == self.length - 1)
        reward = (at_choice & (actions == self.colour)).astype(np.float32)
        self.t = np.where(mask, self.t + 1, self.t)
        self._update_frames(mask)
        return reward, at_choice, np.zeros(self.num_envs, bool)

    def observation(self) -> dict[str, np.ndarray]:
        return {"image": self.frames[self.frame]}

    def render(self, index: int = 0) -> np.ndarray:
        return upscale(self.frames[self.frame[index]], 8)

    def oracle(self) -> np.ndarray:
        return self.colour.copy()


class ColourMatchEnv(TaskEnv):
    """Single ColourMatch environment (see the module docstring)."""

    core_cls = ColourMatchCore


class ColourMatchVectorEnv(TaskVectorEnv):
    """B copies of ColourMatch stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = ColourMatchCore
