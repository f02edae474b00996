"""merlin-rl: MERLIN (Memory, RL, and Inference Network; Wayne et al. 2018) in PyTorch."""

from merlin_rl import envs  # noqa: F401  (registers the built-in tasks)
from merlin_rl.agent import Agent, AgentState
from merlin_rl.config import Config, make_config

__all__ = ["Agent", "AgentState", "Config", "make_config"]
__version__ = "0.1.0"
