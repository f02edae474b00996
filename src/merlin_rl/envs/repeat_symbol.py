"""RepeatSymbol: see a stream of random symbols, repeat each one ``k`` steps later.

The development task for non-image inputs: the observation is a single ``Discrete`` symbol, so it
exercises the agent's Discrete encoder / decoder and its memory without any image pathway.

Episode (``episode_length`` steps, default 51; then terminated):

* at every step t = 0, 1, ..., ``episode_length - 1`` the agent observes a symbol drawn uniformly
  from ``num_symbols`` (a fresh draw every step, step 0 included; independent of the agent);
* for t >= ``k`` (the delay, default 4) the action taken at step t is rewarded ``+1 / R`` if it
  equals the symbol observed at step ``t - k``, else ``-1 / R``, where R = ``episode_length - k``
  is the number of rewarded steps; steps t < k give reward 0 (whatever the action);
* the episode ends (terminated) with the step t = ``episode_length - 1``. The final observation
  (after the end) is one more random symbol that no action answers.

Observation: ``{"symbol": Discrete(num_symbols)}``; with ``symbol_space="tokens"`` the same symbol
as a one-token id sequence, ``{"symbol": Box(0, num_symbols, (1,), int64)}`` holding ``symbol + 1``
(0 is the text modality's padding), so that the agent reads it through its text encoder and
decoder: the same task for the text pathway. Actions: ``Discrete(num_symbols)`` (action
``a`` says "symbol a").

Maximum return: 1 (every rewarded step right; the oracle, :meth:`RepeatSymbolCore.oracle`, answers
the symbol ``k`` steps back). A uniformly random (or any memoryless) policy is right with
probability 1 / num_symbols at each rewarded step: ``2 / num_symbols - 1`` (-0.5 with the
defaults).

Why it needs memory: the symbol to answer at step t was shown at step t - k and is not observable
any more (the current symbol is a fresh independent draw), so the agent must keep the last ``k``
symbols, in order, in its recurrent state or its memory. With ``k`` beyond the truncation window of
backpropagation through time (tau = 20 by default) the recurrent state cannot be taught to carry
them; MERLIN can write each symbol to memory and read the one written k steps ago.

Knobs (defaults): ``k`` (4, >= 1), ``num_symbols`` (4, >= 2), ``episode_length`` (51, > k),
``image_size`` (16, in [4, 256]; only the size of the blocks in :meth:`RepeatSymbolCore.render`:
the observation has no image. It exists so that settings meant for every built-in task, such as
the ``paper`` preset's ``image_size``, apply here too), ``symbol_space`` ("discrete"; or
"tokens", above).

The batched :class:`RepeatSymbolVectorEnv` steps all copies with NumPy at once (autoreset mode
``NEXT_STEP``); :class:`RepeatSymbolEnv` is the single env; both wrap :class:`RepeatSymbolCore`
(see :mod:`merlin_rl.envs.base`), so copy i of a batched env seeded with s behaves exactly like a
single env seeded with s + i.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from merlin_rl.envs.base import TaskCore, TaskEnv, TaskVectorEnv, check_int

BACKGROUND, EMPTY, FRAME = 235, 90, 0  # render: grey levels
SYMBOL_SPACES = ("discrete", "tokens")


def symbol_colours(symbols: np.ndarray, num_symbols: int) -> np.ndarray:
    """RGB uint8 [..., 3] of symbols (ints in [0, num_symbols)): evenly spaced hues, red first."""
    h = np.asarray(symbols, np.float64)[..., None] / num_symbols * 6.0  # hue in [0, 6)
    sat, val = 0.8, 0.92
    x = (np.array([5.0, 3.0, 1.0]) + h) % 6.0  # the compact HSV -> RGB formula
    rgb = val * (1.0 - sat * np.clip(np.minimum(x, 4.0 - x), 0.0, 1.0))
    return (rgb * 255).round().astype(np.uint8)


class RepeatSymbolCore(TaskCore):
    """Game state of B RepeatSymbol copies as NumPy arrays: ``t`` [B] (steps taken) and
    ``history`` [B, k + 1], ``history[:, j]`` the symbol observed j steps ago (-1 before step 0);
    ``history[:, 0]`` is the current observation and ``history[:, k]`` the symbol to answer."""

    name = "RepeatSymbol"
    state_keys = ("t", "history")

    def __init__(
        self,
        num_envs: int,
        k: int = 4,
        num_symbols: int = 4,
        episode_length: int = 51,
        image_size: int = 16,
        symbol_space: str = "discrete",
    ) -> None:
        super().__init__(num_envs)
        self.k = check_int(self.name, "k", k, 1)
        self.num_symbols = check_int(self.name, "num_symbols", num_symbols, 2)
        self.episode_length = check_int(self.name, "episode_length", episode_length, self.k + 1)
        self.image_size = check_int(self.name, "image_size", image_size, 4, 256)
        self.rewarded_steps = self.episode_length - self.k
        if symbol_space not in SYMBOL_SPACES:
            raise ValueError(
                f"{self.name}: symbol_space must be one of {', '.join(SYMBOL_SPACES)}, "
                f"got {symbol_space!r}"
            )
        self.tokens = symbol_space == "tokens"
        symbol = (
            spaces.Box(0, self.num_symbols, (1,), np.int64)
            if self.tokens
            else spaces.Discrete(self.num_symbols)
        )
        self.observation_space = spaces.Dict({"symbol": symbol})
        self.action_space = spaces.Discrete(self.num_symbols)
        self.max_return, self.random_return = 1.0, 2.0 / self.num_symbols - 1.0
        self.t = np.zeros(self.num_envs, np.int64)
        self.history = np.full((self.num_envs, self.k + 1), -1, np.int64)

    def reset(self, mask: np.ndarray) -> None:
        first = self.rng.integers(self.num_symbols, mask=mask)
        self.history[mask] = -1
        self.history[mask, 0] = first[mask]
        self.t[mask] = 0

    def step(self, actions: np.ndarray, mask: np.ndarray):
        rewarded = mask & (self.t >= self.k)
        right = actions == self.history[:, self.k]
        step_reward = np.float32(1.0 / self.rewarded_steps)
        reward = np.where(rewarded, np.where(right, step_reward, -step_reward), np.float32(0.0))
        self.t = self.t + mask
        terminated = mask & (self.t >= self.episode_length)
        new = self.rng.integers(self.num_symbols, mask=mask)
        shifted = np.concatenate([new[:, None], self.history[:, :-1]], axis=1)
        self.history = np.where(mask[:, None], shifted, self.history)
        return reward.astype(np.float32), terminated, np.zeros(self.num_envs, bool)

    def observation(self) -> dict[str, np.ndarray]:
        if self.tokens:  # ids 1..num_symbols, one token each (0 = padding)
            return {"symbol": self.history[:, :1] + 1}
        return {"symbol": self.history[:, 0].copy()}

    def render(self, index: int = 0) -> np.ndarray:
        """The current symbol as a large coloured block (left), then the last ``k`` symbols, the
        most recent first (dark grey: before the episode began), the one to answer now (k steps
        back) framed in black; under them a bar of the episode's progress."""
        s, k = self.image_size, self.k
        big = 4 * s
        cell = max(4, min(2 * s, 1024 // k))  # one history block, gap included
        pad = max(2, s // 4)
        width = pad + big + 2 * pad + k * cell + pad
        height = pad + big + pad + max(2, s // 4) + pad
        img = np.full((height, width, 3), BACKGROUND, np.uint8)
        hist = self.history[index]
        img[pad : pad + big, pad : pad + big] = symbol_colours(hist[0], self.num_symbols)
        x0 = pad + big + 2 * pad
        y0 = pad + (big - cell) // 2
        off = max(1, cell // 10)  # margin around a block inside its cell (the frame's width)
        inner = cell - 2 * off  # block side
        colours = np.where(
            hist[1:, None] >= 0, symbol_colours(np.maximum(hist[1:], 0), self.num_symbols), EMPTY
        )
        blocks = np.repeat(np.repeat(colours[:, None, None, :], inner, 1), inner, 2)  # [k, i, i, 3]
        strip = np.full((cell, k, cell, 3), BACKGROUND, np.uint8)
        strip[off : off + inner, :, off : off + inner] = blocks.transpose(1, 0, 2, 3)
        border = off
        xk = (k - 1) * cell  # the block to answer, inside the strip
        strip = strip.reshape(cell, k * cell, 3)
        strip[:border, xk : xk + cell] = FRAME
        strip[-border:, xk : xk + cell] = FRAME
        strip[:, xk : xk + border] = FRAME
        strip[:, xk + cell - border : xk + cell] = FRAME
        img[y0 : y0 + cell, x0 : x0 + k * cell] = strip
        bar_y = pad + big + pad
        done = round(
            (width - 2 * pad) * min(int(self.t[index]), self.episode_length) / self.episode_length
        )
        img[bar_y : bar_y + max(2, s // 4), pad : width - pad] = 200
        img[bar_y : bar_y + max(2, s // 4), pad : pad + done] = 60
        return img

    def oracle(self) -> np.ndarray:
        """The symbol observed ``k`` steps ago (0 while there is none: those steps are not
        rewarded)."""
        return np.maximum(self.history[:, self.k], 0)


class RepeatSymbolEnv(TaskEnv):
    """Single RepeatSymbol environment (see the module docstring)."""

    core_cls = RepeatSymbolCore


class RepeatSymbolVectorEnv(TaskVectorEnv):
    """B copies of RepeatSymbol stepped together in NumPy (autoreset mode NEXT_STEP)."""

    core_cls = RepeatSymbolCore
