"""--desync cut (acting.EnvLoop): each env copy's second episode is cut at a random step, so that
copies of a fixed-length task stop running in step. Checked against a per-copy, hand-written
schedule under both autoreset modes, on the built-in tasks, and through an exact resume."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from merlin_rl.acting import EnvLoop
from merlin_rl.agent import Agent
from merlin_rl.config import LEGACY_SETTINGS, ConfigError, make_config
from merlin_rl.envs import EnvError, make_vector_env

CPU = torch.device("cpu")


class Count(gym.Env):
    """Observation t (steps taken); reward 1 per step; episode e terminates after
    ``lengths[e % len(lengths)]`` steps."""

    observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, lengths: int | tuple[int, ...]) -> None:
        self.lengths = lengths if isinstance(lengths, tuple) else (lengths,)
        self.t, self.episode, self.length = 0, -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.episode = 0, self.episode + 1
        self.length = self.lengths[self.episode % len(self.lengths)]
        return np.array([0.0], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t >= self.length, False, {}


def tiny_agent(env: gym.vector.VectorEnv) -> Agent:
    cfg = make_config(
        "small", z_dim=8, enc_dim=16, mlp_hidden=16, mbp_hidden=16, policy_hidden=16,
        memory_rows=8, num_envs=env.num_envs,
    )  # fmt: skip
    return Agent(env.single_observation_space, env.single_action_space, cfg)


def count_envs(lengths: list, mode: str = "next") -> SyncVectorEnv:
    am = AutoresetMode.NEXT_STEP if mode == "next" else AutoresetMode.SAME_STEP
    return SyncVectorEnv([lambda n=n: Count(n) for n in lengths], autoreset_mode=am)


def reference(lengths: int | tuple, u: float, steps: int, mode: str) -> dict[str, list]:
    """One copy's per-step flags, written out episode by episode: episodes of their own length
    but the second, cut after k = 1 + floor(u (L - 1)) steps, L the first episode's length (a
    truncation, not logged), unless it ends by itself first; under NEXT_STEP each end is
    followed by one invalid reset step."""
    lengths = lengths if isinstance(lengths, tuple) else (lengths,)
    k = 1 + math.floor(u * (lengths[0] - 1)) if lengths[0] > 1 else 0
    rows: dict[str, list] = {"valid": [], "done": [], "term": [], "obs": [], "logged": []}
    episode = 0
    while len(rows["valid"]) < steps:
        length = lengths[episode % len(lengths)]
        n = k if episode == 1 and 0 < k < length else length
        for t in range(n):
            end = t == n - 1
            rows["valid"].append(True)
            rows["obs"].append(t)  # what the agent acts on at this step
            rows["done"].append(end)
            natural = end and n == length
            rows["term"].append(natural or (end and mode == "same"))
            rows["logged"].append(natural)
        if mode == "next":  # the reset step acts on the episode's last observation
            for key, v in (("valid", False), ("done", False), ("term", False), ("logged", False)):
                rows[key].append(v)
            rows["obs"].append(n)
        episode += 1
    return {key: v[:steps] for key, v in rows.items()}


@pytest.mark.parametrize("mode", ["next", "same"])
def test_cut_schedule_matches_a_per_copy_reference(mode):
    torch.manual_seed(0)
    # five copies in step, short ones, and second episodes too short to be cut (after the first
    # episode's 9 steps, the cut falls in [1, 8]: one of 2 steps ends first, then no cut follows)
    lengths = [7, 7, 7, 7, 7, 2, 1, 9, (9, 2, 9, 9), (9, 1), (5, 9, 5)]
    env = count_envs(lengths, mode)
    loop = EnvLoop(env, tiny_agent(env), CPU, seed=3, desync=True)
    assert loop.mode == mode
    steps = 40
    got: dict[str, list] = {key: [] for key in ("valid", "done", "term", "obs")}
    logged_before = 0
    logged = []
    for _ in range(steps):
        got["obs"].append(loop.obs["obs"][:, 0].round().long().tolist())
        _, done, term, valid = loop.step(torch.zeros(len(lengths), dtype=torch.long))
        for key, x in (("valid", valid), ("done", done), ("term", term)):
            got[key].append(x.bool().tolist())
        logged.append(loop.episodes.count - logged_before)
        logged_before = loop.episodes.count
    for i, n in enumerate(lengths):
        ref = reference(n, float(loop.cut_u[i]), steps, mode)
        for key in ("valid", "done", "term", "obs"):
            assert [row[i] for row in got[key]] == ref[key], (mode, i, n, key)
    expected_logged = [
        sum(
            reference(n, float(loop.cut_u[i]), steps, mode)["logged"][t]
            for i, n in enumerate(lengths)
        )
        for t in range(steps)
    ]
    assert logged == expected_logged  # cut episodes are not logged
    assert {n for _, n in loop.episodes.since_log} <= {1, 2, 5, 7, 9}
    assert 2 < 1 + math.floor(float(loop.cut_u[8]) * 8)  # copy 8's cut is past its 2nd episode
    # the five copies of length 7 no longer end together
    ks = {1 + math.floor(float(u) * 6) for u in loop.cut_u[:5]}
    assert len(ks) > 1


def test_off_keeps_the_copies_in_step():
    env = count_envs([5] * 6)
    loop = EnvLoop(env, tiny_agent(env), CPU, seed=0)
    for _ in range(30):
        loop.step(torch.zeros(6, dtype=torch.long))
        assert len(set(loop.obs["obs"][:, 0].tolist())) == 1
    assert loop.episodes.count == 6 * 5


def test_builtin_task_copies_spread_over_the_episode():
    """ColourMatch's 26-step episodes: in step without desync, spread over many phases with it."""
    phases = {}
    for desync in (False, True):
        env = make_vector_env("merlin_rl/ColourMatch-v0", 32)
        agent = tiny_agent(env)
        loop = EnvLoop(env, agent, CPU, seed=0, desync=desync)
        for _ in range(3 * 27):
            loop.step(torch.randint(0, env.single_action_space.n, (32,)))
        phases[desync] = len(set(loop.episodes.len.tolist()))
        assert {n for _, n in loop.episodes.since_log} == {26}  # only whole episodes are logged
        env.close()
    assert phases[False] == 1
    assert phases[True] >= 8


def test_exact_resume_continues_the_schedule():
    env_a, env_b = (
        make_vector_env("merlin_rl/ColourMatch-v0", 8),
        make_vector_env("merlin_rl/ColourMatch-v0", 8),
    )
    agent = tiny_agent(env_a)
    a = EnvLoop(env_a, agent, CPU, seed=1, desync=True)
    acts = torch.randint(
        0, env_a.single_action_space.n, (80, 8), generator=torch.Generator().manual_seed(0)
    )
    for t in range(30):  # inside the second episodes: some cuts drawn, none yet made
        a.step(acts[t])
    b = EnvLoop(env_b, agent, CPU, seed=99, desync=True)
    b.set_state(a.get_state())
    for t in range(30, 80):
        ra, rb = a.step(acts[t]), b.step(acts[t])
        for x, y in zip(ra, rb):
            assert torch.equal(x, y)
    assert a.episodes.count == b.episodes.count
    np.testing.assert_array_equal(a.cut_at, b.cut_at)


def test_a_state_from_before_desync_cuts_nothing():
    env = make_vector_env("merlin_rl/ColourMatch-v0", 4)
    loop = EnvLoop(env, tiny_agent(env), CPU, seed=0, desync=True)
    state = loop.get_state()
    for key in ("cut_u", "cut_at", "cutting"):
        del state[key]
    loop.set_state(state)
    for _ in range(100):
        loop.step(torch.zeros(4, dtype=torch.long))
    assert {n for _, n in loop.episodes.since_log} == {26}
    assert loop.episodes.count == 4 * (100 // 27)


class NoMask(gym.vector.VectorEnv):
    """A vector env that cannot reset copies alone."""

    def __init__(self) -> None:
        self.inner = count_envs([3, 3])
        self.num_envs = 2
        self.single_observation_space = self.inner.single_observation_space
        self.single_action_space = self.inner.single_action_space
        self.observation_space = self.inner.observation_space
        self.action_space = self.inner.action_space
        self.metadata = self.inner.metadata

    def reset(self, *, seed=None, options=None):
        if options:
            raise ValueError(f"unknown options {options}")
        return self.inner.reset(seed=seed)

    def step(self, actions):
        return self.inner.step(actions)


def test_an_env_without_reset_mask_is_refused_at_the_start():
    env = NoMask()
    with pytest.raises(EnvError, match="--desync off"):
        EnvLoop(env, tiny_agent(env), CPU, seed=0, desync=True)
    EnvLoop(env, tiny_agent(env), CPU, seed=0)  # fine without


def test_config_values():
    assert make_config("small").desync == "cut"  # the default since the forty-seventh session
    assert LEGACY_SETTINGS["desync"] == "off"  # runs and checkpoints from before it
    assert make_config("small", desync="cut").desync == "cut"
    with pytest.raises(ConfigError, match="desync"):
        make_config("small", desync="yes")


def test_a_training_run_with_desync_resumes_exactly(tmp_path):
    """The cut schedule travels in the checkpoint: after a load into a fresh trainer the next
    segments (episode ends, validity, actions) are the uninterrupted run's."""
    from merlin_rl.train import Trainer
    from scripts import TINY

    def trainer(name: str) -> Trainer:
        cfg = make_config("small", **{**TINY, "desync": "cut", "env_kwargs": {"delay": 4}})
        return Trainer(cfg, run_dir=tmp_path / name, progress=False)

    a = trainer("a")
    a.update(a.rollout())  # 7 steps: past the first 6-step episodes, so the cuts are drawn
    assert (a.loop.cut_at > 0).all()
    path = a.checkpoint()
    b = trainer("b")
    assert b.load(path)
    for _ in range(2):
        sa, sb = a.rollout(), b.rollout()
        for key in ("dones", "terminals", "valid", "actions", "starts"):
            assert torch.equal(getattr(sa, key), getattr(sb, key)), key
    assert (a.loop.cut_at == 0).all() and (b.loop.cut_at == 0).all()  # the cuts were made
    assert a.episodes.count == b.episodes.count
    for t in (a, b):
        t.env.close()
