"""MemoryChain: bsuite's memory_len task as a plain Gymnasium env (a vector input, a cue shown once).

Episode of ``length`` steps (default 30, longer than the truncation window tau = 20). The
observation is a float vector ``[time left, query, context]``: time left ``1 - t / length``, the
query flag 1 at the last step only, and the context, +1 or -1 drawn at reset, shown at step 0 only
(0 after). Actions: 0 or 1. At the last step the reward is +1 if the action equals the context
(+1 -> 1, -1 -> 0) and -1 if not; every other step gives 0 and its action does nothing. Maximum
return 1, a memoryless policy 0.

It is here, not among the built-in tasks, as the kind of env a user brings: registered through
``--env-import``, with TimeLimit's ``max_episode_steps`` = ``length`` (so the memory gets one row
per step). Used to measure whether a cue that is 1 value in 3 x length of a vector input gets
into z (docs/learning.md, seventeenth session):

    PYTHONPATH=experiments merlin-rl train --env-import memory_chain \\
        --env experiments/MemoryChain-v0 --total-steps 150000

Run as a script, it follows the memory chain of a trained checkpoint over 256 episodes (one JSON
line): ``drawn`` the share whose context the MBP's vector decoder gives back (its sign) from z_0,
``z0_probe`` the same for a least-squares read-out of z_0 fitted on half of them and scored on
the other half, ``read_<head>`` the weight each head puts on row 0 at the query step (against a
uniform read's), and ``used`` the share answered right (chance 0.5):

    python experiments/memory_chain.py --probe RUN/checkpoints/final.pt
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class MemoryChainEnv(gym.Env):
    def __init__(self, length: int = 30) -> None:
        if not isinstance(length, int) or length < 2:
            raise ValueError(f"MemoryChain: length must be an integer >= 2, got {length!r}")
        self.length = length
        self.observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.t, self.context = 0, 1

    def _obs(self) -> np.ndarray:
        query = 1.0 if self.t == self.length - 1 else 0.0
        context = (1.0 if self.context else -1.0) if self.t == 0 else 0.0
        return np.array([1.0 - self.t / self.length, query, context], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.context = int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        if self.t == self.length - 1:
            reward = 1.0 if int(action) == self.context else -1.0
            return self._obs(), reward, True, False, {}
        self.t += 1
        return self._obs(), 0.0, False, False, {}


if "experiments/MemoryChain-v0" not in gym.registry:  # loaded twice (tests): keep the first
    gym.register("experiments/MemoryChain-v0", entry_point=MemoryChainEnv, max_episode_steps=30)


def chain(agent, env, seed: int = 0) -> dict:
    """The chain's links over one episode of every copy of ``env`` (a vector env of
    MemoryChain) for ``agent`` (see the module docstring)."""
    import torch

    path = Path(__file__).with_name("cue_probe.py")
    spec = importlib.util.spec_from_file_location("cue_probe", path)
    cue = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cue)
    b, length = env.num_envs, env.get_attr("length")[0]
    stepper = cue._Stepper(agent, env, seed)
    out: dict = {"episodes": b}
    reads: dict[str, list[tuple[float, float]]] = {}
    with torch.no_grad():
        for t in range(length):
            memory, step = stepper.act()
            if t == 0:
                context = step.obs["obs"][:, 2].numpy() > 0
                z0 = step.z.numpy()
                if agent.mbp.decoders:
                    m = agent.mbp.codec.modality("obs")
                    drawn = m.decoder(agent.mbp.decoder_input(step.z, "obs"))[:, 2].numpy()
                    out["drawn"] = round(float(((drawn > 0) == context).mean()), 3)
            if t == length - 1:
                out["used"] = round(float((step.action.numpy() == context).mean()), 3)
                if agent.use_memory:  # the row written at step 0, in the memory read (M_{t-1})
                    held = memory.written.numpy()
                    first = held & (memory.write_step.numpy() == 0)
                    for name, w in cue._heads(step).items():
                        w = w.numpy()
                        for i in range(b):  # a probe, not a hot path
                            reads.setdefault(name, []).append(
                                (float(w[i][first[i]].sum()), 1 / held[i].sum())
                            )
            stepper.advance(step)
    out.update(cue._read_shares(reads))
    half = b // 2
    x = np.c_[z0, np.ones(b)]
    w = np.linalg.lstsq(x[:half], context[:half] * 2.0 - 1.0, rcond=None)[0]
    out["z0_probe"] = round(float(((x[half:] @ w > 0) == context[half:]).mean()), 3)
    return out


def main() -> None:
    import torch

    from merlin_rl.agent import Agent
    from merlin_rl.checkpoint import load_checkpoint, load_model_state
    from merlin_rl.envs import make_vector_env

    p = argparse.ArgumentParser(description="MemoryChain's memory chain on a checkpoint")
    p.add_argument("--probe", required=True, metavar="CHECKPOINT")
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    ckpt = load_checkpoint(Path(a.probe))
    cfg = ckpt["config_obj"]
    env = make_vector_env(cfg.env, a.episodes, cfg.env_kwargs)
    agent = Agent(env.single_observation_space, env.single_action_space, cfg)
    load_model_state(agent, ckpt["model"], a.probe)
    agent.eval()
    torch.manual_seed(a.seed)
    print(json.dumps({"checkpoint": a.probe, **chain(agent, env, a.seed)}))


if __name__ == "__main__":
    main()
