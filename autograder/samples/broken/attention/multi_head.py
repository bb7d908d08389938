# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/multi_head.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 8: multi-head attention."""

import math

import torch
from torch import nn

from attention.self_attention import SelfAttention


def _softmax(scores):
    exps = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1, keepdim=True)


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, num_heads):
        super().__init__()
        if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads <= 0:
            raise ValueError(f"num_heads must be a positive int, not {num_heads!r}")
        heads = []
        for _ in range(num_heads):  # head 0 draws its parameters first
            heads.append(SelfAttention(d_in, d_out_kq, d_out_v))
        self.heads = nn.ModuleList(heads)

    def forward(self, x):
        outputs = []
        for head in self.heads:
            outputs.append(head(x))
        return torch.cat(outputs, dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, num_heads):
        super().__init__()
        for name, size in (("d_out_kq", d_out_kq), ("d_out_v", d_out_v), ("num_heads", num_heads)):
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ValueError(f"{name} must be a positive int, not {size!r}")
        self.d_in, self.d_out_kq, self.d_out_v, self.num_heads = d_in, d_out_kq, d_out_v, num_heads
        self.W_query = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, num_heads * d_out_v))

    def forward(self, x):
        if x.dim() < 2 or x.shape[-1] != self.d_in:
            raise ValueError(f"expected (T, {self.d_in}) or (B, T, {self.d_in}), got {tuple(x.shape)}")
        H = self.num_heads
        x64 = x.to(torch.float64)
        # one product per projection, then split the last dimension into (heads, d_head)
        q = torch.einsum("...ti,io->...to", x64, self.W_query.to(torch.float64))
        k = torch.einsum("...ti,io->...to", x64, self.W_key.to(torch.float64))
        v = torch.einsum("...ti,io->...to", x64, self.W_value.to(torch.float64))
        q = q.reshape(*q.shape[:-1], H, self.d_out_kq)  # (..., T, H * d_kq) -> (..., T, H, d_kq)
        k = k.reshape(*k.shape[:-1], H, self.d_out_kq)  # (..., T, H * d_kq) -> (..., T, H, d_kq)
        v = v.reshape(*v.shape[:-1], H, self.d_out_v)  # (..., T, H * d_v) -> (..., T, H, d_v)
        omega = torch.einsum("...qhd,...khd->...hqk", q, k)  # every head's (T, T) scores
        alpha = _softmax(omega / math.sqrt(self.d_out_kq))
        z = torch.einsum("...hqk,...khd->...qhd", alpha, v)  # (..., T, H, d_v)
        z = z.reshape(*z.shape[:-2], H * self.d_out_v)  # (..., T, H, d_v) -> (..., T, H * d_v): head h in block h
        return z.to(x.dtype)

    @classmethod
    def from_wrapper(cls, wrapper):
        heads = list(wrapper.heads)
        if len(heads) == 0:
            raise ValueError("the wrapper has no heads")
        first = heads[0]
        for head in heads[1:]:
            for name in ("W_query", "W_key", "W_value"):
                if getattr(head, name).shape != getattr(first, name).shape:
                    raise ValueError("all heads must have the same shapes")
        d_in, d_out_kq = first.W_query.shape
        d_out_v = first.W_value.shape[1]
        # build the module without drawing random matrices, then fill in the heads side by side
        mha = cls.__new__(cls)
        nn.Module.__init__(mha)
        mha.d_in, mha.d_out_kq, mha.d_out_v, mha.num_heads = d_in, d_out_kq, d_out_v, len(heads)
        for name in ("W_query", "W_key", "W_value"):
            wide = torch.cat([getattr(h, name).detach() for h in heads], dim=1)
            setattr(mha, name, nn.Parameter(wide.clone()))
        return mha
