"""What a perfect memory is worth on MemoryGame, WaterMaze, KeyToDoor and ActiveVisualMatch, and
what no memory (or a forgotten cue) earns.

These tasks' declared maxima are oracles that know what an agent has to find out (where a card's
twin lies, where the platform is, where the key, the apples and the squares are beyond the 5 x 5
view), so a normalised score of 0.8 asks for an unknown share of the best an agent can do. This
script plays scripted agents against each task's batched core, with fixed seeds, and prints one
JSON line per (task, player) with the mean return, its standard error and the normalised score
(R - R_random) / (R_max - R_random) it gets:

* ``memory``: a perfect memory of everything it has seen.
  - MemoryGame: it first walks into the top-left corner (``rows + cols - 2`` moves: the view
    does not always say where the cursor is), then keeps track of its cell and of every face it has seen,
    and plays greedily: flip a card whose twin it knows, else the nearest card it has not seen.
  - WaterMaze: it sweeps the goal's region in lanes ``2 * goal_radius`` apart until the first
    find, then swims straight back from every new start to where it was when it last found the
    platform (the oracle's steering, aimed there rather than at the platform's centre, which it
    has not seen). It is given its position and heading, which the twelve wall cues show.
  - KeyToDoor, ActiveVisualMatch: in each room it takes the shortest path to the nearest thing
    it wants among the cells it has seen (the key, an apple, the door, the square of the colour
    it saw in the first room), else to the nearest cell it has not seen.
* ``no-memory``: acts on the current view alone.
  - MemoryGame: flip the card under the cursor when it is face down, else step towards the
    nearest face-down card in view (random ties; a random move when none is in view).
  - WaterMaze: follows the same sweep as a closed loop, a function of position and heading
    alone, at every trial.
  - ActiveVisualMatch: the same as ``memory`` but it walks to a square of a random colour in the
    last room (the cue forgotten): an upper bound on a memoryless agent. (KeyToDoor needs no
    memory to act: what is in view says what to do; memory helps to learn it.)

Neither player is proved optimal; they are strong, simple strategies that bracket the task. For
MemoryGame the JSON also has the share of episodes finished (every pair matched) and their mean
length; for WaterMaze the steps searched per first and per later find (``find_rates`` of
``experiments/cue_probe.py``, which measures trained agents the same way).

    python experiments/memory_ceilings.py [--episodes 2048] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from merlin_rl.cli import _positive, _seed  # the CLI's range checks (exit code 2)
from merlin_rl.envs.active_visual_match import ActiveVisualMatchCore
from merlin_rl.envs.gridworld import APPLE, COLOUR0, DOOR, KEY, WALL
from merlin_rl.envs.key_to_door import KeyToDoorCore
from merlin_rl.envs.memory_game import (
    FACE_DOWN,
    FACE_UP,
    FLIP,
    LEFT,
    UP,
    MemoryGameCore,
    walk,
)

sys.path.insert(0, str(Path(__file__).parent))
from cue_probe import CardCounter, find_rates  # noqa: E402  (experiments/ is not a package)
from merlin_rl.envs.water_maze import (
    ACTION_SWIM,
    ACTION_TURN,
    MARGIN,
    STEP,
    TURN,
    WaterMazeCore,
    steer,
)

# --------------------------------------------------------------------------- MemoryGame


def _nearest(dist: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per row, the index of the smallest ``dist`` [B, C] among ``allowed`` [B, C] (0 if none)."""
    return np.argmin(np.where(allowed, dist, np.inf), axis=1)


def memory_game_memory_action(core: MemoryGameCore, known: np.ndarray) -> np.ndarray:
    """The perfect-memory player's actions [B] once it knows its cell; ``known`` [B, cells]:
    the cards whose face it has seen."""
    up = core.status == FACE_UP
    shown_mismatch = up & (up.sum(1) == 2)[:, None]  # face down again before this step's action
    down = (core.status == FACE_DOWN) | shown_mismatch
    up = up & ~shown_mismatch
    dist = (
        np.abs(core._cell_r - core.row[:, None]) + np.abs(core._cell_c - core.col[:, None])
    ).astype(float)
    unseen = down & ~known
    first = np.argmax(up, axis=1)
    first_face = np.take_along_axis(core.face, first[:, None], axis=1)
    twin = down & known & (core.face == first_face)
    seen_down = down & known
    same = (
        (core.face[:, :, None] == core.face[:, None, :])
        & seen_down[:, :, None]
        & seen_down[:, None, :]
    )
    same &= ~np.eye(core.cells, dtype=bool)
    has_pair = same.any(2)
    fallback = np.where(unseen.any(1, keepdims=True), unseen, down)
    one_up = up.any(1)
    target = np.where(
        one_up,
        np.where(twin.any(1), _nearest(dist, twin), _nearest(dist, fallback)),
        np.where(has_pair.any(1), _nearest(dist, has_pair), _nearest(dist, fallback)),
    )
    return walk(core, target)


def memory_game_view_action(core: MemoryGameCore, rng: np.random.Generator) -> np.ndarray:
    """The no-memory player's actions [B], from the current view alone."""
    here = core.row * core.cols + core.col
    down = core.status == FACE_DOWN
    dist = np.abs(core._cell_r - core.row[:, None]) + np.abs(core._cell_c - core.col[:, None])
    dist = dist + rng.random(dist.shape) * 0.5  # random ties
    visible = down & core.in_view()
    step = walk(core, _nearest(dist, visible))
    wander = rng.integers(4, size=core.num_envs)
    flip_here = np.take_along_axis(down, here[:, None], axis=1)[:, 0]
    return np.where(flip_here, FLIP, np.where(visible.any(1), step, wander)).astype(np.int64)


def play_memory_game(player: str, episodes: int, seed: int, **knobs: int) -> dict:
    """Returns of ``episodes`` MemoryGame episodes of ``player`` ("memory" or "no-memory"), and
    ``cards``: how its flips use what it has seen (``experiments/cue_probe.py``'s CardCounter,
    which measures trained agents the same way)."""
    core = MemoryGameCore(episodes, **knobs)
    core.rng.seed(np.arange(episodes) + seed)
    running = np.ones(episodes, bool)
    core.reset(running)
    rng = np.random.default_rng(seed)
    known = np.zeros((episodes, core.cells), bool)
    corner = [UP] * (core.rows - 1) + [LEFT] * (core.cols - 1)
    counter = CardCounter(core)
    total = np.zeros(episodes)
    length = np.full(episodes, core.max_steps)
    for t in range(core.max_steps):
        if player == "memory":
            if t < len(corner):
                actions = np.full(episodes, corner[t], np.int64)
            else:
                actions = memory_game_memory_action(core, known)
        else:
            actions = memory_game_view_action(core, rng)
        counter.before(core, actions)
        reward, term, trunc = core.step(actions, running)
        counter.after(core, reward, term | trunc)
        known |= core.in_view() & (core.status != FACE_DOWN)
        total += reward
        length = np.where(running & term, t + 1, length)
        running &= ~(term | trunc)
        if not running.any():
            break
    out = _summary("merlin_rl/MemoryGame-v0", player, total, core)
    out["finished"] = round(float((total == core.pairs).mean()), 3)
    out["mean_steps"] = round(float(length.mean()), 1)
    out["cards"] = counter.summary()
    return out


# --------------------------------------------------------------------------- WaterMaze


class Sweep:
    """A closed loop of lanes ``2 * goal_radius`` apart over the goal centres' square (an even
    number of lanes, so the loop closes along a return leg outside them)."""

    def __init__(self, goal_radius: float, lookahead: float = 0.1) -> None:
        r = goal_radius
        lo, hi = r + 0.05, 0.95 - r  # where goal centres lie
        n = max(2, math.ceil(round((hi - lo - r) / (2 * r), 9)) + 1)  # lanes lo + r ... hi
        n += n % 2
        lanes = np.linspace(min(lo + r, hi), hi, n)
        points = []
        for k, y in enumerate(lanes):
            xs = (lo, hi) if k % 2 == 0 else (hi, lo)
            points += [(xs[0], y), (xs[1], y)]
        back = max(MARGIN, lo - 0.1)
        points += [(back, lanes[-1]), (back, lanes[0]), (lo, lanes[0])]
        p = np.array(points)
        self.a, self.b = p[:-1], p[1:]  # segments [K, 2]
        self.length = np.linalg.norm(self.b - self.a, axis=1)
        self.start = np.concatenate([[0.0], np.cumsum(self.length)[:-1]])
        self.total = float(self.length.sum())
        self.lookahead = lookahead

    def target(self, pos: np.ndarray) -> np.ndarray:
        """The point [B, 2] ``lookahead`` further along the loop than the closest point to
        ``pos`` [B, 2]."""
        ab = self.b - self.a  # [K, 2]
        u = ((pos[:, None] - self.a) * ab).sum(2) / (self.length**2)  # [B, K]
        u = np.clip(u, 0.0, 1.0)
        closest = self.a + u[..., None] * ab
        k = np.argmin(((pos[:, None] - closest) ** 2).sum(2), axis=1)
        s = (
            self.start[k] + u[np.arange(len(pos)), k] * self.length[k] + self.lookahead
        ) % self.total
        j = np.searchsorted(self.start, s, side="right") - 1
        f = ((s - self.start[j]) / self.length[j])[:, None]
        return self.a[j] + f * ab[j]


def play_water_maze(player: str, episodes: int, seed: int, **knobs: float) -> dict[str, float]:
    """Returns of ``episodes`` WaterMaze episodes of ``player`` ("memory" or "no-memory"), with
    the steps per first and per later find."""
    core = WaterMazeCore(episodes, image_size=1, **knobs)
    core.rng.seed(np.arange(episodes) + seed)
    every = np.ones(episodes, bool)
    core.reset(every)
    sweep = Sweep(core.goal_radius)
    finds = np.zeros((episodes, core.episode_steps), bool)
    spot = np.zeros((episodes, 2))  # where the player was when it last found the platform
    for t in range(core.episode_steps):
        search = steer(core.pos, core.heading, sweep.target(core.pos))
        found = finds[:, :t].any(1)
        back = steer(core.pos, core.heading, spot)
        actions = search if player == "no-memory" else np.where(found, back, search)
        end = _swim_end(core.pos, core.heading, actions)  # the player knows its own move
        finds[:, t] = core.step(actions, every)[0] > 0
        spot = np.where(finds[:, t, None], end, spot)
    out = _summary("merlin_rl/WaterMaze-v0", player, finds.sum(1).astype(float), core)
    first_rate, later_rate = find_rates(finds)
    out["episodes_with_a_find"] = round(float(finds.any(1).mean()), 3)
    out["steps_per_first_find"] = round(1 / first_rate, 1) if first_rate else None
    out["steps_per_later_find"] = round(1 / later_rate, 1) if later_rate > 0 else None
    return out


def _swim_end(pos: np.ndarray, heading: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Where each action takes the swimmer [B, 2] (turn first, then swim; walls clip)."""
    h = heading + TURN * ACTION_TURN[actions]
    move = STEP * ACTION_SWIM[actions][:, None] * np.stack([np.cos(h), np.sin(h)], 1)
    return np.clip(pos + move, MARGIN, 1.0 - MARGIN)


# --------------------------------------------------------------------------- KeyToDoor, ActiveVisualMatch

ROOMS = {"KeyToDoor": KeyToDoorCore, "ActiveVisualMatch": ActiveVisualMatchCore}


def rooms_action(core, seen: np.ndarray, cue: np.ndarray) -> np.ndarray:
    """The sighted player's actions [B] on a three-room task: the shortest path to the nearest
    wanted thing it has seen in this room (the key, an apple, the door; the square of colour
    ``cue`` [B] in ActiveVisualMatch's last room), else to the nearest cell it has not seen.
    ``seen`` [B, 3, P, P]: the cells it has had in view, per room."""
    room, here = core._current(), seen[core.ar, core.phase]
    phase = core.phase[:, None, None]
    if isinstance(core, KeyToDoorCore):
        wanted = np.where(phase == 0, KEY, np.where(phase == 1, APPLE, DOOR))
        want = room == wanted
        passable = (room != WALL) & ((room != DOOR) | core.has_key[:, None, None])
    else:  # ActiveVisualMatch: nothing to fetch in the first room, only to see
        want = np.where(phase == 1, room == APPLE, (phase == 2) & (room == cue[:, None, None]))
        passable = (room != WALL) & ((phase != 2) | (room < COLOUR0))
    target = want & here
    unseen = (room != WALL) & ~here
    goal = np.where(target.any((1, 2), keepdims=True), target, unseen)
    return core._path_actions(goal, passable)


def play_rooms(task: str, player: str, episodes: int, seed: int, **knobs) -> dict[str, float]:
    """Returns of ``episodes`` episodes of KeyToDoor or ActiveVisualMatch (``task``) by the
    sighted player: ``memory`` keeps the cue it saw, ``no-memory`` (ActiveVisualMatch only)
    walks to a square of a random colour of the four in the last room (the cue forgotten;
    everything else as ``memory``, so an upper bound on what forgetting the cue allows)."""
    core = ROOMS[task](episodes, **knobs)
    core.rng.seed(np.arange(episodes) + seed)
    running = np.ones(episodes, bool)
    core.reset(running)
    seen = np.zeros(core.rooms.shape, bool)
    avm = isinstance(core, ActiveVisualMatchCore)
    cue = np.full(episodes, -1)  # the colour the player knows (-1: not seen)
    if avm and player == "no-memory":
        last = core.rooms[:, 2].reshape(episodes, -1)
        colours = np.sort(np.where(last >= COLOUR0, last, 127), axis=1)[:, : core.num_colours]
        cue = colours[
            core.ar, np.random.default_rng(seed).integers(core.num_colours, size=episodes)
        ]
    total = np.zeros(episodes)
    for _ in range(core.episode_length):
        window = core._here()[:, None] + core.window
        seen.reshape(-1)[window] = True
        if avm and player == "memory":
            shows = (core.rooms.reshape(-1)[window] == core.target[:, None]).any(1)
            cue = np.where(shows & (core.phase == 0), core.target, cue)
        reward, term, _ = core.step(rooms_action(core, seen, cue), running)
        total += reward
        running &= ~term
        if not running.any():
            break
    return _summary(f"merlin_rl/{task}-v0", player, total, core)


# --------------------------------------------------------------------------- both


def _summary(task: str, player: str, total: np.ndarray, core) -> dict[str, float]:
    mean = float(total.mean())
    r_max, r_random = core.max_return, core.random_return
    return {
        "task": task,
        "player": player,
        "episodes": len(total),
        "return": round(mean, 3),
        "standard_error": round(float(total.std() / math.sqrt(len(total))), 3),
        "max_return": r_max,
        "random_return": r_random,
        "normalised": round((mean - r_random) / (r_max - r_random), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=_positive, default=2048)
    p.add_argument("--seed", type=_seed, default=0)
    a = p.parse_args()
    for play in (play_memory_game, play_water_maze):
        for player in ("memory", "no-memory"):
            print(json.dumps(play(player, a.episodes, a.seed)))
    print(json.dumps(play_rooms("KeyToDoor", "memory", a.episodes, a.seed)))
    for player in ("memory", "no-memory"):
        print(json.dumps(play_rooms("ActiveVisualMatch", player, a.episodes, a.seed)))


if __name__ == "__main__":
    main()
