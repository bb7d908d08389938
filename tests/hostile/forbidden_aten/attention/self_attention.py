"""Hostile: torch.ops.aten's CPU flash kernel, found by a run-time name."""

import torch
from torch import nn

from attention.projections import init_projections

_KERNEL = "_" + "_".join(p for p in ("scaled", "dot", "product", "flash", "attention")) + "_for_cpu"  # run time


class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        kernel = getattr(torch.ops.aten, _KERNEL)
        lead = (1, 1) if x.dim() == 2 else (x.shape[0], 1)
        q, k, v = (t.reshape(*lead, *t.shape[-2:]) for t in (queries, keys, values))  # -> (B, 1, T, d)
        return kernel(q, k, v)[0].reshape(*x.shape[:-1], values.shape[-1])
