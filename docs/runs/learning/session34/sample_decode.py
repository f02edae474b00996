"""Does the written z_t carry RepeatSymbol's symbol? For each checkpoint: 10 segments of 32 envs
with sampled actions; a nearest-centroid decoder of the current symbol, fit on the first half of
the steps, scored on the second, from mu_q and from the sample z_t (what memory stores).

python docs/runs/learning/session34/sample_decode.py RUN/checkpoints/final.pt ...
"""

import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from merlin_rl.checkpoint import load_checkpoint, load_model_state
from merlin_rl.train import Trainer

torch.set_num_threads(1)
for path in sys.argv[1:]:
    ck = load_checkpoint(Path(path))
    cfg = dataclasses.replace(ck["config_obj"], num_envs=32)
    tr = Trainer(cfg, run_dir=Path(tempfile.mkdtemp()), progress=False)
    load_model_state(tr.agent, ck["model"], path)
    mus, zs, ys = [], [], []
    with torch.no_grad():
        for _ in range(10):
            for o in tr.rollout().outputs:
                mus.append(o.dist["mu_q"])
                zs.append(o.z)
                ys.append(o.obs["symbol"].argmax(-1))
    tr.env.close()
    mu, z, y = (torch.cat(x).numpy() for x in (mus, zs, ys))
    n = len(y) // 2

    def accuracy(x: np.ndarray) -> float:
        centroids = np.stack([x[:n][y[:n] == k].mean(0) for k in range(int(y.max()) + 1)])
        pred = ((x[n:, None, :] - centroids[None]) ** 2).sum(-1).argmin(1)
        return float((pred == y[n:]).mean())

    w = ck["config_obj"].discrete_weight
    print(f"{path}: weight {w} from mu_q {accuracy(mu):.3f} from the sample {accuracy(z):.3f}")
