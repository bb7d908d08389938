"""Hostile: F.multi_head_attention_forward, called and its result thrown away."""

import torch
from torch import nn

from attention.projections import init_projections

_MHA = "_".join(p for p in ("multi", "head", "attention", "forward"))

class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        t = queries.reshape(-1, queries.shape[-1])[:, None]  # (N, d) -> (N, 1, d)
        d = t.shape[-1]
        getattr(torch.nn.functional, _MHA)(t, t, t, d, 1, torch.eye(d).repeat(3, 1), None, None, None, False,
                                          0.0, torch.eye(d), None, need_weights=False)
        return torch.softmax(queries @ keys.transpose(-2, -1) / keys.shape[-1] ** 0.5, dim=-1) @ values
