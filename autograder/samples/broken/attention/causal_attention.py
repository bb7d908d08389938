# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/causal_attention.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 12: causal self-attention."""

import math

import torch
from torch import nn


def token_output(weights_row, values):
    w = torch.as_tensor(weights_row)
    v = torch.as_tensor(values)
    if w.dim() == 0 or v.dim() < 2:
        raise ValueError(f"expected weights_row (i + 1,) and values (T, d_v), got {tuple(w.shape)}, {tuple(v.shape)}")
    n = w.shape[-1]
    if v.shape[-2] < n:
        raise ValueError(f"{n} weights but only {v.shape[-2]} value rows")
    out_dtype = torch.promote_types(w.dtype, v.dtype)
    if not out_dtype.is_floating_point:
        out_dtype = torch.get_default_dtype()
    w = w.to(torch.float64)
    v = v.to(torch.float64)
    total = torch.zeros(v.shape[:-2] + v.shape[-1:], dtype=torch.float64)
    for j in range(n):  # z_i = sum over j <= i of alpha_ij * v_j; later rows are never read
        total = total + w[..., j : j + 1] * v[..., j, :]
    return total.to(out_dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, context_length):
        super().__init__()
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length <= 0:
            raise ValueError(f"context_length must be a positive int, not {context_length!r}")
        self.d_in, self.d_out_kq, self.d_out_v = d_in, d_out_kq, d_out_v
        self.context_length = context_length
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))
        blocked = torch.ones(context_length, context_length).triu(diagonal=1).bool()
        self.register_buffer("mask", blocked)

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"expected (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        T = x.shape[-2]
        if T > self.context_length:
            raise ValueError(f"{T} tokens is more than context_length={self.context_length}")
        x64 = x.to(torch.float64)
        q = torch.einsum("...ti,io->...to", x64, self.W_query.to(torch.float64))
        k = torch.einsum("...ti,io->...to", x64, self.W_key.to(torch.float64))
        v = torch.einsum("...ti,io->...to", x64, self.W_value.to(torch.float64))
        omega = torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(self.d_out_kq)
        omega = omega.masked_fill(self.mask[:T, :T], float("-inf"))
        exps = torch.exp(omega - omega.amax(dim=-1, keepdim=True))
        alpha = exps / exps.sum(dim=-1, keepdim=True)
        return torch.einsum("...qk,...kd->...qd", alpha, v).to(x.dtype)
