"""eval's cap on each env copy's steps (--max-steps): an env that never ends stops with one clear
error, and a cap hit after some episodes summarises those and says so."""

from __future__ import annotations

import gymnasium as gym
import pytest
import torch

from merlin_rl.agent import Agent
from merlin_rl.config import EVAL_MAX_STEPS, make_config
from merlin_rl.envs import EnvError, make_vector_env
from merlin_rl.train import evaluate

FOREVER = "test_eval_cap/Forever-v0"


class _Forever(gym.Env):
    """Never ends, no time limit; counts its steps."""

    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.Discrete(2)
    steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 0, {}

    def step(self, action):
        _Forever.steps += 1
        return 0, 0.0, False, False, {}


def _agent(env_id: str, num_envs: int = 2):
    torch.manual_seed(0)
    cfg = make_config(
        "small", env=env_id, num_envs=num_envs, z_dim=4, enc_dim=8, image_channels=4,
        mlp_hidden=8, mbp_hidden=8, policy_hidden=8,
    )  # fmt: skip
    env = make_vector_env(cfg.env, 1, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg).eval()
    env.close()
    return agent, cfg


def test_an_env_that_never_ends_stops_at_the_cap_with_one_clear_error():
    if FOREVER not in gym.registry:
        gym.register(id=FOREVER, entry_point=_Forever)
    agent, cfg = _agent(FOREVER)
    _Forever.steps = 0
    with torch.no_grad(), pytest.raises(EnvError, match=r"never end.*--max-steps"):
        evaluate(agent, cfg, 2, max_steps=30)
    assert _Forever.steps == 2 * 30  # two copies, 30 steps each


def test_a_cap_hit_after_some_episodes_summarises_those_and_says_so():
    env_id = "merlin_rl/ColourMatch-v0"
    agent, cfg = _agent(env_id)
    env = make_vector_env(env_id, 1)
    length = env.unwrapped.core.length
    env.close()
    with torch.no_grad():
        full = evaluate(agent, cfg, 4, seed=3)
        capped = evaluate(agent, cfg, 4, seed=3, max_steps=length + 2)
    assert full["episodes"] == 4 and not full["stopped_at_max_steps"]
    assert capped["episodes"] == 2 and capped["stopped_at_max_steps"]
    assert capped["mean_length"] == length


def test_the_cli_default_is_the_library_default():
    import inspect

    from merlin_rl.cli import build_parser

    args = build_parser().parse_args(["eval", "--checkpoint", "x.pt"])
    assert args.max_steps == EVAL_MAX_STEPS
    assert inspect.signature(evaluate).parameters["max_steps"].default == EVAL_MAX_STEPS
