"""Hostile: nn.MultiheadAttention (plain ops in torch when weights are asked for), found by a run-time name,
with torch-function modes switched off."""
import torch
from torch import nn

from attention.projections import init_projections


def attend(queries, keys, values):
    with getattr(torch._C, "".join(reversed("noitcnuFhcroTelbasiD")))():
        cls = getattr(nn, "".join(reversed("noitnettAdaehitluM")))
        batched = [t if t.dim() == 3 else t[None] for t in (queries, keys, values)]
        mha = cls(queries.shape[-1], 1, bias=False, batch_first=True, kdim=keys.shape[-1], vdim=values.shape[-1])
        _, weights = mha(*batched, need_weights=True)
    return (weights @ batched[2]).reshape(*queries.shape[:-1], values.shape[-1])


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
