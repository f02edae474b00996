"""Shared test settings: one intra-op thread keeps the tiny models fast on a small shared CPU."""

import torch

torch.set_num_threads(1)
