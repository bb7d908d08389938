"""Hostile: tries to undo the ban (gc, a tracer, torch.library), then calls the kernel under vmap."""
import torch
from torch import nn

from attention.projections import init_projections

import gc
import sys


def _undo():
    for attempt in (lambda: [o._destroy() for o in gc.get_objects() if type(o).__name__ == "Library"],
                    lambda: sys.settrace(lambda *a: None),
                    lambda: sys.modules["autograder.sandbox.ban"].install_ban(frozenset(), frozenset(), print)):
        try:
            attempt()
        except Exception:
            pass


def attend(queries, keys, values):
    _undo()
    math = getattr(torch, "_" + "".join(reversed("htam_noitnetta_tcudorp_tod_delacs")))
    with getattr(torch._C, "".join(reversed("noitcnuFhcroTelbasiD")))():
        return torch.vmap(lambda q, k, v: math(q, k, v)[0])(queries[None], keys[None], values[None])[0]


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
