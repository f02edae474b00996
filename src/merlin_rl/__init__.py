"""merlin-rl: MERLIN (Memory, RL, and Inference Network; Wayne et al. 2018) in PyTorch."""

import os as _os
import sys as _sys


def _quiet_interrupt(kind, value, tb) -> None:
    """Ctrl-C while the command is still importing: one line, not a traceback."""
    if issubclass(kind, KeyboardInterrupt):
        _sys.stderr.write("merlin-rl: interrupted\n")
    else:
        _sys.__excepthook__(kind, value, tb)


# `merlin-rl ...` or `python -m merlin_rl ...` (argv[0] is "-m" while the package is imported)
if _sys.argv and (_sys.argv[0] == "-m" or _os.path.basename(_sys.argv[0]) == "merlin-rl"):
    _sys.excepthook = _quiet_interrupt

from merlin_rl import envs  # noqa: E402, F401  (registers the built-in tasks)
from merlin_rl.agent import Agent, AgentState  # noqa: E402
from merlin_rl.config import Config, make_config  # noqa: E402

__all__ = ["Agent", "AgentState", "Config", "make_config"]
__version__ = "0.1.0"
