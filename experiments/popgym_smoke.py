"""Does MERLIN run on POPGym's memory tasks as they come? One tiny training per environment.

    pip install popgym
    python experiments/popgym_smoke.py [--level Easy]

POPGym (Morad et al. 2023) is a memory benchmark of card games, bandits and partially observed
control: Discrete, MultiDiscrete, Tuple and Box observations, Discrete and MultiDiscrete actions.
For each ``popgym-*<level>-v0`` id this trains a small MERLIN for 24 env steps and prints one line:
OK with the spaces and the input kind chosen for each observation entry, or ERR with the error's
first line. (popgym is not a dependency of merlin-rl; this script is the only thing that needs it.)
"""

from __future__ import annotations

import argparse
import tempfile

import gymnasium as gym
import torch

from merlin_rl.config import make_config
from merlin_rl.train import Trainer


def smoke(env_id: str) -> str:
    cfg = make_config(
        "small",
        env=env_id,
        num_envs=2,
        tau=4,
        total_steps=24,
        z_dim=8,
        enc_dim=16,
        mlp_hidden=16,
        mbp_hidden=16,
        policy_hidden=16,
        memory_rows=8,
        log_interval=8,
        checkpoint_interval=24,
    )
    try:
        with tempfile.TemporaryDirectory() as run_dir:
            tr = Trainer(cfg, run_dir=run_dir, progress=False)
            tr.train()
            kinds = {k: m.kind for k, m in tr.agent.mbp.codec.modalities.items()}
            return (
                f"OK  {env_id} obs {tr.env.single_observation_space} "
                f"actions {tr.env.single_action_space} inputs {kinds}"
            )
    except Exception as e:  # noqa: BLE001 - report and go on to the next env
        return f"ERR {env_id} {type(e).__name__}: {str(e).splitlines()[0]}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--level", default="Easy", choices=["Easy", "Medium", "Hard"])
    a = p.parse_args()
    import popgym  # noqa: F401  (registers the popgym-* ids)

    torch.set_num_threads(1)
    for env_id in sorted(k for k in gym.registry if k.startswith("popgym-")):
        if env_id.endswith(f"{a.level}-v0"):
            print(smoke(env_id)[:300], flush=True)


if __name__ == "__main__":
    main()
