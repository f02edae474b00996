"""Which past symbol does a trained MERLIN policy answer on RepeatSymbol? For each lag j, the
fraction of rewarded steps whose action equals the symbol observed j steps earlier in the same
episode (j = k = 4 is the right answer; 0.25 is what an unrelated answer matches by chance).

    python docs/runs/learning/calibration8/lag_probe.py runs/calibration8/rs_def_500k/checkpoints/final.pt
"""

import json
import sys

import torch

from merlin_rl.acting import EnvLoop
from merlin_rl.agent import Agent
from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.envs import make_vector_env

torch.manual_seed(0)
path = sys.argv[1]
ckpt = load_checkpoint(path)
cfg = ckpt["config_obj"]
B, STEPS = 32, 52 * 40
env = make_vector_env(cfg.env, B, cfg.env_kwargs)
agent = Agent(env.single_observation_space, env.single_action_space, cfg)
load_model_state(agent, ckpt["model"], path)
agent.eval()
loop = EnvLoop(env, agent, torch.device("cpu"), seed=7)
state = agent.initial_state(B)
syms, acts, valids, starts, age_l = [], [], [], [], []
age = torch.zeros(B, dtype=torch.long)  # valid steps since the episode started
with torch.no_grad():
    for _ in range(STEPS):
        starts.append(loop.episode_start.clone())
        age = torch.where(loop.episode_start, torch.zeros_like(age), age)
        age_l.append(age.clone())
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        syms.append(out.obs["symbol"].argmax(-1))
        acts.append(out.action)
        r, done, term, valid = loop.step(out.action)
        valids.append(valid.bool() & (r != 0))  # a rewarded step
        age = age + valid.long()
        state.prev_reward = (r * agent.reward_scale())[:, None]
S, A, V, AGE = torch.stack(syms), torch.stack(acts), torch.stack(valids), torch.stack(age_l)
out = {}
for j in range(9):
    m = V[j:] & (AGE[j:] >= max(j, 4))  # the symbol j steps back is in the same episode
    out[j] = round(float((A[j:][m] == S[: len(S) - j][m]).float().mean()), 3)
print(json.dumps({"checkpoint": path, "action_equals_symbol_lag": out}))
