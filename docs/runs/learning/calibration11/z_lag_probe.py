"""Does MERLIN's latent carry the past on RepeatSymbol? A linear probe per lag.

Acts with a trained MERLIN checkpoint (its own sampling policy), records mu_q, the sample z_t and
the symbol, and fits a linear classifier (multinomial logistic regression, full batch) from z_t to
the symbol seen k steps earlier, k = 0..5, on the first 80% of the steps; prints the held-out
accuracy per lag and input as JSON lines (chance 0.25). If the MBP's prediction of the return
shaped z to hold the symbol the policy needs (k = 4), the policy's job would be a read-out.

    python docs/runs/learning/calibration11/z_lag_probe.py runs/calibration11/rs_ph128/checkpoints/final.pt
"""

import json
import sys

import torch
import torch.nn.functional as F

from merlin_rl.acting import EnvLoop
from merlin_rl.agent import Agent
from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.envs import make_vector_env

torch.manual_seed(0)
path = sys.argv[1]
ckpt = load_checkpoint(path)
cfg = ckpt["config_obj"]
B, EP, KMAX = 32, 51, 5
env = make_vector_env(cfg.env, B, cfg.env_kwargs)
agent = Agent(env.single_observation_space, env.single_action_space, cfg)
load_model_state(agent, ckpt["model"], path)
agent.eval()
loop = EnvLoop(env, agent, torch.device("cpu"), seed=123)
state = agent.initial_state(B)
zs, mus, syms, starts, valids = [], [], [], [], []
with torch.no_grad():
    for _ in range(EP * 40):
        starts.append(loop.episode_start.clone())
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        zs.append(out.z)
        mus.append(out.dist["mu_q"])
        o = out.obs["symbol"]
        syms.append(o.argmax(-1) if o.dim() == 2 else o.long().view(-1))
        r, done, term, valid = loop.step(out.action)
        valids.append(valid.bool())
        state.prev_reward = (r * agent.reward_scale())[:, None]
Z, MU = torch.stack(zs), torch.stack(mus)
S, ST, V = torch.stack(syms), torch.stack(starts), torch.stack(valids)
T = S.shape[0]
split = int(T * 0.8)
n_sym = int(S.max()) + 1
for k in range(KMAX + 1):
    target = torch.full_like(S, -1)
    age = torch.zeros(B, dtype=torch.long)
    hist = torch.zeros(KMAX + 1, B, dtype=torch.long)
    for t in range(T):
        age = torch.where(ST[t], torch.zeros_like(age), age)
        hist = torch.roll(hist, 1, 0)
        hist[0] = S[t]
        target[t] = torch.where((age >= k) & V[t], hist[k], torch.full_like(S[t], -1))
        age = age + V[t].long()
    for name, x in (("mu_q", MU), ("z sample", Z)):
        xtr, ytr = x[:split][target[:split] >= 0], target[:split][target[:split] >= 0]
        xte, yte = x[split:][target[split:] >= 0], target[split:][target[split:] >= 0]
        lin = torch.nn.Linear(x.shape[-1], n_sym)
        opt = torch.optim.LBFGS(lin.parameters(), max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(lin(xtr), ytr)
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            acc = (lin(xte).argmax(-1) == yte).float().mean()
        print(json.dumps({"lag": k, "input": name, "heldout_accuracy": round(float(acc), 3)}))
