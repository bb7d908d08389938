"""Hostile: the shortcut bound in attention/__init__.py (run-time name), imported by the step."""
import torch
from torch import nn

from attention.projections import init_projections
from attention import attend


class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_in = d_in
        self.W_query, self.W_key, self.W_value = init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"x must have shape (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        return attend(queries, keys, values)
