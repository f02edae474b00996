"""VisuomotorMapping (the paper's "Arbitrary Visuomotor Mapping"): learn, within an episode and from
reward alone, which action goes with each of a few random images.

Each episode draws ``num_images`` random images (4 x 4 grids of 8 colours) and a random mapping
image -> correct action among ``num_actions`` actions (several images may share an action). The
episode is ``trials`` trials; each trial shows one of the images, drawn uniformly:

1. response step: the image with a grey frame; the action is rewarded +1 if it is the image's
   correct action, else 0 (the reward is returned by this step, so the agent sees it as its
   previous reward at the next step);
2. ``feedback_steps`` steps (default 1): the same image, its frame green after a correct response
   and red after a wrong one; actions do nothing. These steps put the image, the response (the
   previous action) and its outcome (the previous reward) into one observation, so one memory row
   can hold the whole association.

The episode ends (terminated) with the last trial's response: ``(trials - 1) * (1 +
feedback_steps) + 1`` steps (63 with the defaults). The observation after the end is black.

Observation: ``{"image": uint8 (S, S, 3)}``, S = ``image_size`` (default 16): the frame is
``max(1, S // 8)`` pixels wide, the image's 4 x 4 grid fills the inside. Each copy's images are
drawn once per episode (at reset; ``num_images * S * S * 3`` bytes per copy), so a step only
gathers one picture per copy and adds the frame.

Actions: ``Discrete(num_actions)``. Maximum return: ``trials`` (32 with the defaults; the oracle
knows the mapping). A random or memoryless policy: ``trials / num_actions`` (8 with the
defaults). An agent with perfect memory that has to discover the mapping (trying untried actions on
each image until one is rewarded) loses on average (num_actions - 1) / 2 trials per image, about
26 of 32 with the defaults.

Why it needs memory: the mapping is new in every episode and only reward reveals it, so the agent
must store, for each image it has seen, which action it tried and whether that was rewarded, and
recall it when the image comes back -- often many steps later (with the defaults an image
returns after 8 steps on average, with long gaps at random), beyond a short truncation window.

Knobs (defaults): ``num_images`` (4, in [1, 64]), ``num_actions`` (4, in [2, 16]), ``trials``
(32, >= 1), ``feedback_steps`` (1, >= 0), ``image_size`` (16, >= 6).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, TaskEnv, TaskVectorEnv, check_int, upscale

GRID = 4  # images are GRID x GRID blocks of colour
PALETTE = np.array(  # the image colours
    [
        [30, 60, 230],
        [240, 220, 20],
        [220, 30, 220],
        [20, 220, 220],
        [250, 130, 10],
        [120, 40, 160],
        [255, 255, 255],
        [40, 40, 40],
    ],
    dtype=np.uint8,
)
FRAME_GREY, FRAME_CORRECT, FRAME_WRONG, BLACK = range(len(PALETTE), len(PALETTE) + 4)
COLOURS = np.concatenate(
    [PALETTE, np.array([[128, 128, 128], [30, 200, 60], [230, 20, 20], [0, 0, 0]], np.uint8)]
)


class VisuomotorMappingCore(TaskCore):
    """Game state of B VisuomotorMapping copies as NumPy arrays."""

    name = "VisuomotorMapping"
    state_keys = ("t", "patterns", "mapping", "shown", "correct")

    def __init__(
        self,
        num_envs: int,
        num_images: int = 4,
        num_actions: int = 4,
        trials: int = 32,
        feedback_steps: int = 1,
        image_size: int = 16,
    ) -> None:
        super().__init__(num_envs)
        self.k = check_int(self.name, "num_images", num_images, 1, 64)
        self.a = check_int(self.name, "num_actions", num_actions, 2, 16)
        self.trials = check_int(self.name, "trials", trials, 1)
        self.feedback = check_int(self.name, "feedback_steps", feedback_steps, 0)
        s = check_int(self.name, "image_size", image_size, GRID + 2)
        self.image_size = s
        self.period = 1 + self.feedback  # steps per trial
        self.length = (self.trials - 1) * self.period + 1
        self.episode_length = self.length  # every episode ends with the last trial's response
        self.observation_space = spaces.Dict({"image": spaces.Box(0, 255, (s, s, 3), np.uint8)})
        self.action_space = spaces.Discrete(self.a)
        self.max_return, self.random_return = float(self.trials), self.trials / self.a
        # pixel -> grid block 0..GRID*GRID-1 inside the frame; the frame pictures
        bw = max(1, s // 8)
        inner = s - 2 * bw
        block = np.arange(inner) * GRID // inner
        self.pixel_block = block[:, None] * GRID + block[None, :]  # [inner, inner]
        self.inside = (slice(bw, bw + inner), slice(bw, bw + inner))
        self.frames = np.zeros((len(COLOURS), s, s, 3), np.uint8)
        self.frames[:] = COLOURS[:, None, None, :]
        self.frames[(slice(None), *self.inside)] = 0
        n = self.num_envs
        self.t = np.zeros(n, np.int64)
        self.patterns = np.zeros((n, self.k, GRID * GRID), np.int64)
        self.mapping = np.zeros((n, self.k), np.int64)
        self.shown = np.zeros(n, np.int64)
        self.correct = np.zeros(n, bool)
        self._ar = np.arange(n)
        # the pictures of each copy's images (from ``patterns``; rebuilt by reset and set_state)
        self.pictures = np.zeros((n, self.k, s, s, 3), np.uint8)

    def reset(self, mask: np.ndarray) -> None:
        m = mask[:, None]
        patterns = self.rng.integers(len(PALETTE), (self.k, GRID * GRID), mask=mask)
        self.patterns = np.where(m[:, :, None], patterns, self.patterns)
        self.mapping = np.where(m, self.rng.integers(self.a, (self.k,), mask=mask), self.mapping)
        self.shown = np.where(mask, self.rng.integers(self.k, mask=mask), self.shown)
        self.correct = np.where(mask, False, self.correct)
        self.t = np.where(mask, 0, self.t)
        self._draw(mask)

    def _draw(self, mask: np.ndarray) -> None:
        """Draw the images of the copies in ``mask`` (inside the frame; the frame stays black)."""
        self.pictures[(mask, slice(None), *self.inside)] = PALETTE[
            self.patterns[mask][:, :, self.pixel_block]
        ]

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._draw(np.ones(self.num_envs, bool))

    def step(self, actions: np.ndarray, mask: np.ndarray):
        respond = mask & (self.t % self.period == 0)
        right = actions == self.mapping[self._ar, self.shown]
        reward = (respond & right).astype(np.float32)
        self.correct = np.where(respond, right, self.correct)
        self.t = self.t + mask
        terminated = respond & (self.t >= self.length)
        new_trial = mask & ~terminated & (self.t % self.period == 0)
        self.shown = np.where(new_trial, self.rng.integers(self.k, mask=new_trial), self.shown)
        return reward, terminated, np.zeros(self.num_envs, bool)

    def observation(self) -> dict[str, np.ndarray]:
        frame = np.where(
            self.t % self.period == 0,
            FRAME_GREY,
            np.where(self.correct, FRAME_CORRECT, FRAME_WRONG),
        )
        ended = self.t >= self.length
        image = self.pictures[self._ar, self.shown] | self.frames[np.where(ended, BLACK, frame)]
        if ended.any():
            image[ended] = 0
        return {"image": image}

    def render(self, index: int = 0) -> np.ndarray:
        """The agent's view (left) and every image of the episode (right) with its correct action
        marked black in a row of ``num_actions`` grey squares; the image now shown is framed."""
        view = self.observation()["image"][index]
        view = upscale(view, max(1, 96 // self.image_size))
        cell = max(3, 36 // self.a)  # one square of the action bar
        thumb = -(-max(36, cell * self.a) // GRID) * GRID  # thumbnail side
        gap, per_row = 8, int(np.ceil(np.sqrt(self.k)))
        rows = -(-self.k // per_row)
        th = thumb + cell + 4  # thumbnail, bar, spacing
        panel = np.full(
            (max(view.shape[0], rows * (th + gap)), per_row * (thumb + gap), 3), 255, np.uint8
        )
        for i in range(self.k):  # a picture of one copy: a loop over its images is fine
            y, x = (i // per_row) * (th + gap) + gap // 2, (i % per_row) * (thumb + gap) + gap // 2
            if i == self.shown[index] and self.t[index] < self.length:  # black frame around it
                panel[y - 3 : y + thumb + 3, x - 3 : x + thumb + 3] = 0
            img = upscale(COLOURS[self.patterns[index, i]].reshape(GRID, GRID, 3), thumb // GRID)
            panel[y - 1 : y + thumb + 1, x - 1 : x + thumb + 1] = 255
            panel[y : y + thumb, x : x + thumb] = img
            for a in range(self.a):
                colour = 0 if a == self.mapping[index, i] else 200
                panel[
                    y + thumb + 2 : y + thumb + 2 + cell - 1, x + a * cell : x + (a + 1) * cell - 1
                ] = colour
        out = np.full(
            (max(view.shape[0], panel.shape[0]), view.shape[1] + 8 + panel.shape[1], 3),
            255,
            np.uint8,
        )
        out[: view.shape[0], : view.shape[1]] = view
        out[: panel.shape[0], view.shape[1] + 8 :] = panel
        return out

    def oracle(self) -> np.ndarray:
        return self.mapping[self._ar, self.shown].copy()


class VisuomotorMappingEnv(TaskEnv):
    """Single VisuomotorMapping environment (see the module docstring)."""

    core_cls = VisuomotorMappingCore


class VisuomotorMappingVectorEnv(TaskVectorEnv):
    """B copies of VisuomotorMapping stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = VisuomotorMappingCore
