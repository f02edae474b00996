"""Is MERLIN's policy input the bottleneck on RepeatSymbol? A supervised probe.

Acts with a trained MERLIN checkpoint on RepeatSymbol (its own sampling policy), records per step
the sampled z_t, the posterior mean mu_q and the observed symbol, then trains fresh LSTMs of the
policy's size (2 x 64, a linear read-out) by cross-entropy to output the symbol seen k = 4 steps
earlier, with the same truncation (tau = 20, state carried) as the learner, from each input:
the sample z_t, mu_q, and the one-hot symbol (a clean input, what RL-LSTM's encoder can learn).
Prints the held-out accuracy after each block of steps as JSON lines.

    python docs/runs/learning/calibration8/probe_input.py runs/calibration8/rs_def/checkpoints/final.pt
"""

import json
import sys

import torch
import torch.nn.functional as F

from merlin_rl.acting import EnvLoop
from merlin_rl.agent import Agent
from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.envs import make_vector_env
from merlin_rl.nn_utils import DeepLSTM

torch.manual_seed(0)
path = sys.argv[1]
ckpt = load_checkpoint(path)
cfg = ckpt["config_obj"]
B, EP, K, TAU = 32, 51, 4, 20
env = make_vector_env(cfg.env, B, cfg.env_kwargs)
agent = Agent(env.single_observation_space, env.single_action_space, cfg)
load_model_state(agent, ckpt["model"], path)
agent.eval()
loop = EnvLoop(env, agent, torch.device("cpu"), seed=123)
state = agent.initial_state(B)
zs, mus, syms, starts, valids = [], [], [], [], []
with torch.no_grad():
    for _ in range(EP * 120):
        starts.append(loop.episode_start.clone())
        state = state.reset(loop.episode_start)
        out, state = agent.step(loop.obs, state)
        zs.append(out.z)
        mus.append(out.dist["mu_q"])
        o = out.obs["symbol"]
        syms.append(o.argmax(-1) if o.dim() == 2 else o.long().view(-1))  # one-hot or index
        r, done, term, valid = loop.step(out.action)
        valids.append(valid.bool())
        state.prev_reward = (r * agent.reward_scale())[:, None]
Z, MU = torch.stack(zs), torch.stack(mus)  # (T, B, |z|)
S, ST, V = torch.stack(syms), torch.stack(starts), torch.stack(valids)
T = S.shape[0]
# target: the symbol observed K valid steps earlier in the same episode (-1: none)
target = torch.full_like(S, -1)
age = torch.zeros(B, dtype=torch.long)
hist = torch.zeros(K + 1, B, dtype=torch.long)
for t in range(T):
    age = torch.where(ST[t], torch.zeros_like(age), age)
    hist = torch.roll(hist, 1, 0)
    hist[0] = S[t]
    target[t] = torch.where((age >= K) & V[t], hist[K], torch.full_like(S[t], -1))
    age = age + V[t].long()
onehot = F.one_hot(S, int(S.max()) + 1).float()
split = int(T * 0.8) // TAU * TAU


def probe(x: torch.Tensor, name: str, steps: int = 1500) -> None:
    lstm = DeepLSTM(x.shape[-1], 64, 2)
    head = torch.nn.Linear(lstm.out_dim, int(S.max()) + 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=2e-3)

    def run(lo, hi, h, c, grad):
        logits = []
        with torch.set_grad_enabled(grad):
            for t in range(lo, hi):
                m = ST[t].view(-1, 1, 1)
                h, c = torch.where(m, 0.0, h), torch.where(m, 0.0, c)
                hc, h, c = lstm(x[t], h, c)
                logits.append(head(hc))
        return torch.stack(logits), h, c

    h = c = torch.zeros(B, 2, 64)
    pos, step = 0, 0
    while step < steps:
        logits, h, c = run(pos, pos + TAU, h.detach(), c.detach(), True)
        y = target[pos : pos + TAU]
        loss = F.cross_entropy(logits[y >= 0], y[y >= 0])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        pos = pos + TAU if pos + 2 * TAU <= split else 0
        if step % 250 == 0:
            with torch.no_grad():
                lg, _, _ = run(split, T, torch.zeros(B, 2, 64), torch.zeros(B, 2, 64), False)
                y = target[split:]
                acc = (lg.argmax(-1)[y >= 0] == y[y >= 0]).float().mean()
            print(
                json.dumps({"input": name, "steps": step, "heldout_accuracy": round(float(acc), 3)})
            )


for name, x in (("z sample", Z), ("mu_q", MU), ("one-hot symbol", onehot)):
    probe(x, name)
