"""Reference returns without memory for two POPGym tasks (forty-third session).

HigherLowerEasy: guess "higher" (action 0) when the card in view ranks below the middle (rank
index < 6 of 13), else "lower": the best policy that sees only the card in view (no counting).
MultiarmedBanditEasy: the oracle that knows the arms and pulls the best: E[2 max(U_1..U_10) - 1]
= 2 * 10/11 - 1 = 0.818 (the arms' payout chances are uniform on [0, 1]; +-1/200 a step).
Same seeds as random_returns.py (1000-1299).
"""

import json

import gymnasium as gym
import numpy as np
import popgym  # noqa: F401

env = gym.make("popgym-HigherLowerEasy-v0")
rets = []
for i in range(300):
    obs, _ = env.reset(seed=1000 + i)
    total, done = 0.0, False
    while not done:
        obs, r, te, tr, _ = env.step(0 if int(obs) < 6 else 1)
        total += float(r)
        done = te or tr
    rets.append(total)
r = np.asarray(rets)
print(
    json.dumps(
        {
            "env": "popgym-HigherLowerEasy-v0",
            "memoryless_greedy": round(float(r.mean()), 4),
            "stderr": round(float(r.std(ddof=1) / np.sqrt(len(r))), 4),
        }
    )
)
print(json.dumps({"env": "popgym-MultiarmedBanditEasy-v0", "oracle": round(2 * 10 / 11 - 1, 4)}))
