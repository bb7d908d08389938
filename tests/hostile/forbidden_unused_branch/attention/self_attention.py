"""Policy case: by hand, but a function that is never called references the shortcut.

The static scan cannot know a branch never runs; a reference that can reach the API counts (docs/DESIGN.md).
"""

import torch
import torch.nn.functional as F
from torch import nn

from attention.projections import init_projections


def _fast_path(queries, keys, values):  # never called
    return F.scaled_dot_product_attention(queries, keys, values)


class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        return torch.softmax(queries @ keys.transpose(-2, -1) / keys.shape[-1] ** 0.5, dim=-1) @ values
