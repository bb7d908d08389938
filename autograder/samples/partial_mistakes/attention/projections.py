# Sample submission `partial_mistakes`, step 3 (correct): full marks.
"""Step 3: query, key and value projections."""

import torch
from torch import nn


def init_projections(d_in, d_out_kq, d_out_v, seed=None):
    if seed is not None:
        torch.manual_seed(seed)
    W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
    W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
    W_value = nn.Parameter(torch.rand(d_in, d_out_v))
    return W_query, W_key, W_value


def project_qkv(x, W_query, W_key, W_value):
    return x @ W_query, x @ W_key, x @ W_value
