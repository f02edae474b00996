"""WaterMaze mechanics: the ray caster and the image against naive loops, velocities, the goal
(reward and teleport exactly on entering it), starts, truncation, knobs, render and the returns."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

import merlin_rl.envs  # noqa: F401  (registers merlin_rl/WaterMaze-v0)
from merlin_rl.envs.base import upscale
from merlin_rl.envs.water_maze import (
    CUE_COLOURS,
    EAST,
    FLOOR,
    FOV,
    MARGIN,
    MEASURED_RETURNS,
    NORTH,
    SEGMENTS,
    SHADE_LEVELS,
    SHADED_CUES,
    SKY,
    SOUTH,
    START_GAP,
    STEP,
    TURN,
    WALL_HEIGHT,
    WEST,
    WaterMazeCore,
    WaterMazeEnv,
    WaterMazeVectorEnv,
    cast_rays,
    estimate_returns,
    segment_of,
)

# wall -> (start, end) counter-clockwise; the position along the wall runs from start to end
WALLS = {
    SOUTH: ((0, 0), (1, 0)),
    EAST: ((1, 0), (1, 1)),
    NORTH: ((1, 1), (0, 1)),
    WEST: ((0, 1), (0, 0)),
}


def naive_ray(x: float, y: float, angle: float) -> tuple[float, int, float]:
    """One ray against each wall segment (parametric intersection, Cramer's rule); the nearest."""
    dx, dy = math.cos(angle), math.sin(angle)
    best = (math.inf, -1, 0.0)
    for wall, ((x0, y0), (x1, y1)) in WALLS.items():
        ex, ey = x1 - x0, y1 - y0
        det = dx * (-ey) - dy * (-ex)  # solve (x, y) + t (dx, dy) = (x0, y0) + u (ex, ey)
        if abs(det) < 1e-15:
            continue
        rx, ry = x0 - x, y0 - y
        t = (rx * (-ey) - ry * (-ex)) / det
        u = (dx * ry - dy * rx) / det
        if t > 0 and -1e-12 <= u <= 1 + 1e-12 and t < best[0]:
            best = (t, wall, min(max(u, 0.0), 1.0))
    return best


def make_core(num_envs: int = 1, seed: int = 0, **knobs) -> WaterMazeCore:
    core = WaterMazeCore(num_envs, **knobs)
    core.rng.seed(np.arange(num_envs) + seed)
    core.reset(np.ones(num_envs, bool))
    return core


def place(
    core: WaterMazeCore, x: float, y: float, heading: float, goal: tuple[float, float] = (0.8, 0.8)
) -> None:
    core.pos[0] = (x, y)
    core.heading[0] = heading
    core.goal[0] = goal


def step1(core: WaterMazeCore, action: int) -> tuple[float, bool, bool]:
    r, te, tr = core.step(np.array([action]), np.ones(1, bool))
    return float(r[0]), bool(te[0]), bool(tr[0])


# ------------------------------------------------------------------------------ ray caster
def test_ray_caster_matches_a_per_ray_per_wall_loop():
    rng = np.random.default_rng(0)
    b, w = 40, 16
    pos = rng.uniform(MARGIN, 1 - MARGIN, (b, 2))
    pos[:4] = [[MARGIN, MARGIN], [1 - MARGIN, 0.5], [0.5, 1 - MARGIN], [0.5, 0.5]]
    angles = rng.uniform(-4, 10, (b, w))
    angles[3] = np.arange(w) * np.pi / 2  # exactly along the axes (parallel to walls)
    dist, wall, along = cast_rays(pos, angles)
    assert dist.shape == wall.shape == along.shape == (b, w)
    for i in range(b):
        for j in range(w):
            t, wl, u = naive_ray(pos[i, 0], pos[i, 1], angles[i, j])
            assert dist[i, j] == pytest.approx(t, rel=1e-9, abs=1e-12), (i, j)
            assert wall[i, j] == wl, (i, j, wall[i, j], wl)
            assert along[i, j] == pytest.approx(u, abs=1e-9), (i, j)
            assert segment_of(along[i, j : j + 1])[0] == min(int(u * SEGMENTS), SEGMENTS - 1)


def test_image_matches_a_per_pixel_loop():
    core = make_core(5, seed=3, image_size=12)
    s = core.image_size
    image = core.observation()["image"]
    assert image.shape == (5, s, s, 3) and image.dtype == np.uint8
    offsets = FOV / 2 - (np.arange(s) + 0.5) * FOV / s
    for i in range(5):
        for c in range(s):
            angle = core.heading[i] + offsets[c]
            dist, wall, along = (
                a[0, 0] for a in cast_rays(core.pos[i : i + 1], np.array([[angle]]))
            )
            level = int(min(dist, math.sqrt(2)) * ((SHADE_LEVELS - 1) / math.sqrt(2)) + 0.5)
            cue = wall * SEGMENTS + min(int(along * SEGMENTS), SEGMENTS - 1)
            half = 0.5 * s * WALL_HEIGHT / (dist * math.cos(offsets[c]))
            for r in range(s):
                above = r + 0.5 - s / 2
                if abs(above) < half:
                    want = SHADED_CUES[cue * SHADE_LEVELS + level]
                elif above < 0:
                    want = SKY
                else:
                    want = FLOOR * (0.6 + 0.4 * min(above / (s / 2), 1.0))
                np.testing.assert_array_equal(
                    image[i, r, c],
                    np.asarray(want).astype(np.uint8),
                    err_msg=f"copy {i} row {r} column {c}",
                )


def test_view_shows_the_cue_ahead_and_hides_the_goal():
    core = make_core(image_size=16)
    place(core, 0.5, 0.5, 0.0)  # facing east: the middle east segment, green
    view = core.observation()["image"][0]
    middle = view[8, 6:10].astype(float)
    east_middle = CUE_COLOURS[EAST * SEGMENTS + 1]
    for px in middle:  # a shade of the cue colour
        k = px.max() / east_middle.max()
        np.testing.assert_allclose(px, east_middle * k, atol=2)
    assert (view[0] == SKY.astype(np.uint8)).all()
    core.goal[0] = (0.2, 0.3)
    before = core.observation()["image"].copy()
    core.goal[0] = (0.7, 0.6)  # the goal never shows in the view
    np.testing.assert_array_equal(core.observation()["image"], before)


def test_cue_colours_are_distinct():
    assert len({tuple(c) for c in CUE_COLOURS}) == 4 * SEGMENTS
    assert all(tuple(c) not in (tuple(SKY), tuple(FLOOR)) for c in CUE_COLOURS)


# ------------------------------------------------------------------------------ motion
@pytest.mark.parametrize(
    "action,turn,forward", [(0, 0, 1), (1, 1, 0), (2, -1, 0), (3, 1, 1), (4, -1, 1)]
)
def test_velocity_and_motion_of_each_action(action: int, turn: int, forward: int):
    core = make_core()
    place(core, 0.4, 0.3, 1.0)
    assert step1(core, action) == (0.0, False, False)
    heading = 1.0 + turn * TURN
    assert core.heading[0] == pytest.approx(heading)
    np.testing.assert_allclose(
        core.pos[0],
        [0.4 + forward * STEP * math.cos(heading), 0.3 + forward * STEP * math.sin(heading)],
        atol=1e-12,
    )
    vel = core.observation()["velocity"][0]
    assert vel.dtype == np.float32
    np.testing.assert_allclose(vel, [forward, 0.0, turn], atol=1e-6)


def test_walls_stop_the_agent_and_it_slides_along_them():
    core = make_core()
    place(core, MARGIN + 0.01, 0.5, math.radians(150))  # turning left faces 180: into the wall
    step1(core, 3)  # turn left and swim west
    np.testing.assert_allclose(core.pos[0], [MARGIN, 0.5], atol=1e-12)
    np.testing.assert_allclose(core.observation()["velocity"][0], [0.2, 0.0, 1.0], atol=1e-6)
    place(core, MARGIN + 0.01, 0.5, math.radians(150))
    step1(core, 0)  # swim at 150 degrees: slide north
    move = np.array([-0.01, STEP * math.sin(math.radians(150))])
    np.testing.assert_allclose(core.pos[0], [MARGIN, 0.5 + move[1]], atol=1e-12)
    h = math.radians(150)
    fwd = (move[0] * math.cos(h) + move[1] * math.sin(h)) / STEP
    left = (move[1] * math.cos(h) - move[0] * math.sin(h)) / STEP
    vel = core.observation()["velocity"][0]
    np.testing.assert_allclose(vel, [fwd, left, 0.0], atol=1e-6)
    assert abs(vel[1]) > 0.1 and 0 < vel[0] < 1
    rng = np.random.default_rng(1)  # never leaves the arena
    for _ in range(300):
        step1(core, int(rng.integers(5)))
        assert (core.pos >= MARGIN).all() and (core.pos <= 1 - MARGIN).all()
        assert (np.abs(core.observation()["velocity"]) <= 1).all()


# ------------------------------------------------------------------------------ goal and trials
def test_entering_the_goal_rewards_and_teleports():
    core = make_core(goal_radius=0.1)
    goal = (0.7, 0.5)
    place(core, 0.7 - 0.1 - 0.04, 0.5, 0.0, goal)  # 0.04 short of the rim, facing it
    assert step1(core, 1) == (0.0, False, False)  # turning in place: nothing
    place(core, 0.7 - 0.1 - 0.06, 0.5, 0.0, goal)
    assert step1(core, 0) == (0.0, False, False)  # 0.01 short after the step
    np.testing.assert_allclose(core.pos[0], [0.59, 0.5])
    assert core.trials[0] == 0
    assert step1(core, 0) == (1.0, False, False)  # enters the disc
    assert core.trials[0] == 1 and core.t[0] == 3
    np.testing.assert_array_equal(core.goal[0], goal)  # same goal for the next trial
    assert np.hypot(*(core.pos[0] - goal)) >= 0.1 + START_GAP
    np.testing.assert_array_equal(core.observation()["velocity"][0], 0.0)


def test_a_step_that_crosses_the_rim_counts_even_if_it_ends_outside():
    core = make_core(goal_radius=0.05)
    # a chord: swimming east at y = 0.5 + 0.045 past a disc at (0.5, 0.5), from x = 0.475 to 0.525
    place(core, 0.475, 0.545, 0.0, (0.5, 0.5))
    assert np.hypot(0.025, 0.045) > 0.05  # both ends are outside the disc
    assert step1(core, 0)[0] == 1.0
    place(core, 0.475, 0.551, 0.0, (0.5, 0.5))  # passes just outside: no reward
    assert step1(core, 0)[0] == 0.0


def test_starts_and_goals_are_placed_as_documented():
    r = 0.2
    core = make_core(4000, seed=5, goal_radius=r)
    assert (core.goal >= r + 0.05 - 1e-12).all() and (core.goal <= 0.95 - r + 1e-12).all()
    assert (core.pos >= MARGIN).all() and (core.pos <= 1 - MARGIN).all()
    assert (np.hypot(*(core.pos - core.goal).T) >= r + START_GAP).all()
    assert (core.heading >= 0).all() and (core.heading < 2 * np.pi).all()
    assert core.heading.std() > 1.5 and core.pos.std(axis=0).min() > 0.2  # spread out
    np.testing.assert_array_equal(core.velocity, 0.0)
    np.testing.assert_array_equal(core.t, 0)


def test_episode_truncates_after_episode_steps_and_never_terminates():
    env = WaterMazeEnv(episode_steps=7)
    env.reset(seed=0)
    for t in range(1, 8):
        _, _, terminated, truncated, _ = env.step(t % 5)
        assert not terminated
        assert truncated == (t == 7)
    vec = WaterMazeVectorEnv(num_envs=2, episode_steps=3)
    vec.reset(seed=0)
    flags = [vec.step(np.zeros(2, np.int64))[3].tolist() for _ in range(4)]
    assert flags == [[False, False], [False, False], [True, True], [False, False]]
    assert (vec.core.t == 0).all()  # the fourth step was the autoreset


def test_batched_equals_single_through_many_teleports():
    """The oracle teleports every ~12 steps: copy i of a batched env still matches a single env."""
    vec = WaterMazeVectorEnv(num_envs=3, episode_steps=60)
    singles = [WaterMazeEnv(episode_steps=60) for _ in range(3)]
    obs, _ = vec.reset(seed=4)
    for i, e in enumerate(singles):
        e.reset(seed=4 + i)
    total = 0.0
    for t in range(150):
        actions = vec.core.oracle()
        obs, r, term, trunc, _ = vec.step(actions)
        for i, e in enumerate(singles):
            if t % 61 == 60:  # the NEXT_STEP autoreset step
                o = e.reset()[0]
                assert r[i] == 0
            else:
                o, ri, _, tri, _ = e.step(int(actions[i]))
                assert (ri, tri) == (r[i], trunc[i]), (t, i)
            for k in o:
                np.testing.assert_array_equal(o[k], obs[k][i], err_msg=f"step {t} copy {i} {k}")
        total += r.sum()
    assert total >= 25


def test_masked_copies_do_not_change():
    core = make_core(3, seed=1)
    before = core.get_state()
    mask = np.array([True, False, True])
    core.step(np.array([0, 3, 4]), mask)
    after = core.get_state()
    for k in ("pos", "heading", "velocity", "t", "goal"):
        np.testing.assert_array_equal(after[k][1], before[k][1], err_msg=k)
    assert after["rng_counter"][1] == before["rng_counter"][1]


# ------------------------------------------------------------------------------ knobs, render
@pytest.mark.parametrize(
    "knobs,name",
    [
        ({"image_size": 0}, "image_size"),
        ({"episode_steps": 0}, "episode_steps"),
        ({"episode_steps": 2.5}, "episode_steps"),
        ({"goal_radius": 0.3}, "goal_radius"),
        ({"goal_radius": 0.0}, "goal_radius"),
        ({"goal_radius": "big"}, "goal_radius"),
        ({"goal_radius": True}, "goal_radius"),
    ],
)
def test_bad_knobs_are_clear_errors(knobs: dict, name: str):
    with pytest.raises(ValueError, match=f"WaterMaze: {name}"):
        WaterMazeEnv(**knobs)


def test_render_is_map_next_to_the_upscaled_view():
    env = gym.make("merlin_rl/WaterMaze-v0", render_mode="rgb_array", image_size=8)
    obs, _ = env.reset(seed=2)
    frame = env.render()
    view = upscale(obs["image"], 16)
    assert frame.shape == (128, 128 + 4 + 128, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[:, -128:], view)
    core = env.unwrapped.core
    x, y = core.pos[0]
    bt, n = 5, 128 - 10  # wall band and arena side, pixels
    assert (frame[int((1 - y) * n + bt), int(x * n + bt)] == 0).all()  # the agent, black
    gx, gy = core.goal[0]
    centre = frame[int((1 - gy) * n + bt), int(gx * n + bt)].astype(int)
    assert centre.min() > 120  # the goal disc, light


# ------------------------------------------------------------------------------ returns
def test_documented_returns_match_a_fresh_simulation():
    oracle, rand = estimate_returns(200, 0.1)
    want_oracle, want_random = MEASURED_RETURNS[(200, 0.1)]
    assert abs(oracle - want_oracle) < 0.6  # 128 episodes, sd 2.05
    assert abs(rand - want_random) < 0.1  # 1024 episodes, sd 0.74
    core = WaterMazeCore(1)
    assert (core.max_return, core.random_return) == (want_oracle, want_random)
    smaller = WaterMazeCore(1, episode_steps=100, goal_radius=0.05)  # estimated for its knobs
    assert 0 < smaller.random_return < smaller.max_return < want_oracle / 2


def test_oracle_trials_are_fast_and_random_ones_slow():
    core = make_core(64, seed=9)
    every = np.ones(64, bool)
    for _ in range(200):
        core.step(core.oracle(), every)
    per_trial = 200 / core.trials.mean()
    assert 8 < per_trial < 16  # ~11.6 steps per trial
    core = make_core(64, seed=9)
    rng = np.random.default_rng(0)
    for _ in range(200):
        core.step(rng.integers(5, size=64), every)
    assert core.trials.mean() < 1.5
