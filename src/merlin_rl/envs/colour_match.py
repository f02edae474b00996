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
``NEXT_STEP``, as Gymnasium's own vector envs); :class:`ColourMatchEnv` is the single env.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

PALETTE = np.array(
    [[230, 25, 25], [25, 200, 40], [30, 60, 230], [240, 220, 20],
     [220, 30, 220], [20, 220, 220], [250, 130, 10], [120, 40, 160]], dtype=np.uint8)
GREY_LEVELS = 8


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"ColourMatch: {name} must be a positive integer, got {v!r}")


class _ColourMatchCore:
    """Game state of B copies as NumPy arrays; shared by the single and the batched env."""

    def __init__(self, num_envs: int, num_colours: int, delay: int, cue_steps: int,
                 image_size: int) -> None:
        _check_positive(num_colours=num_colours, delay=delay, cue_steps=cue_steps,
                        image_size=image_size)
        if num_colours > len(PALETTE) or num_colours < 2:
            raise ValueError(f"ColourMatch: num_colours must be in [2, {len(PALETTE)}], got {num_colours}")
        self.b, self.k, self.delay, self.cue_steps = num_envs, num_colours, delay, cue_steps
        self.length = cue_steps + delay + 1
        s = image_size
        # frame table: colours 0..K-1, grey levels, choice board, blank (final observation)
        frames = [np.broadcast_to(PALETTE[i], (s, s, 3)) for i in range(num_colours)]
        frames += [np.full((s, s, 3), int(40 + 175 * g / (GREY_LEVELS - 1)), np.uint8)
                   for g in range(GREY_LEVELS)]
        yy, xx = np.mgrid[0:s, 0:s]
        board = (((yy // max(1, s // 4)) + (xx // max(1, s // 4))) % 2 * 255).astype(np.uint8)
        frames.append(np.repeat(board[:, :, None], 3, axis=2))
        frames.append(np.zeros((s, s, 3), np.uint8))
        self.frames = np.stack(frames)
        self.grey0, self.choice_frame, self.blank_frame = num_colours, num_colours + GREY_LEVELS, num_colours + GREY_LEVELS + 1
        self.t = np.zeros(num_envs, np.int64)
        self.colour = np.zeros(num_envs, np.int64)
        self.frame = np.zeros(num_envs, np.int64)
        self.rng = np.random.default_rng()

    def reset(self, mask: np.ndarray) -> None:
        n = int(mask.sum())
        self.t[mask] = 0
        self.colour[mask] = self.rng.integers(self.k, size=n)
        self._update_frames(mask)

    def _update_frames(self, mask: np.ndarray) -> None:
        t = self.t
        grey = self.grey0 + self.rng.integers(GREY_LEVELS, size=self.b)
        frame = np.where(t < self.cue_steps, self.colour, grey)
        frame = np.where(t == self.length - 1, self.choice_frame, frame)
        frame = np.where(t >= self.length, self.blank_frame, frame)
        self.frame = np.where(mask, frame, self.frame)

    def advance(self, actions: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step copies in ``mask``: returns rewards and terminations (zeros elsewhere)."""
        at_choice = mask & (self.t == self.length - 1)
        reward = (at_choice & (actions == self.colour)).astype(np.float32)
        self.t = np.where(mask, self.t + 1, self.t)
        self._update_frames(mask)
        return reward, at_choice

    def observation(self) -> dict[str, np.ndarray]:
        return {"image": self.frames[self.frame]}


def _spaces(num_colours: int, image_size: int) -> tuple[spaces.Dict, spaces.Discrete]:
    obs = spaces.Dict({"image": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)})
    return obs, spaces.Discrete(num_colours)


class ColourMatchEnv(gym.Env):
    """Single ColourMatch environment (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, num_colours: int = 4, delay: int = 24, cue_steps: int = 1,
                 image_size: int = 16, render_mode: str | None = None) -> None:
        self.core = _ColourMatchCore(1, num_colours, delay, cue_steps, image_size)
        self.observation_space, self.action_space = _spaces(num_colours, image_size)
        self.render_mode = render_mode
        self.max_return, self.random_return = 1.0, 1.0 / num_colours

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.core.rng = self.np_random
        self.core.reset(np.ones(1, bool))
        return {k: v[0] for k, v in self.core.observation().items()}, {}

    def step(self, action: Any):
        reward, term = self.core.advance(np.asarray([action]), np.ones(1, bool))
        obs = {k: v[0] for k, v in self.core.observation().items()}
        return obs, float(reward[0]), bool(term[0]), False, {}

    def render(self) -> np.ndarray:
        return np.kron(self.core.observation()["image"][0], np.ones((8, 8, 1), np.uint8))



class ColourMatchVectorEnv(VectorEnv):
    """B copies of ColourMatch stepped together in NumPy (autoreset mode NEXT_STEP)."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, num_colours: int = 4, delay: int = 24, cue_steps: int = 1,
                 image_size: int = 16, render_mode: str | None = None) -> None:
        _check_positive(num_envs=num_envs)
        self.num_envs = num_envs
        self.core = _ColourMatchCore(num_envs, num_colours, delay, cue_steps, image_size)
        self.single_observation_space, self.single_action_space = _spaces(num_colours, image_size)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.render_mode = render_mode
        self._autoreset = np.zeros(num_envs, bool)
        self.max_return, self.random_return = 1.0, 1.0 / num_colours

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.core.rng = np.random.default_rng(seed)
        self.core.reset(np.ones(self.num_envs, bool))
        self._autoreset[:] = False
        return self.core.observation(), {}

    def step(self, actions: Any):
        actions = np.asarray(actions).reshape(self.num_envs)
        resetting = self._autoreset
        live = ~resetting
        reward, term = self.core.advance(actions, live)
        if resetting.any():
            self.core.reset(resetting)
        self._autoreset = term.copy()
        trunc = np.zeros(self.num_envs, bool)
        return self.core.observation(), reward, term, trunc, {}

    def render(self) -> np.ndarray:
        return np.kron(self.core.observation()["image"][0], np.ones((8, 8, 1), np.uint8))

    def get_state(self) -> dict:
        """Everything needed to continue exactly (for checkpoints): game arrays and RNG state."""
        c = self.core
        return {"t": c.t.copy(), "colour": c.colour.copy(), "frame": c.frame.copy(),
                "autoreset": self._autoreset.copy(), "rng": c.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        c = self.core
        c.t, c.colour, c.frame = (np.asarray(state[k], np.int64).copy()
                                  for k in ("t", "colour", "frame"))
        self._autoreset = np.asarray(state["autoreset"], bool).copy()
        c.rng = np.random.default_rng()
        c.rng.bit_generator.state = state["rng"]
