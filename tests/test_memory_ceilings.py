"""experiments/memory_ceilings.py: the scripted players bracket MemoryGame and WaterMaze (a
perfect memory against none), and the WaterMaze sweep covers every goal centre."""

from __future__ import annotations

import numpy as np
import pytest
from scripts import load_script

from merlin_rl.envs.water_maze import STEP, WaterMazeCore


def _module():
    return load_script("experiments/memory_ceilings.py")


def test_memory_game_perfect_memory_finishes_and_beats_the_view_alone():
    mod = _module()
    memory = mod.play_memory_game("memory", 64, 0)
    view = mod.play_memory_game("no-memory", 64, 0)
    assert memory["finished"] == 1.0 and memory["return"] == 6.0
    assert memory["mean_steps"] < 100
    assert memory["random_return"] < view["return"] < memory["return"]


def test_memory_game_two_cards():
    """One pair on a 1 x 2 board: found at once by both players (2 steps for the memory player,
    after its one move into the corner)."""
    mod = _module()
    memory = mod.play_memory_game("memory", 16, 3, rows=1, cols=2)
    assert memory["return"] == 1.0 and memory["mean_steps"] <= 4
    assert mod.play_memory_game("no-memory", 16, 3, rows=1, cols=2)["finished"] == 1.0


def test_memory_game_memory_player_uses_only_what_it_saw():
    """With nothing seen yet the player never walks to a hidden twin: its first two flips in
    each episode of the default board match only by chance (about 1 in 11)."""
    mod = _module()
    core = mod.MemoryGameCore(256)
    core.rng.seed(np.arange(256))
    core.reset(np.ones(256, bool))
    known = np.zeros((256, core.cells), bool)
    first_two = np.zeros(256)
    flips = np.zeros(256, int)
    for _ in range(40):
        actions = mod.memory_game_memory_action(core, known)
        reward, _, _ = core.step(actions, np.ones(256, bool))
        known |= core.in_view() & (core.status != mod.FACE_DOWN)
        first_two += reward * (flips < 2)
        flips += actions == mod.FLIP
    assert first_two.mean() < 0.2


def test_water_maze_players_recall_and_search():
    mod = _module()
    memory = mod.play_water_maze("memory", 64, 0)
    search = mod.play_water_maze("no-memory", 64, 0)
    assert memory["episodes_with_a_find"] > 0.95  # the steered sweep reaches nearly every goal
    assert abs(memory["steps_per_later_find"] - 11.6) < 2  # about the oracle's pace
    assert 0.7 < search["steps_per_later_find"] / search["steps_per_first_find"] < 1.5
    assert memory["normalised"] > 0.7 > 0.4 > search["normalised"] > 0.1


def test_sweep_passes_within_the_goal_radius_of_every_goal_centre():
    mod = _module()
    for radius in (0.1, 0.05, 0.2):
        sweep = mod.Sweep(radius)
        lo, hi = radius + 0.05, 0.95 - radius
        g = np.stack(np.meshgrid(np.linspace(lo, hi, 41), np.linspace(lo, hi, 41)), -1).reshape(
            -1, 2
        )
        ab = sweep.b - sweep.a
        u = np.clip(((g[:, None] - sweep.a) * ab).sum(2) / sweep.length**2, 0, 1)
        gap = np.linalg.norm(g[:, None] - (sweep.a + u[..., None] * ab), axis=2).min(1)
        assert gap.max() <= radius + 1e-9
        # the loop closes: its last point is its first
        assert np.allclose(sweep.b[-1], sweep.a[0])
        assert sweep.lookahead >= STEP


def test_water_maze_oracle_steers_like_steer():
    from merlin_rl.envs.water_maze import steer

    core = WaterMazeCore(32, image_size=1)
    core.rng.seed(np.arange(32))
    core.reset(np.ones(32, bool))
    assert (core.oracle() == steer(core.pos, core.heading, core.goal)).all()


def test_rooms_players():
    """The sighted player earns (almost) the oracle's 9 on KeyToDoor and ActiveVisualMatch;
    with the cue forgotten about 4 apples + 5 / 4 on ActiveVisualMatch."""
    mod = _module()
    assert mod.play_rooms("KeyToDoor", "memory", 64, 0)["return"] > 8.8
    assert mod.play_rooms("ActiveVisualMatch", "memory", 64, 0)["return"] > 8.8
    forgot = mod.play_rooms("ActiveVisualMatch", "no-memory", 256, 0)["return"]
    assert abs(forgot - 5.25) < 0.5


def test_rooms_action_with_everything_seen_is_the_oracles():
    """Given every cell as seen, the sighted KeyToDoor player walks as the oracle does (to the
    key, the nearest apple, the door); with nothing seen it heads for an unseen cell instead."""
    mod = _module()
    core = mod.KeyToDoorCore(32)
    core.rng.seed(np.arange(32))
    core.reset(np.ones(32, bool))
    everything = np.ones(core.rooms.shape, bool)
    cue = np.full(32, -1)
    for _ in range(30):
        assert (mod.rooms_action(core, everything, cue) == core.oracle()).all()
        core.step(core.oracle(), np.ones(32, bool))
    nothing = np.zeros(core.rooms.shape, bool)
    blind = mod.rooms_action(core, nothing, cue)
    assert blind.shape == (32,) and not (blind == core.oracle()).all()


@pytest.mark.parametrize("script", ["memory_ceilings", "visuomotor_ceiling"])
@pytest.mark.parametrize("args", [["--episodes", "0"], ["--seed", "-1"], ["--episodes", "x"]])
def test_bad_arguments_exit_2(script, args, monkeypatch, capsys):
    mod = load_script(f"experiments/{script}.py")
    monkeypatch.setattr("sys.argv", [script, *args])
    with pytest.raises(SystemExit) as stop:
        mod.main()
    assert stop.value.code == 2
    assert args[0] in capsys.readouterr().err
