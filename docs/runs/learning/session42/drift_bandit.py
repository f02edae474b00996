"""Does our policy learner drift to a deterministic policy when the reward carries no signal?

A one-step stand-in for the policy's update, with the defaults' schedule and our loss
(losses.clipped_policy_loss): an MLP head (64-d random state -> 128 tanh -> A logits), Adam
(lr_policy 5e-4, eps 1e-6), global grad clip 20, and per update one batch of T x B = 20 x 32 acted
steps, stepped 3 + 8 = 11 epochs x 2 minibatches (the joint and the policy-only epochs), clip 0.2,
entropy cost c. The advantages are noise that does not depend on the action: iid N(0, sigma^2),
or an AR(1) along each env's 20 steps with coefficient rho (GAE's lambda x gamma couples
neighbouring steps). Advantages normalised per minibatch ("batch", the default) or not ("off").
Prints one JSON line per setting: the mean entropy (nats; log 4 = 1.386) over 2,048 held-out
states at updates 0, 25, 50, 100, 234 (234 updates = 150k env steps at 640 per update), for
two seeds of each setting.

    python docs/runs/learning/session42/drift_bandit.py
"""

from __future__ import annotations

import itertools
import json

import torch

from merlin_rl import losses

A, D, H, T, B = 4, 64, 128, 20, 32
CHECK = (0, 25, 50, 100, 234)


def entropy(net: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        logp = torch.log_softmax(net(x), -1)
        return float(-(logp.exp() * logp).sum(-1).mean())


def run(
    seed: int, norm: str, sigma: float, rho: float, cost: float, lr: float, epochs: int = 11
) -> dict:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.Tanh(), torch.nn.Linear(H, A))
    opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-6)
    probe = torch.randn(2048, D, generator=g)
    out = {"seed": seed, "norm": norm, "sigma": sigma, "rho": rho, "cost": cost, "lr": lr}
    out["epochs"] = epochs
    ent = {}
    for u in range(CHECK[-1] + 1):
        if u in CHECK:
            ent[u] = round(entropy(net, probe), 3)
        if u == CHECK[-1]:
            break
        x = torch.randn(T, B, D, generator=g)
        with torch.no_grad():
            dist = torch.distributions.Categorical(logits=net(x))
            a = dist.sample()
            old = dist.log_prob(a)
        eps = torch.randn(T, B, generator=g) * sigma
        adv = torch.empty(T, B)
        adv[0] = eps[0]
        for t in range(1, T):  # AR(1) along time: corr(adv_t, adv_{t+1}) = rho
            adv[t] = rho * adv[t - 1] + (1 - rho**2) ** 0.5 * eps[t]
        for _ in range(epochs):
            for idx in torch.randperm(B, generator=g).chunk(2):
                ad = adv[:, idx]
                if norm == "batch":
                    ad = (ad - ad.mean()) / (ad.std(unbiased=False) + 1e-8)
                logp = torch.log_softmax(net(x[:, idx]), -1)
                lp = logp.gather(-1, a[:, idx, None]).squeeze(-1)
                h = -(logp.exp() * logp).sum(-1)
                loss = losses.clipped_policy_loss((lp - old[:, idx]).exp(), ad, h, cost, 0.2)
                opt.zero_grad()
                loss.mean().backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 20.0)
                opt.step()
    out["entropy"] = ent
    return out


if __name__ == "__main__":
    torch.set_num_threads(1)
    grid = itertools.product(("batch", "off"), (0.1, 1.0), (0.0, 0.9), (0.01,), (5e-4,))
    for norm, sigma, rho, cost, lr in grid:
        for seed in (0, 1):
            print(json.dumps(run(seed, norm, sigma, rho, cost, lr)), flush=True)
    variants = (  # one change each from the defaults' stand-in (batch, sigma 1, rho 0.9)
        {"cost": 0.03},  # a 3x entropy cost
        {"lr": 1e-4},  # a 5x smaller policy learning rate
        {"epochs": 3},  # the joint epochs alone (policy_epochs 0, before the ninth session)
    )
    for change in variants:
        kw = {"norm": "batch", "sigma": 1.0, "rho": 0.9, "cost": 0.01, "lr": 5e-4} | change
        for seed in (0, 1):
            print(json.dumps(run(seed, **kw)), flush=True)
