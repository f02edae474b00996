"""InstructedGoal: tokenisation, the instruction shown at step 0 only, rewards and episode ends,
the vectorised layouts / image / distance field / oracle against naive loops, knob validation."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest

from merlin_rl.envs.instructed_goal import (
    COLOURS,
    INSTRUCTIONS,
    NUM_PAIRS,
    OUTSIDE_RGB,
    PALETTE,
    PATTERNS,
    SHAPES,
    VOCAB,
    InstructedGoalCore,
    distance_field,
    max_objects,
    tokens_to_words,
    words_to_tokens,
)

ENV_ID = "merlin_rl/InstructedGoal-v0"
UP, DOWN, LEFT, RIGHT = range(4)


def _core(b: int = 1, seed: int = 0, **knobs) -> InstructedGoalCore:
    core = InstructedGoalCore(b, **knobs)
    core.rng.seed(seed + np.arange(b))
    core.reset(np.ones(b, bool))
    return core


def _place(core: InstructedGoalCore, agent: tuple[int, int], objects: dict, goal: tuple[int, int]):
    """Copy 0: agent at (y, x), objects {(y, x): kind}, the goal the object at ``goal``."""
    n = core.size
    core.board[0] = 0
    for (y, x), kind in objects.items():
        core.board[0, y * n + x] = 2 + kind
    core.pos[0] = agent[0] * n + agent[1]
    core.goal[0] = goal[0] * n + goal[1]
    core.goal_kind[0] = objects[goal]
    core.t[0] = 0


def _step(core: InstructedGoalCore, action: int) -> tuple[float, bool, bool]:
    r, te, tr = core.step(np.array([action]), np.ones(1, bool))
    return float(r[0]), bool(te[0]), bool(tr[0])


def _bfs(board: np.ndarray, goal: int, n: int) -> np.ndarray:
    """Naive shortest paths to ``goal`` over the free cells (flat board of one copy)."""
    dist = np.full(n * n, -1)
    dist[goal] = 0
    todo = deque([goal])
    while todo:
        c = todo.popleft()
        y, x = divmod(c, n)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            yy, xx = y + dy, x + dx
            if 0 <= yy < n and 0 <= xx < n:
                d = yy * n + xx
                if dist[d] < 0 and board[d] == 0:
                    dist[d] = dist[c] + 1
                    todo.append(d)
    return dist


# ---- tokenisation -----------------------------------------------------------------------------


def test_vocabulary_and_token_round_trip():
    assert VOCAB[0] == "<pad>" and VOCAB[1:4] == ("go", "to", "the")
    assert len(set(VOCAB)) == len(VOCAB) == 4 + len(COLOURS) + len(SHAPES)
    ids = words_to_tokens("go to the blue key")
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 2, 3, VOCAB.index("blue"), VOCAB.index("key")]
    assert tokens_to_words(ids) == "go to the blue key"
    assert words_to_tokens("go to").tolist() == [1, 2, 0, 0, 0]  # padded with 0
    assert tokens_to_words(np.array([1, 2, 0, 0, 0])) == "go to"
    for kind in range(NUM_PAIRS):  # the instruction of every kind names its colour and shape
        words = f"go to the {COLOURS[kind // 3]} {SHAPES[kind % 3]}"
        assert tokens_to_words(INSTRUCTIONS[kind]) == words
        np.testing.assert_array_equal(words_to_tokens(words), INSTRUCTIONS[kind])
    for bad in ("go to the pink key", "go to the blue key now please", "<pad>"):
        with pytest.raises(ValueError, match="tokenise"):
            words_to_tokens(bad)


def test_text_is_the_instruction_at_step_0_and_zero_afterwards():
    env = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point", delay=2)
    obs, _ = env.reset(seed=4)
    core = env.unwrapped.core
    np.testing.assert_array_equal(obs["text"], INSTRUCTIONS[core.goal_kind])
    assert all(core.instruction(i) == tokens_to_words(obs["text"][i]) for i in range(8))
    assert env.observation_space["text"].contains(obs["text"])
    fresh = np.zeros(8, bool)  # NEXT_STEP: the step after an end returns a reset observation
    rng = np.random.default_rng(0)
    resets = 0
    for _ in range(200):
        obs, _, term, trunc, _ = env.step(rng.integers(4, size=8))
        shown = (obs["text"] != 0).any(1)
        np.testing.assert_array_equal(shown, fresh)  # the instruction exactly on reset steps
        np.testing.assert_array_equal(obs["text"][fresh], INSTRUCTIONS[core.goal_kind[fresh]])
        resets += int(fresh.sum())
        fresh = term | trunc
    assert resets > 10


def test_always_show_keeps_the_instruction_in_every_observation():
    """The memoryless control: the same episodes (same seed), the text never blank."""
    kw = dict(num_envs=8, vectorization_mode="vector_entry_point")
    once, always = gym.make_vec(ENV_ID, **kw), gym.make_vec(ENV_ID, always_show=True, **kw)
    a, _ = once.reset(seed=3)
    b, _ = always.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(b["text"], INSTRUCTIONS[always.unwrapped.core.goal_kind])
        actions = rng.integers(4, size=8)
        a, ra, *_ = once.step(actions)
        b, rb, *_ = always.step(actions)
        np.testing.assert_array_equal(ra, rb)


# ---- mechanics --------------------------------------------------------------------------------


def test_goal_gives_one_other_object_ends_with_zero_walls_stop():
    core = _core()
    objects = {(1, 1): 0, (1, 3): 5, (3, 2): 10}
    _place(core, (0, 0), objects, goal=(1, 3))
    assert _step(core, UP) == (0.0, False, False) and core.pos[0] == 0  # wall
    assert _step(core, LEFT) == (0.0, False, False) and core.pos[0] == 0
    assert _step(core, RIGHT) == (0.0, False, False) and core.pos[0] == 1
    assert _step(core, RIGHT) == (0.0, False, False)
    assert _step(core, RIGHT) == (0.0, False, False) and core.pos[0] == 3
    assert _step(core, DOWN) == (1.0, True, False)  # onto the goal (1, 3)
    _place(core, (0, 1), objects, goal=(1, 3))
    assert _step(core, DOWN) == (0.0, True, False)  # onto the other object at (1, 1)
    _place(core, (2, 2), objects, goal=(1, 3))
    assert _step(core, DOWN) == (0.0, True, False)  # (3, 2)


def test_same_colour_or_same_shape_is_not_the_goal():
    core = _core()
    blue_key, blue_ball, red_key = 2 * 3 + 0, 2 * 3 + 1, 0 * 3 + 0
    objects = {(2, 1): blue_key, (2, 3): blue_ball, (0, 2): red_key}
    for target, reward in (((2, 1), 1.0), ((2, 3), 0.0), ((0, 2), 0.0)):
        _place(core, (2, 2), objects, goal=(2, 1))
        action = {(2, 1): LEFT, (2, 3): RIGHT, (0, 2): UP}[target]
        if target == (0, 2):
            _step(core, UP)
        assert _step(core, action)[:2] == (reward, True)


def test_truncation_after_max_steps_and_delay_freezes_the_agent():
    core = _core(max_steps=14, delay=3)
    _place(core, (0, 0), {(4, 4): 7}, goal=(4, 4))
    for t in range(3):  # delay: the agent does not move
        assert _step(core, RIGHT) == (0.0, False, False) and core.pos[0] == 0, t
    for t in range(13):  # moving up and down along the wall, never reaching the object
        assert _step(core, DOWN if t % 2 == 0 else UP) == (0.0, False, False), t
    assert core.pos[0] == 5
    assert _step(core, UP) == (0.0, False, True)  # step delay + max_steps
    core = _core(max_steps=14, delay=3)
    _place(core, (4, 3), {(4, 4): 7}, goal=(4, 4))
    assert _step(core, RIGHT) == (0.0, False, False)  # frozen: the goal next door is not reached
    for _ in range(2):
        _step(core, UP)
    assert _step(core, RIGHT) == (1.0, True, False)


def test_single_env_episode_ends_and_reset_step():
    env = gym.make(ENV_ID)
    obs, _ = env.reset(seed=3)
    core = env.unwrapped.core
    ret, steps, done = 0.0, 0, False
    while not done:
        obs, r, term, trunc, _ = env.step(int(core.oracle()[0]))
        ret, steps, done = ret + r, steps + 1, term or trunc
        assert not obs["text"].any()
    assert ret == 1.0 and term and steps <= 8 + 6


# ---- vectorised computations against naive loops ---------------------------------------------


@pytest.mark.parametrize("size,num_objects", [(3, 1), (5, 3), (6, 4), (8, 7), (10, 11)])
def test_layouts(size: int, num_objects: int):
    b = 300
    core = _core(b, seed=9, size=size, num_objects=num_objects, max_steps=100)
    bound = 2 * (size - 1) + 2 * num_objects
    for i in range(b):
        board = core.board[i]
        cells = np.flatnonzero(board)
        assert len(cells) == num_objects
        kinds = board[cells] - 2
        assert len(set(kinds.tolist())) == num_objects and kinds.min() >= 0
        assert kinds.max() < NUM_PAIRS
        assert board[core.pos[i]] == 0  # the agent is not on an object
        assert core.goal[i] in cells and board[core.goal[i]] == core.goal_kind[i] + 2
        ys, xs = np.divmod(cells, size)
        for a in range(num_objects):  # no two objects touch, not even diagonally
            for c in range(a):
                assert max(abs(ys[a] - ys[c]), abs(xs[a] - xs[c])) >= 2
        dist = _bfs(board, core.goal[i], size)
        assert (dist[board == 0] >= 0).all()  # every free cell reaches the goal
        assert 1 <= dist[core.pos[i]] <= bound
    # every cell hosts the agent and every kind shows up; each slot is the goal sometimes
    big = _core(2000, seed=1, size=size, num_objects=num_objects, max_steps=100)
    assert len(np.unique(big.pos)) == size * size
    if num_objects >= 3:
        assert len(np.unique(big.board[big.board > 0])) == NUM_PAIRS


def test_goal_is_each_object_equally_often():
    core = _core(6000, seed=2)
    # rank of the goal among the objects by cell: uniform over the 3 objects
    rank = np.cumsum(core.board > 0, 1)[np.arange(6000), core.goal] - 1
    freq = np.bincount(rank, minlength=3) / 6000
    assert np.abs(freq - 1 / 3).max() < 0.03, freq


def _naive_image(core: InstructedGoalCore, i: int) -> np.ndarray:
    n, s = core.size, core.image_size
    k = s // n
    off = (s - n * k) // 2
    img = np.zeros((s, s, 3), np.uint8)
    img[:] = OUTSIDE_RGB
    for py in range(s):
        for px in range(s):
            y, x = py - off, px - off
            if not (0 <= y < n * k and 0 <= x < n * k):
                continue
            c = (y // k) * n + x // k
            sy, sx = (y % k) * 3 // k, (x % k) * 3 // k
            if c == core.pos[i]:
                img[py, px] = 255
            elif core.board[i, c] > 0:
                kind = core.board[i, c] - 2
                img[py, px] = PALETTE[kind // 3] if PATTERNS[kind % 3][sy, sx] else 0
            else:
                img[py, px] = 0
    return img


@pytest.mark.parametrize(
    "knobs",
    [{}, {"image_size": 17}, {"image_size": 64}, {"size": 7, "num_objects": 6, "max_steps": 30}],
)
def test_image_matches_naive_drawing(knobs: dict):
    core = _core(6, seed=5, **knobs)
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs = core.observation()
        assert obs["image"].shape == (6, core.image_size, core.image_size, 3)
        assert obs["image"].dtype == np.uint8
        for i in range(6):
            np.testing.assert_array_equal(obs["image"][i], _naive_image(core, i), err_msg=str(i))
        _, term, trunc = core.step(rng.integers(4, size=6), np.ones(6, bool))
        core.reset(term | trunc)


def test_shapes_are_distinct_patterns():
    flat = PATTERNS.reshape(3, -1)
    assert len({tuple(p) for p in flat}) == 3 and (flat.sum(1) > 0).all()
    assert len({tuple(c) for c in PALETTE}) == len(COLOURS)


def test_distance_field_and_oracle_match_bfs():
    core = _core(200, seed=11, size=6, num_objects=4)
    dist = distance_field(core.board.reshape(-1, 6, 6), core.goal).reshape(200, 36)
    acts = core.oracle()
    for i in range(200):
        ref = _bfs(core.board[i], core.goal[i], 6)
        np.testing.assert_array_equal(
            np.where(ref >= 0, ref, -1), np.where(dist[i] < 2**20, dist[i], -1)
        )
        nxt = core.next_cell[core.pos[i], acts[i]]
        assert ref[nxt] == ref[core.pos[i]] - 1  # the oracle's move shortens the path by one


def test_oracle_always_wins_with_other_knobs():
    env = gym.make_vec(
        ENV_ID,
        num_envs=32,
        vectorization_mode="vector_entry_point",
        size=7,
        num_objects=6,
        max_steps=24,
        delay=2,
    )
    core = env.unwrapped.core
    env.reset(seed=0)
    wins = ends = 0
    fresh = np.zeros(32, bool)
    for _ in range(300):
        _, r, term, trunc, _ = env.step(core.oracle())
        assert not (trunc & ~fresh).any()  # the oracle never runs out of time
        wins += int(r[~fresh].sum())
        ends += int(((term | trunc) & ~fresh).sum())
        fresh = term | trunc
    assert ends > 100 and wins == ends


def test_render_shows_room_and_goal_strip():
    env = gym.make(ENV_ID, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 96
    goal_rgb = PALETTE[env.unwrapped.core.goal_kind[0] // 3]
    strip = frame[: 2 * 21]
    assert (strip.reshape(-1, 3) == goal_rgb).all(1).any()  # the goal object drawn on top


# ---- knobs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "knobs,name",
    [
        ({"size": 2}, "size"),
        ({"size": 11}, "size"),
        ({"size": 5.0}, "size"),
        ({"num_objects": 0}, "num_objects"),
        ({"num_objects": 4}, "num_objects"),
        ({"max_steps": 13}, "max_steps"),
        ({"delay": -1}, "delay"),
        ({"image_size": 14}, "image_size"),
        ({"image_size": True}, "image_size"),
        ({"size": 6, "image_size": 15}, "image_size"),
        ({"always_show": 1}, "always_show"),
    ],
)
def test_bad_knobs_name_the_knob(knobs: dict, name: str):
    with pytest.raises(ValueError, match=rf"InstructedGoal: {name} must be"):
        gym.make(ENV_ID, **knobs)


def test_knob_defaults_and_limits():
    core = InstructedGoalCore(1)
    knobs = (core.size, core.num_objects, core.max_steps, core.delay, core.image_size)
    assert knobs == (5, 3, 20, 0, 15)
    assert [max_objects(n) for n in (3, 5, 6, 10)] == [1, 3, 4, 11]
    big = InstructedGoalCore(1, size=6, num_objects=4, max_steps=18, image_size=64)
    assert big.observation_space["image"].shape == (64, 64, 3)
    text = big.observation_space["text"]
    assert text.shape == (5,) and text.high.max() == len(VOCAB) - 1 == 12
