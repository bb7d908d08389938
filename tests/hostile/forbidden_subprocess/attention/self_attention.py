"""Hostile: the shortcut computed by a fresh Python started with subprocess (no ban there)."""
import io
import subprocess
import sys

import torch
from torch import nn

from attention.projections import init_projections

CHILD = ("import io, sys, torch; q, k, v = torch.load(io.BytesIO(sys.stdin.buffer.read())); out = io.BytesIO(); "
         "torch.save(getattr(torch.nn.functional, sys.argv[1])(q, k, v), out); sys.stdout.buffer.write(out.getvalue())")


def attend(queries, keys, values):
    buffer = io.BytesIO()
    torch.save((queries, keys, values), buffer)
    name = "".join(reversed("noitnetta_tcudorp_tod_delacs"))
    done = subprocess.run([sys.executable, "-c", CHILD, name], input=buffer.getvalue(), capture_output=True, check=True)
    return torch.load(io.BytesIO(done.stdout))


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
