"""Not hostile: self-attention by hand; the forbidden APIs are only named (docstrings, comments, text).

Softmax of the scores, by hand (not F.scaled_dot_product_attention, not torch.nn.MultiheadAttention).
"""

import torch
from torch import nn

from attention.projections import init_projections

NOTE = "checked against torch.nn.functional.scaled_dot_product_attention by the course"


class SelfAttention(nn.Module):
    """Like torch.nn.MultiheadAttention with one head, but written out."""

    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x):
        """Same numbers as F.scaled_dot_product_attention(q, k, v)."""
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        # F.scaled_dot_product_attention(queries, keys, values) would do all of this at once
        "aten::scaled_dot_product_attention is what torch would dispatch to"
        return torch.softmax(queries @ keys.transpose(-2, -1) / keys.shape[-1] ** 0.5, dim=-1) @ values
