# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/projections.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 3: query, key and value projections."""

import torch
from torch import nn


def init_projections(d_in, d_out_kq, d_out_v, seed=None):
    """W_query, W_key (d_in, d_out_kq) and W_value (d_in, d_out_v): nn.Parameters from torch.rand."""
    for name, size in (("d_in", d_in), ("d_out_kq", d_out_kq), ("d_out_v", d_out_v)):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"{name} must be a positive int, not {size!r}")
    if seed is not None:
        torch.manual_seed(seed)
    shapes = [(d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v)]  # drawn in this order
    W_query, W_key, W_value = [nn.Parameter(torch.rand(*shape)) for shape in shapes]
    return W_query, W_key, W_value


def project_qkv(x, W_query, W_key, W_value):
    """(queries, keys, values) = x @ W for each matrix, via einsum over the input dimension."""
    results = []
    for name, W in (("W_query", W_query), ("W_key", W_key), ("W_value", W_value)):
        if x.dim() == 0 or W.dim() != 2 or W.shape[0] != x.shape[-1]:
            raise ValueError(f"cannot project x of shape {tuple(x.shape)} with {name} of shape {tuple(W.shape)}")
        results.append(torch.einsum("...i,io->...o", x, W))
    return tuple(results)
